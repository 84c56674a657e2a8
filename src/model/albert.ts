/**
 * AlbertForQuestionAnswering: BERT's embeddings at the embedding width E (bert.ts), the factorized projection
 * `encoder.embedding_hidden_mapping_in` (E → D), then `num_hidden_layers` applications of the shared layer groups —
 * layer i runs group ⌊i / (layers / groups)⌋, each group its `inner_group_num` layers in turn, the same weights
 * every time (their gradients add up on the tape) — and the QA head. Each ALBERT layer is BERT's with other
 * names and no dropout after the FFN (transformers defines it but does not apply it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BertLikeConfig } from './config-bert.js';
import { bertInputs, embeddings, embeddingShapes } from './bert.js';
import { linearShapes, normShapes, type Family } from './family-spec.js';
import type { ModelInputs } from './inputs.js';
import {
  dense,
  feedForward,
  layerNorm,
  maybeDropout,
  selfAttention,
  stack,
  type DropoutContext,
  type Params,
} from './layers.js';
import { qaHead } from './qa-head.js';

const GROUPS = 'albert.encoder.albert_layer_groups';

/** The module prefix of inner layer `j` of shared group `g`. */
function groupLayer(g: number, j: number): string {
  return `${GROUPS}.${g}.albert_layers.${j}`;
}

/**
 * The module prefix of every layer run in order, num_hidden_layers × inner_group_num of them: run k is layer
 * i = ⌊k / inner⌋ of the stack, which runs group ⌊i / (layers / groups)⌋ (config-bert checks it divides), inner
 * layer k mod inner of that group, as transformers' AlbertTransformer. The ONNX graph (src/onnx/albert.ts) runs
 * the same list.
 */
export function albertLayerRuns(c: BertLikeConfig): string[] {
  const perGroup = c.nLayers / c.numHiddenGroups;
  return Array.from({ length: c.nLayers * c.innerGroupNum }, (_, k) => {
    const i = Math.floor(k / c.innerGroupNum); // the layer of the stack
    return groupLayer(Math.floor(i / perGroup), k % c.innerGroupNum);
  });
}

function layerShapes(s: Map<string, number[]>, l: string, c: BertLikeConfig): void {
  for (const m of ['query', 'key', 'value', 'dense']) linearShapes(s, `${l}.attention.${m}`, c.dim, c.dim);
  normShapes(s, `${l}.attention.LayerNorm`, c.dim);
  linearShapes(s, `${l}.ffn`, c.dim, c.hiddenDim);
  linearShapes(s, `${l}.ffn_output`, c.hiddenDim, c.dim);
  normShapes(s, `${l}.full_layer_layer_norm`, c.dim);
}

/** AlbertLayer at `l` (e.g. `…albert_layer_groups.0.albert_layers.0`). */
function layer(
  c: BertLikeConfig,
  x: tf.Tensor3D,
  p: Params,
  l: string,
  inp: ModelInputs,
  ctx: DropoutContext,
): tf.Tensor3D {
  const attn = {
    query: `${l}.attention.query`,
    key: `${l}.attention.key`,
    value: `${l}.attention.value`,
    heads: c.nHeads,
    dropout: c.attentionDropout,
  };
  const a = maybeDropout(dense(selfAttention(x, p, attn, inp, ctx), p, `${l}.attention.dense`), c.hiddenDropout, ctx); // [B, T, D]
  const y = layerNorm(a, x, p, `${l}.attention.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = feedForward(y, p, `${l}.ffn`, `${l}.ffn_output`, c.activation); // [B, T, D]
  return layerNorm(f, y, p, `${l}.full_layer_layer_norm`, c.layerNormEps);
}

export function albertFamily(c: BertLikeConfig): Family {
  const runs = albertLayerRuns(c);
  return {
    inputs: bertInputs(c),
    prefix: 'albert',
    otherHeads: /^(predictions|sop_classifier|classifier)\.|^(albert\.)?pooler\.|position_ids$|token_type_ids$/,
    paddedTables: ['albert.embeddings.word_embeddings.weight'],
    shapes() {
      const s = new Map<string, number[]>();
      embeddingShapes(s, 'albert.embeddings', c);
      linearShapes(s, 'albert.encoder.embedding_hidden_mapping_in', c.embeddingSize, c.dim);
      for (let g = 0; g < c.numHiddenGroups; g++) {
        for (let j = 0; j < c.innerGroupNum; j++) layerShapes(s, groupLayer(g, j), c);
      }
      return s;
    },
    logits(p, inp, ctx) {
      const embed = () =>
        dense(embeddings(c, p, 'albert.embeddings', inp, ctx), p, 'albert.encoder.embedding_hidden_mapping_in'); // [B, T, D]
      const x = stack(embed, runs.length, (h, k) => layer(c, h, p, runs[k] as string, inp, ctx)); // [B, T, D]
      const out = qaHead(x, p, inp, 0, ctx);
      x.dispose();
      return out;
    },
  };
}
