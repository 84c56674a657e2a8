/**
 * DistilBertForQuestionAnswering as TF.js ops, top to bottom: embeddings → attention → FFN → block → model →
 * QA head → loss. Pure functions of the parameters (by Hugging Face name) and the inputs; the caller owns
 * `tf.tidy` / gradient tapes. Written in the natural formulation (batched matMul, softmax, erf-GELU, LayerNorm
 * eps 1e-12, masked attention scores filled with the float32 minimum), as Hugging Face's modeling_distilbert does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DistilBertConfig } from './config.js';
import { matMul } from './gradients.js';
import { dropoutMask } from './random.js';

/** Parameters by Hugging Face name. */
export type Params = ReadonlyMap<string, tf.Tensor>;

const LAYER_NORM_EPS = 1e-12;
const FLOAT32_MIN = -3.4028234663852886e38; // torch.finfo(torch.float32).min

/** Inputs turned into tensors once per batch, outside any gradient tape (masks must not be taped). */
export interface ModelInputs {
  ids: tf.Tensor1D; // [B·T] int32
  notPad: tf.Tensor2D; // [B·T, 1] float32: 0 where the token is the padding id (its embedding row gets no gradient)
  positions: tf.Tensor1D; // [T] int32: 0 … T-1
  keep: tf.Tensor4D; // [B, H, T, T] bool: key j is a real token
  fill: tf.Tensor4D; // [B, H, T, T] float32 minimum, for masked scores
  batch: number;
  seqLen: number;
}

/** Dropout in training only; each call draws a new seed from `nextSeed`, so a step is reproducible. */
export interface DropoutContext {
  training: boolean;
  nextSeed: () => number;
}

function param(p: Params, name: string): tf.Tensor {
  const t = p.get(name);
  if (t === undefined) throw new Error(`parameter ${name} missing`); // loading guarantees every name exists
  return t;
}

function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: DropoutContext): T {
  if (!ctx.training || rate === 0) return x;
  const mask = tf.tensor(dropoutMask(x.size, rate, ctx.nextSeed()), x.shape); // same shape as x: 0 or 1/(1-rate)
  return tf.mul(x, mask) as T;
}

/**
 * Row lookup whose gradient is a scatter-add (the stock gather gradient needs UnsortedSegmentSum, which the wasm
 * backend lacks). `rowMask` zeroes the gradient of chosen lookups (nn.Embedding's padding_idx).
 */
function embeddingLookup(table: tf.Tensor, ids: tf.Tensor1D, rowMask: tf.Tensor2D | null): tf.Tensor2D {
  const lookup = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = inputs[0] as tf.Tensor; // [V, D]
    return {
      value: tf.gather(t, ids), // [N, D]
      gradFunc: (dy: tf.Tensor) => {
        const g = rowMask === null ? dy : tf.mul(dy, rowMask); // [N, D]
        return tf.scatterND(tf.reshape(ids, [-1, 1]), g, t.shape); // [V, D], duplicates summed
      },
    };
  });
  return lookup(table) as tf.Tensor2D;
}

function layerNorm(x: tf.Tensor3D, p: Params, prefix: string): tf.Tensor3D {
  const mean = tf.mean(x, -1, true); // [B, T, 1]
  const centered = tf.sub(x, mean); // [B, T, D]
  const variance = tf.mean(tf.mul(centered, centered), -1, true); // [B, T, 1], biased as torch
  const normed = tf.div(centered, tf.sqrt(tf.add(variance, LAYER_NORM_EPS))); // [B, T, D]
  return tf.add(tf.mul(normed, param(p, `${prefix}.weight`)), param(p, `${prefix}.bias`));
}

/**
 * y = x·Wᵀ + b on 2-D x, W stored [out, in] as torch.nn.Linear. Its gradient is written out (dx = dy·W,
 * dW = dyᵀ·x, db = Σ dy) so that no weight-sized transpose is recorded for the backward pass: on wasm the flagged
 * matMuls become explicit transposes (see matMul), and the transpose of W is done once, in the forward pass.
 */
const linear2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc]; // [N, in], [out, in], [out]
  save([x, w]);
  return {
    value: tf.add(matMul(x, w, false, true), bias), // [N, out]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMul(dy, sw), matMul(dy, sx, true, false), tf.sum(dy, 0)]; // [N, in], [out, in], [out]
    },
  };
});

/** torch.nn.Linear over the last axis of [B, T, in]. */
function linear(x: tf.Tensor3D, p: Params, prefix: string): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const w = param(p, `${prefix}.weight`); // [out, in]
  const y = linear2d(tf.reshape(x, [b * t, d]), w, param(p, `${prefix}.bias`)); // [B·T, out]
  return tf.reshape(y, [b, t, w.shape[0] as number]);
}

function embeddings(c: DistilBertConfig, p: Params, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const words = embeddingLookup(param(p, 'distilbert.embeddings.word_embeddings.weight'), inp.ids, inp.notPad); // [B·T, D]
  const pos = embeddingLookup(param(p, 'distilbert.embeddings.position_embeddings.weight'), inp.positions, null); // [T, D]
  const x = tf.add(tf.reshape(words, [inp.batch, inp.seqLen, c.dim]), pos) as tf.Tensor3D; // [B, T, D]
  return dropout(layerNorm(x, p, 'distilbert.embeddings.LayerNorm'), c.dropout, ctx);
}

function attention(c: DistilBertConfig, x: tf.Tensor3D, p: Params, prefix: string, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const h = c.nHeads;
  const dh = d / h;
  const heads = (y: tf.Tensor3D): tf.Tensor4D => tf.transpose(tf.reshape(y, [b, t, h, dh]), [0, 2, 1, 3]); // [B, H, T, dh]
  const q = tf.div(heads(linear(x, p, `${prefix}.q_lin`)), Math.sqrt(dh)); // [B, H, T, dh]
  const k = heads(linear(x, p, `${prefix}.k_lin`)); // [B, H, T, dh]
  const v = heads(linear(x, p, `${prefix}.v_lin`)); // [B, H, T, dh]
  const scores = tf.where(inp.keep, tf.matMul(q, k, false, true), inp.fill); // [B, H, T, T]
  const weights = dropout(tf.softmax(scores, -1), c.attentionDropout, ctx); // [B, H, T, T]
  const context = tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [b, t, d]) as tf.Tensor3D; // [B, T, D]
  return linear(context, p, `${prefix}.out_lin`);
}

function ffn(c: DistilBertConfig, x: tf.Tensor3D, p: Params, prefix: string, ctx: DropoutContext): tf.Tensor3D {
  const hidden = linear(x, p, `${prefix}.lin1`); // [B, T, F]
  const gelu = tf.mul(tf.mul(hidden, 0.5), tf.add(tf.erf(tf.div(hidden, Math.SQRT2)), 1)) as tf.Tensor3D; // [B, T, F], erf form
  return dropout(linear(gelu, p, `${prefix}.lin2`), c.dropout, ctx); // [B, T, D]
}

function block(c: DistilBertConfig, x: tf.Tensor3D, p: Params, i: number, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const prefix = `distilbert.transformer.layer.${i}`;
  const a = attention(c, x, p, `${prefix}.attention`, inp, ctx); // [B, T, D]
  const y = layerNorm(tf.add(a, x) as tf.Tensor3D, p, `${prefix}.sa_layer_norm`); // [B, T, D]
  return layerNorm(tf.add(ffn(c, y, p, `${prefix}.ffn`, ctx), y) as tf.Tensor3D, p, `${prefix}.output_layer_norm`);
}

/** Start and end logits, each [B, T]. */
export function qaLogits(c: DistilBertConfig, p: Params, inp: ModelInputs, ctx: DropoutContext): { start: tf.Tensor2D; end: tf.Tensor2D } {
  let x = embeddings(c, p, inp, ctx); // [B, T, D]
  for (let i = 0; i < c.nLayers; i++) x = block(c, x, p, i, inp, ctx);
  const logits = linear(dropout(x, c.qaDropout, ctx), p, 'qa_outputs'); // [B, T, 2]
  const [b, t] = [inp.batch, inp.seqLen];
  const start = tf.reshape(tf.slice(logits, [0, 0, 0], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  const end = tf.reshape(tf.slice(logits, [0, 0, 1], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  return { start, end };
}

/** Targets for the loss, built outside the tape: one-hot rows (all zero where ignored) and the count of kept rows. */
export interface LossTargets {
  startOneHot: tf.Tensor2D; // [B, T]
  endOneHot: tf.Tensor2D; // [B, T]
  startCount: number;
  endCount: number;
}

/**
 * Hugging Face's QA loss: positions clamped to [0, T], T ignored, mean cross-entropy over the kept rows for the
 * start and for the end, then the mean of the two. A batch whose rows are all ignored gives NaN, as PyTorch does.
 */
export function qaLoss(start: tf.Tensor2D, end: tf.Tensor2D, targets: LossTargets): tf.Scalar {
  const ce = (logits: tf.Tensor2D, oneHot: tf.Tensor2D, count: number): tf.Scalar =>
    tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits, -1), oneHot))), count); // []
  return tf.div(tf.add(ce(start, targets.startOneHot, targets.startCount), ce(end, targets.endOneHot, targets.endCount)), 2);
}

export function lossTargets(startPositions: readonly number[], endPositions: readonly number[], seqLen: number): LossTargets {
  const build = (positions: readonly number[]): { oneHot: tf.Tensor2D; count: number } => {
    const values = new Float32Array(positions.length * seqLen);
    let count = 0;
    positions.forEach((p, row) => {
      const clamped = Math.min(Math.max(p, 0), seqLen); // T means "ignore"
      if (clamped < seqLen) {
        values[row * seqLen + clamped] = 1;
        count++;
      }
    });
    return { oneHot: tf.tensor2d(values, [positions.length, seqLen]), count };
  };
  const s = build(startPositions);
  const e = build(endPositions);
  return { startOneHot: s.oneHot, endOneHot: e.oneHot, startCount: s.count, endCount: e.count };
}

/** Tensors for a validated, rectangular batch (see qa-model.ts). */
export function modelInputs(c: DistilBertConfig, inputIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[]): ModelInputs {
  const b = inputIds.length;
  const t = inputIds[0]?.length ?? 0;
  const ids = new Int32Array(b * t);
  const notPad = new Float32Array(b * t);
  const keepRow = new Uint8Array(b * t);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) {
      const id = (inputIds[i] as readonly number[])[j] as number;
      ids[i * t + j] = id;
      notPad[i * t + j] = id === c.padTokenId ? 0 : 1;
      keepRow[i * t + j] = (attentionMask[i] as readonly number[])[j] === 0 ? 0 : 1;
    }
  }
  return tf.tidy(() => {
    const keepKeys = tf.tensor4d(keepRow, [b, 1, 1, t], 'bool'); // [B, 1, 1, T]
    return {
      ids: tf.tensor1d(ids, 'int32'),
      notPad: tf.tensor2d(notPad, [b * t, 1]),
      positions: tf.range(0, t, 1, 'int32') as tf.Tensor1D,
      keep: tf.broadcastTo(keepKeys, [b, c.nHeads, t, t]) as tf.Tensor4D,
      fill: tf.fill([b, c.nHeads, t, t], FLOAT32_MIN) as tf.Tensor4D,
      batch: b,
      seqLen: t,
    };
  });
}

export function disposeInputs(inp: ModelInputs): void {
  tf.dispose([inp.ids, inp.notPad, inp.positions, inp.keep, inp.fill]);
}
