/**
 * DebertaV2ForQuestionAnswering (DeBERTa-v2 and -v3), top to bottom: embeddings (words [+ absolute positions] [+ token
 * types] [→ embed_proj], LayerNorm, zeroed at padding) → disentangled self-attention → output projection + LayerNorm →
 * FFN + LayerNorm → QA head, as transformers' modeling_deberta_v2.
 *
 * Disentangled attention adds to the content scores q·kᵀ two relative-position terms, all divided by √(dh·3):
 * content→position c2p[i, j] = q_i · Kr[δ(i − j)] and position→content p2c[i, j] = k_j · Qr[δ′(j − i)], where Kr, Qr
 * are the (LayerNormed, dropped-out) relative embeddings through key_proj/query_proj (shared keys, as v3) or
 * pos_key_proj/pos_query_proj, and δ is the log-bucketed, clamped relative distance. transformers projects the whole
 * table and gathers [T, T] scores from it; here the 2T − 1 rows the distances need are gathered first (row selection
 * commutes with the projection), projected, multiplied per head into [B, H, T, 2T − 1], and skewed into [B, H, T, T]
 * (row i of the result starts T − 1 − i columns in; fused-ops.ts `skewRelative`): gathers, matMuls and reshapes, all
 * kernels the engine already has.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionSpan, type DebertaV2Config } from './config-deberta.js';
import { linearShapes, normShapes, type Family } from './family-spec.js';
import type { ModelInputs } from './inputs.js';
import {
  activeDropout,
  dense,
  feedForward,
  layerNorm,
  maybeDropout,
  param,
  stack,
  type DropoutContext,
  type Params,
} from './layers.js';
import { qaHead } from './qa-head.js';
import { addLayerNorm, attention, embedding, linear, skewRelative } from './fused-ops.js';

const P = 'deberta';
const WORDS = `${P}.embeddings.word_embeddings.weight`;

/**
 * transformers' make_log_bucket_position for one relative distance `d`: exact within ±buckets/2, log-spaced
 * beyond up to `maxPosition`. Its float32 arithmetic is reproduced step by step (Math.fround), so the bucket
 * boundaries fall where PyTorch puts them.
 */
export function bucketPosition(d: number, buckets: number, maxPosition: number): number {
  if (buckets <= 0 || maxPosition <= 0) return d;
  const mid = Math.floor(buckets / 2);
  const abs = d < mid && d > -mid ? mid - 1 : Math.abs(d);
  if (abs <= mid) return d;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(abs / mid))) / f(Math.log(f((maxPosition - 1) / mid))));
  return Math.sign(d) * (Math.ceil(f(ratio * (mid - 1))) + mid);
}

/**
 * Rows of the relative table for the skewed layout, k = 0 … 2T − 2 standing for distance i − j = T − 1 − k:
 * c2p reads row clamp(δ + span), p2c row clamp(−δ + span), δ the bucketed distance.
 */
function relativeRows(c: DebertaV2Config, t: number): { c2p: Int32Array; p2c: Int32Array } {
  const span = attentionSpan(c);
  const clamp = (r: number): number => Math.min(Math.max(r, 0), 2 * span - 1);
  const c2p = new Int32Array(2 * t - 1);
  const p2c = new Int32Array(2 * t - 1);
  for (let k = 0; k < 2 * t - 1; k++) {
    const delta = bucketPosition(t - 1 - k, c.positionBuckets, c.maxRelativePositions);
    c2p[k] = clamp(delta + span);
    p2c[k] = clamp(-delta + span);
  }
  return { c2p, p2c };
}

/**
 * Per-head products of content [B, T, D] with relative rows [W, D]: [H, B, T, W] (heads leading, as the matMul gives
 * them).
 */
function headScores(x: tf.Tensor3D, rows: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, d] = x.shape;
  const w = rows.shape[0] ?? 0;
  const dh = d / heads;
  const xh = tf.reshape(tf.transpose(tf.reshape(x, [b, t, heads, dh]), [2, 0, 1, 3]), [heads, b * t, dh]); // [H, B·T, dh]
  const rh = tf.transpose(tf.reshape(rows, [w, heads, dh]), [1, 0, 2]); // [H, W, dh]
  return tf.reshape(tf.matMul(xh, rh, false, true), [heads, b, t, w]) as tf.Tensor4D; // [H, B, T, W]
}

function shapes(c: DebertaV2Config): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const e = `${P}.embeddings`;
  s.set(WORDS, [c.vocabSize, c.embeddingSize]);
  if (c.positionBiasedInput) s.set(`${e}.position_embeddings.weight`, [c.maxPositionEmbeddings, c.embeddingSize]);
  if (c.typeVocabSize > 0) s.set(`${e}.token_type_embeddings.weight`, [c.typeVocabSize, c.embeddingSize]);
  if (c.embeddingSize !== c.dim) s.set(`${e}.embed_proj.weight`, [c.dim, c.embeddingSize]);
  normShapes(s, `${e}.LayerNorm`, c.dim);
  for (let i = 0; i < c.nLayers; i++) {
    const l = `${P}.encoder.layer.${i}`;
    for (const m of ['query_proj', 'key_proj', 'value_proj']) linearShapes(s, `${l}.attention.self.${m}`, c.dim, c.dim);
    if (!c.shareAttKey && c.c2p) linearShapes(s, `${l}.attention.self.pos_key_proj`, c.dim, c.dim);
    if (!c.shareAttKey && c.p2c) linearShapes(s, `${l}.attention.self.pos_query_proj`, c.dim, c.dim);
    linearShapes(s, `${l}.attention.output.dense`, c.dim, c.dim);
    normShapes(s, `${l}.attention.output.LayerNorm`, c.dim);
    linearShapes(s, `${l}.intermediate.dense`, c.dim, c.hiddenDim);
    linearShapes(s, `${l}.output.dense`, c.hiddenDim, c.dim);
    normShapes(s, `${l}.output.LayerNorm`, c.dim);
  }
  if (c.relativeAttention) s.set(`${P}.encoder.rel_embeddings.weight`, [2 * attentionSpan(c), c.dim]);
  if (c.normRelEmbedding) normShapes(s, `${P}.encoder.LayerNorm`, c.dim);
  return s;
}

function embeddings(c: DebertaV2Config, p: Params, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const [b, t, e] = [inp.batch, inp.seqLen, c.embeddingSize];
  let x = embedding(param(p, WORDS), inp.ids, inp.notPad, [b, t, e]); // [B, T, E]
  if (c.positionBiasedInput)
    x = tf.add(x, embedding(param(p, `${P}.embeddings.position_embeddings.weight`), inp.positions, null, [t, e])); // [B, T, E]
  if (inp.typeIds !== null)
    x = tf.add(x, embedding(param(p, `${P}.embeddings.token_type_embeddings.weight`), inp.typeIds, null, [b, t, e]));
  if (c.embeddingSize !== c.dim) {
    x = tf.reshape(tf.matMul(tf.reshape(x, [b * t, e]), param(p, `${P}.embeddings.embed_proj.weight`), false, true), [
      b,
      t,
      c.dim,
    ]); // [B, T, D], no bias
  }
  const normed = layerNorm(x as tf.Tensor3D, null, p, `${P}.embeddings.LayerNorm`, c.layerNormEps); // [B, T, D]
  return maybeDropout(tf.mul(normed, inp.tokenMask) as tf.Tensor3D, c.hiddenDropout, ctx); // padding rows zeroed
}

/** rel_embeddings, LayerNormed when norm_rel_ebd says so: [2·span, D], shared by every layer. */
function relativeTable(c: DebertaV2Config, p: Params): tf.Tensor2D {
  const table = param<tf.Tensor2D>(p, `${P}.encoder.rel_embeddings.weight`);
  if (!c.normRelEmbedding) return table;
  const [r, d] = table.shape;
  const w = param<tf.Tensor1D>(p, `${P}.encoder.LayerNorm.weight`);
  const bias = param<tf.Tensor1D>(p, `${P}.encoder.LayerNorm.bias`);
  return tf.reshape(addLayerNorm(tf.reshape(table, [1, r, d]) as tf.Tensor3D, null, w, bias, c.layerNormEps), [
    r,
    d,
  ]) as tf.Tensor2D;
}

interface Relative {
  table: tf.Tensor2D; // [2·span, D]
  rows: { c2p: tf.Tensor1D; p2c: tf.Tensor1D }; // [2T − 1] each (ModelInputs.indices)
}

/** DebertaV2Layer `i`: disentangled attention, output projection + LayerNorm, FFN + LayerNorm. */
function layer(
  c: DebertaV2Config,
  x: tf.Tensor3D,
  p: Params,
  i: number,
  inp: ModelInputs,
  rel: Relative | null,
  ctx: DropoutContext,
): tf.Tensor3D {
  const l = `${P}.encoder.layer.${i}`;
  const s = `${l}.attention.self`;
  const q = dense(x, p, `${s}.query_proj`); // [B, T, D]
  const k = dense(x, p, `${s}.key_proj`); // [B, T, D]
  const v = dense(x, p, `${s}.value_proj`); // [B, T, D]
  const dh = c.dim / c.nHeads;
  const scale = Math.sqrt(dh * (1 + (c.c2p ? 1 : 0) + (c.p2c ? 1 : 0)));
  let bias: tf.Tensor4D | undefined;
  if (rel !== null && (c.c2p || c.p2c)) {
    const table = maybeDropout(rel.table, c.hiddenDropout, ctx); // pos_dropout
    // the relative rows are divided by the scale (a [2T − 1, D] tensor, not the [B, H, T, T] terms)
    const project = (ids: tf.Tensor1D, proj: string): tf.Tensor => {
      const rows = embedding(table, ids, null, [ids.size, c.dim]) as tf.Tensor2D; // [2T − 1, D]
      return tf.div(linear(rows, param(p, `${proj}.weight`), param(p, `${proj}.bias`)), scale); // [2T − 1, D]
    };
    const terms: tf.Tensor4D[] = [];
    if (c.c2p) {
      const byQuery = skewRelative(
        headScores(q, project(rel.rows.c2p, c.shareAttKey ? `${s}.key_proj` : `${s}.pos_key_proj`), c.nHeads),
      ); // [H, B, Tq, Tk]
      terms.push(tf.transpose(byQuery, [1, 0, 2, 3])); // [B, H, Tq, Tk]
    }
    if (c.p2c) {
      const byKey = skewRelative(
        headScores(k, project(rel.rows.p2c, c.shareAttKey ? `${s}.query_proj` : `${s}.pos_query_proj`), c.nHeads),
      ); // [H, B, Tk, Tq]
      terms.push(tf.transpose(byKey, [1, 0, 3, 2])); // [B, H, Tq, Tk]
    }
    bias = terms.length === 2 ? (tf.add(terms[0] as tf.Tensor4D, terms[1] as tf.Tensor4D) as tf.Tensor4D) : terms[0]; // [B, H, T, T]
  }
  const drop = activeDropout(c.attentionDropout, ctx);
  const context = attention(q, k, v, {
    heads: c.nHeads,
    maskBias: inp.maskBias,
    dropout: drop,
    scale,
    maskedFill: true,
    ...(bias === undefined ? {} : { bias }),
  }); // [B, T, D]
  const a = maybeDropout(dense(context, p, `${l}.attention.output.dense`), c.hiddenDropout, ctx); // [B, T, D]
  const y = layerNorm(a, x, p, `${l}.attention.output.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = maybeDropout(
    feedForward(y, p, `${l}.intermediate.dense`, `${l}.output.dense`, c.activation),
    c.hiddenDropout,
    ctx,
  ); // [B, T, D]
  return layerNorm(f, y, p, `${l}.output.LayerNorm`, c.layerNormEps);
}

export function debertaV2Family(c: DebertaV2Config): Family {
  const ignoredPositions = c.positionBiasedInput ? '' : '|embeddings\\.position_embeddings\\.weight$'; // _keys_to_ignore_on_load_unexpected
  return {
    inputs: {
      ...c,
      positions: 'absolute',
      mask: 'pairs',
      ...(c.relativeAttention ? { indices: (t: number) => relativeRows(c, t) } : {}),
    },
    prefix: P,
    otherHeads: new RegExp(
      `^(lm_predictions|cls|mask_predictions|classifier)\\.|^(deberta\\.)?pooler\\.|position_ids$${ignoredPositions}`,
    ),
    paddedTables: [WORDS],
    shapes: () => shapes(c),
    logits(p, inp, ctx) {
      const c2p = inp.indices.get('c2p');
      const p2c = inp.indices.get('p2c');
      const rel: Relative | null =
        c2p !== undefined && p2c !== undefined
          ? { table: tf.tidy(() => relativeTable(c, p)), rows: { c2p, p2c } }
          : null;
      const x = stack(
        () => embeddings(c, p, inp, ctx),
        c.nLayers,
        (h, i) => layer(c, h, p, i, inp, rel, ctx),
      ); // [B, T, D]
      const out = qaHead(x, p, inp, 0, ctx);
      x.dispose();
      return out;
    },
  };
}
