/**
 * DistilBertForQuestionAnswering, top to bottom: embeddings → attention → FFN → block → model → QA head. Written
 * in the natural formulation (batched matMul, softmax, erf-GELU, LayerNorm eps 1e-12, masked attention scores at
 * the float32 minimum), as Hugging Face's modeling_distilbert does, out of the shared pieces of layers.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DistilBertConfig } from './config.js';
import { linearShapes, normShapes, type Family } from './family-spec.js';
import type { ModelInputs } from './inputs.js';
import {
  dense,
  feedForward,
  layerNorm,
  maybeDropout,
  param,
  selfAttention,
  stack,
  type DropoutContext,
  type Params,
} from './layers.js';
import { qaHead } from './qa-head.js';
import { embedding } from './fused-ops.js';

/**
 * Every LayerNorm's eps: modeling_distilbert fixes it (DistilBertConfig has no layer_norm_eps); the ONNX graph reads it
 * here.
 */
export const LAYER_NORM_EPS = 1e-12;
const WORDS = 'distilbert.embeddings.word_embeddings.weight';

function shapes(c: DistilBertConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  s.set(WORDS, [c.vocabSize, c.dim]);
  s.set('distilbert.embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, c.dim]);
  normShapes(s, 'distilbert.embeddings.LayerNorm', c.dim);
  for (let i = 0; i < c.nLayers; i++) {
    const l = `distilbert.transformer.layer.${i}`;
    for (const lin of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) linearShapes(s, `${l}.attention.${lin}`, c.dim, c.dim);
    normShapes(s, `${l}.sa_layer_norm`, c.dim);
    linearShapes(s, `${l}.ffn.lin1`, c.dim, c.hiddenDim);
    linearShapes(s, `${l}.ffn.lin2`, c.hiddenDim, c.dim);
    normShapes(s, `${l}.output_layer_norm`, c.dim);
  }
  return s;
}

function embeddings(c: DistilBertConfig, p: Params, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const words = embedding(param(p, WORDS), inp.ids, inp.notPad, [inp.batch, inp.seqLen, c.dim]); // [B, T, D]
  const pos = embedding(param(p, 'distilbert.embeddings.position_embeddings.weight'), inp.positions, null, [
    inp.seqLen,
    c.dim,
  ]); // [T, D]
  const x = layerNorm(words as tf.Tensor3D, pos, p, 'distilbert.embeddings.LayerNorm', LAYER_NORM_EPS); // [B, T, D]
  return maybeDropout(x, c.dropout, ctx);
}

function block(
  c: DistilBertConfig,
  x: tf.Tensor3D,
  p: Params,
  i: number,
  inp: ModelInputs,
  ctx: DropoutContext,
): tf.Tensor3D {
  const l = `distilbert.transformer.layer.${i}`;
  const attn = {
    query: `${l}.attention.q_lin`,
    key: `${l}.attention.k_lin`,
    value: `${l}.attention.v_lin`,
    heads: c.nHeads,
    dropout: c.attentionDropout,
  };
  const a = dense(selfAttention(x, p, attn, inp, ctx), p, `${l}.attention.out_lin`); // [B, T, D]
  const y = layerNorm(a, x, p, `${l}.sa_layer_norm`, LAYER_NORM_EPS); // [B, T, D]
  const f = maybeDropout(feedForward(y, p, `${l}.ffn.lin1`, `${l}.ffn.lin2`, c.activation), c.dropout, ctx); // [B, T, D]
  return layerNorm(f, y, p, `${l}.output_layer_norm`, LAYER_NORM_EPS);
}

export function distilBertFamily(c: DistilBertConfig): Family {
  return {
    inputs: { ...c, typeVocabSize: 0, positions: 'absolute' },
    prefix: 'distilbert',
    otherHeads: /^(vocab_transform|vocab_layer_norm|vocab_projector|pre_classifier|classifier)\.|position_ids$/,
    paddedTables: [WORDS],
    shapes: () => shapes(c),
    logits(p, inp, ctx) {
      const x = stack(
        () => embeddings(c, p, inp, ctx),
        c.nLayers,
        (h, i) => block(c, h, p, i, inp, ctx),
      ); // [B, T, D]
      const out = qaHead(x, p, inp, c.qaDropout, ctx);
      x.dispose();
      return out;
    },
  };
}
