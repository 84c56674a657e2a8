/**
 * BertForQuestionAnswering, top to bottom: embeddings (word + token type + position, LayerNorm, dropout) →
 * self-attention → output projection + LayerNorm → intermediate/output FFN + LayerNorm → QA head, as transformers'
 * modeling_bert (no pooler: the QA model is built with add_pooling_layer=False). The embeddings and the layer are
 * exported: RoBERTa and ELECTRA run the same ones under their own prefixes, ALBERT the same embeddings.
 */
import * as tf from '@tensorflow/tfjs-core';
import { robertaPositions, type BertLikeConfig } from './config-bert.js';
import { linearShapes, normShapes, type Family } from './family-spec.js';
import type { InputSpec, ModelInputs } from './inputs.js';
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

/** The inputs of a BERT-style family: token types always (RoBERTa's table has one row), RoBERTa's positions. */
export function bertInputs(c: BertLikeConfig): InputSpec {
  return { ...c, positions: robertaPositions(c.modelType) ? 'roberta' : 'absolute' };
}

/** Word, position and token type tables [·, E] and their LayerNorm at `prefix` (e.g. `bert.embeddings`). */
export function embeddingShapes(s: Map<string, number[]>, prefix: string, c: BertLikeConfig): void {
  s.set(`${prefix}.word_embeddings.weight`, [c.vocabSize, c.embeddingSize]);
  s.set(`${prefix}.position_embeddings.weight`, [c.positionTableSize, c.embeddingSize]);
  s.set(`${prefix}.token_type_embeddings.weight`, [c.typeVocabSize, c.embeddingSize]);
  normShapes(s, `${prefix}.LayerNorm`, c.embeddingSize);
}

/** LayerNorm(words + token types + positions), then dropout: [B, T, E]. */
export function embeddings(
  c: BertLikeConfig,
  p: Params,
  prefix: string,
  inp: ModelInputs,
  ctx: DropoutContext,
): tf.Tensor3D {
  const [b, t, e] = [inp.batch, inp.seqLen, c.embeddingSize];
  if (inp.typeIds === null) throw new Error('BERT-style embeddings need token type ids'); // bertInputs always builds them
  const words = embedding(param(p, `${prefix}.word_embeddings.weight`), inp.ids, inp.notPad, [b, t, e]); // [B, T, E]
  const types = embedding(param(p, `${prefix}.token_type_embeddings.weight`), inp.typeIds, null, [b, t, e]); // [B, T, E]
  const table = param<tf.Tensor2D>(p, `${prefix}.position_embeddings.weight`);
  // RoBERTa's position table has padding_idx too: padding tokens look up that row, which gets no gradient
  const pos = robertaPositions(c.modelType)
    ? embedding(table, inp.positions, inp.notPad, [b, t, e]) // [B, T, E]
    : embedding(table, inp.positions, null, [t, e]); // [T, E]
  const x = layerNorm(tf.add(words, types) as tf.Tensor3D, pos, p, `${prefix}.LayerNorm`, c.layerNormEps); // [B, T, E]
  return maybeDropout(x, c.hiddenDropout, ctx);
}

/** One encoder layer's parameters at `l` (e.g. `bert.encoder.layer.0`). */
export function layerShapes(s: Map<string, number[]>, l: string, c: BertLikeConfig): void {
  for (const m of ['query', 'key', 'value']) linearShapes(s, `${l}.attention.self.${m}`, c.dim, c.dim);
  linearShapes(s, `${l}.attention.output.dense`, c.dim, c.dim);
  normShapes(s, `${l}.attention.output.LayerNorm`, c.dim);
  linearShapes(s, `${l}.intermediate.dense`, c.dim, c.hiddenDim);
  linearShapes(s, `${l}.output.dense`, c.hiddenDim, c.dim);
  normShapes(s, `${l}.output.LayerNorm`, c.dim);
}

/** BertLayer: post-LayerNorm self-attention and FFN blocks, each output dropped out before its residual. */
export function layer(
  c: BertLikeConfig,
  x: tf.Tensor3D,
  p: Params,
  l: string,
  inp: ModelInputs,
  ctx: DropoutContext,
): tf.Tensor3D {
  const s = `${l}.attention.self`;
  const attn = {
    query: `${s}.query`,
    key: `${s}.key`,
    value: `${s}.value`,
    heads: c.nHeads,
    dropout: c.attentionDropout,
  };
  const a = maybeDropout(
    dense(selfAttention(x, p, attn, inp, ctx), p, `${l}.attention.output.dense`),
    c.hiddenDropout,
    ctx,
  ); // [B, T, D]
  const y = layerNorm(a, x, p, `${l}.attention.output.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = maybeDropout(
    feedForward(y, p, `${l}.intermediate.dense`, `${l}.output.dense`, c.activation),
    c.hiddenDropout,
    ctx,
  ); // [B, T, D]
  return layerNorm(f, y, p, `${l}.output.LayerNorm`, c.layerNormEps);
}

/** A BERT-architecture QA model under `prefix` (`bert`, `roberta`): embeddings, `nLayers` layers, QA head. */
export function bertArchitecture(
  c: BertLikeConfig,
  prefix: string,
  otherHeads: RegExp,
  paddedTables: readonly string[],
): Family {
  return {
    inputs: bertInputs(c),
    prefix,
    otherHeads,
    paddedTables: [`${prefix}.embeddings.word_embeddings.weight`, ...paddedTables],
    shapes() {
      const s = new Map<string, number[]>();
      embeddingShapes(s, `${prefix}.embeddings`, c);
      for (let i = 0; i < c.nLayers; i++) layerShapes(s, `${prefix}.encoder.layer.${i}`, c);
      return s;
    },
    logits(p, inp, ctx) {
      const x = stack(
        () => embeddings(c, p, `${prefix}.embeddings`, inp, ctx),
        c.nLayers,
        (h, i) => layer(c, h, p, `${prefix}.encoder.layer.${i}`, inp, ctx),
      );
      const out = qaHead(x, p, inp, 0, ctx);
      x.dispose();
      return out;
    },
  };
}

export function bertFamily(c: BertLikeConfig): Family {
  return bertArchitecture(c, 'bert', /^(cls|classifier)\.|^(bert\.)?pooler\.|position_ids$|token_type_ids$/, []);
}
