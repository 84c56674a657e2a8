/**
 * DistilBertForQuestionAnswering as TF.js ops, top to bottom: embeddings → attention → FFN → block → model →
 * QA head → loss. Pure functions of the parameters (by Hugging Face name) and the inputs; the caller owns
 * gradient tapes. Written in the natural formulation (batched matMul, softmax, erf-GELU, LayerNorm eps 1e-12,
 * masked attention scores at the float32 minimum), as Hugging Face's modeling_distilbert does, out of the fused
 * ops of ops.ts, whose gradients keep only what backward needs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DistilBertConfig } from './config.js';
import { addLayerNorm, attention, dropout, embedding, gelu, linear } from './ops.js';

/** Parameters by Hugging Face name. */
type Params = ReadonlyMap<string, tf.Tensor>;

const LAYER_NORM_EPS = 1e-12;
const FLOAT32_MIN = -3.4028234663852886e38; // torch.finfo(torch.float32).min

/** Inputs turned into tensors once per batch, outside any gradient tape (masks must not be taped). */
export interface ModelInputs {
  ids: tf.Tensor1D; // [B·T] int32
  notPad: tf.Tensor2D; // [B·T, 1] float32: 0 where the token is the padding id (its embedding row gets no gradient)
  positions: tf.Tensor1D; // [T] int32: 0 … T-1
  maskBias: tf.Tensor4D; // [B, 1, 1, T] float32: 0 for a real key, the float32 minimum for padding
  batch: number;
  seqLen: number;
}

/** Dropout in training only; each call draws a new seed from `nextSeed`, so a step is reproducible. */
export interface DropoutContext {
  training: boolean;
  nextSeed: () => number;
}

function param<T extends tf.Tensor = tf.Tensor>(p: Params, name: string): T {
  const t = p.get(name);
  if (t === undefined) throw new Error(`parameter ${name} missing`); // loading guarantees every name exists
  return t as T;
}

/** Seeded dropout when training with a non-zero rate; the input itself otherwise. */
function maybeDropout<T extends tf.Tensor>(x: T, rate: number, ctx: DropoutContext): T {
  if (!ctx.training || rate === 0) return x;
  return dropout(x, rate, ctx.nextSeed());
}

function layerNorm(x: tf.Tensor3D, residual: tf.Tensor | null, p: Params, prefix: string): tf.Tensor3D {
  return addLayerNorm(x, residual, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`), LAYER_NORM_EPS);
}

/** torch.nn.Linear over the last axis of [B, T, in]. */
function dense(x: tf.Tensor3D, p: Params, prefix: string): tf.Tensor3D {
  return linear(x, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`)) as tf.Tensor3D; // [B, T, out]
}

function embeddings(c: DistilBertConfig, p: Params, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const words = embedding(param(p, 'distilbert.embeddings.word_embeddings.weight'), inp.ids, inp.notPad, [inp.batch, inp.seqLen, c.dim]); // [B, T, D]
  const pos = embedding(param(p, 'distilbert.embeddings.position_embeddings.weight'), inp.positions, null, [inp.seqLen, c.dim]); // [T, D]
  const x = layerNorm(words as tf.Tensor3D, pos, p, 'distilbert.embeddings.LayerNorm'); // [B, T, D]
  return maybeDropout(x, c.dropout, ctx);
}

function selfAttention(c: DistilBertConfig, x: tf.Tensor3D, p: Params, prefix: string, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const q = dense(x, p, `${prefix}.q_lin`); // [B, T, D]
  const k = dense(x, p, `${prefix}.k_lin`); // [B, T, D]
  const v = dense(x, p, `${prefix}.v_lin`); // [B, T, D]
  const drop = ctx.training && c.attentionDropout > 0 ? { rate: c.attentionDropout, seed: ctx.nextSeed() } : null;
  const context = attention(q, k, v, { heads: c.nHeads, maskBias: inp.maskBias, dropout: drop }); // [B, T, D]
  return dense(context, p, `${prefix}.out_lin`);
}

function ffn(c: DistilBertConfig, x: tf.Tensor3D, p: Params, prefix: string, ctx: DropoutContext): tf.Tensor3D {
  // The [B, T, F] tensors are freed as soon as they are used (the tape keeps its own references to them).
  const pre = dense(x, p, `${prefix}.lin1`); // [B, T, F]
  const hidden = gelu(pre); // [B, T, F]
  pre.dispose();
  const out = dense(hidden, p, `${prefix}.lin2`); // [B, T, D]
  hidden.dispose();
  return maybeDropout(out, c.dropout, ctx);
}

function block(c: DistilBertConfig, x: tf.Tensor3D, p: Params, i: number, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const prefix = `distilbert.transformer.layer.${i}`;
  const a = selfAttention(c, x, p, `${prefix}.attention`, inp, ctx); // [B, T, D]
  const y = layerNorm(a, x, p, `${prefix}.sa_layer_norm`); // [B, T, D]
  return layerNorm(ffn(c, y, p, `${prefix}.ffn`, ctx), y, p, `${prefix}.output_layer_norm`);
}

/**
 * Start and end logits, each [B, T]. Each layer runs in its own tidy, so only the tensors the gradient tape saved
 * (see ops.ts) outlive it: inference holds one layer's intermediates at a time, training what backward needs.
 */
export function qaLogits(c: DistilBertConfig, p: Params, inp: ModelInputs, ctx: DropoutContext): { start: tf.Tensor2D; end: tf.Tensor2D } {
  let x = tf.tidy(() => embeddings(c, p, inp, ctx)); // [B, T, D]
  for (let i = 0; i < c.nLayers; i++) {
    const prev = x;
    x = tf.tidy(() => block(c, prev, p, i, inp, ctx));
    prev.dispose();
  }
  const logits = tf.tidy(() => dense(maybeDropout(x, c.qaDropout, ctx), p, 'qa_outputs')); // [B, T, 2]
  x.dispose();
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
  const maskBias = new Float32Array(b * t);
  for (const [i, row] of inputIds.entries()) {
    const mask = attentionMask[i] ?? [];
    for (const [j, id] of row.entries()) {
      ids[i * t + j] = id;
      notPad[i * t + j] = id === c.padTokenId ? 0 : 1;
      maskBias[i * t + j] = mask[j] === 0 ? FLOAT32_MIN : 0;
    }
  }
  return {
    ids: tf.tensor1d(ids, 'int32'),
    notPad: tf.tensor2d(notPad, [b * t, 1]),
    positions: tf.range(0, t, 1, 'int32') as tf.Tensor1D,
    maskBias: tf.tensor4d(maskBias, [b, 1, 1, t]),
    batch: b,
    seqLen: t,
  };
}

export function disposeInputs(inp: ModelInputs): void {
  tf.dispose([inp.ids, inp.notPad, inp.positions, inp.maskBias]);
}
