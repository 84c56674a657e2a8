/**
 * The pieces every family's graph is made of, over the fused ops of ops.ts: parameters looked up by Hugging Face
 * name, torch.nn.Linear and LayerNorm by module prefix, seeded dropout in training, the FFN activations,
 * multi-head self-attention, and the QA head with Hugging Face's loss. Pure functions of parameters and inputs;
 * the caller owns gradient tapes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from './config-bert.js';
import type { ModelInputs } from './inputs.js';
import { addLayerNorm, attention, dropout, gelu, geluTanh, linear, relu } from './ops.js';

/** Parameters by Hugging Face name. */
export type Params = ReadonlyMap<string, tf.Tensor>;

/** Dropout in training only; each call draws a new seed from `nextSeed`, so a step is reproducible. */
export interface DropoutContext {
  training: boolean;
  nextSeed: () => number;
}

export function param<T extends tf.Tensor = tf.Tensor>(p: Params, name: string): T {
  const t = p.get(name);
  if (t === undefined) throw new Error(`parameter ${name} missing`); // loading guarantees every name exists
  return t as T;
}

/** Seeded dropout when training with a non-zero rate; the input itself otherwise. */
export function maybeDropout<T extends tf.Tensor>(x: T, rate: number, ctx: DropoutContext): T {
  if (!ctx.training || rate === 0) return x;
  return dropout(x, rate, ctx.nextSeed());
}

/** LayerNorm(x + residual) with the module's `weight` and `bias`. */
export function layerNorm(x: tf.Tensor3D, residual: tf.Tensor | null, p: Params, prefix: string, eps: number): tf.Tensor3D {
  return addLayerNorm(x, residual, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`), eps);
}

/** torch.nn.Linear over the last axis of [B, T, in]. */
export function dense(x: tf.Tensor3D, p: Params, prefix: string): tf.Tensor3D {
  return linear(x, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`)) as tf.Tensor3D; // [B, T, out]
}

/** transformers' ACT2FN[name]: `gelu` (erf), `gelu_new` (tanh approximation), `relu`. */
export function activate<T extends tf.Tensor>(x: T, name: Activation): T {
  switch (name) {
    case 'gelu':
      return gelu(x);
    case 'gelu_new':
      return geluTanh(x);
    case 'relu':
      return relu(x);
  }
}

/**
 * The FFN: up-projection, activation, down-projection, each [B, T, F] tensor freed as soon as it is used (the tape
 * keeps its own references).
 */
export function feedForward(x: tf.Tensor3D, p: Params, up: string, down: string, act: Activation): tf.Tensor3D {
  const pre = dense(x, p, up); // [B, T, F]
  const hidden = activate(pre, act); // [B, T, F]
  pre.dispose();
  const out = dense(hidden, p, down); // [B, T, D]
  hidden.dispose();
  return out;
}

/** Module prefixes of an attention's projections and its head count and weight dropout. */
export interface AttentionSpec {
  readonly query: string;
  readonly key: string;
  readonly value: string;
  readonly heads: number;
  readonly dropout: number;
}

/** softmax(q·kᵀ/√dh + mask)·v over the projected input, heads merged: the context [B, T, D] before the output projection. */
export function selfAttention(x: tf.Tensor3D, p: Params, s: AttentionSpec, inp: ModelInputs, ctx: DropoutContext): tf.Tensor3D {
  const q = dense(x, p, s.query); // [B, T, D]
  const k = dense(x, p, s.key); // [B, T, D]
  const v = dense(x, p, s.value); // [B, T, D]
  const drop = ctx.training && s.dropout > 0 ? { rate: s.dropout, seed: ctx.nextSeed() } : null;
  return attention(q, k, v, { heads: s.heads, maskBias: inp.maskBias, dropout: drop }); // [B, T, D]
}

/**
 * Start and end logits [B, T] each from the last hidden states [B, T, D] through `qa_outputs` (D → 2), after
 * dropout at `dropoutRate` (DistilBERT's qa_dropout; 0 for the other families).
 */
export function qaHead(x: tf.Tensor3D, p: Params, inp: ModelInputs, dropoutRate: number, ctx: DropoutContext): { start: tf.Tensor2D; end: tf.Tensor2D } {
  const logits = tf.tidy(() => dense(maybeDropout(x, dropoutRate, ctx), p, 'qa_outputs')); // [B, T, 2]
  const [b, t] = [inp.batch, inp.seqLen];
  const start = tf.reshape(tf.slice(logits, [0, 0, 0], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  const end = tf.reshape(tf.slice(logits, [0, 0, 1], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  return { start, end };
}

/**
 * The embeddings, then `layers` blocks in turn, each in its own tidy, so only the tensors the gradient tape saved
 * (see ops.ts) outlive it: inference holds one layer's intermediates at a time, training what backward needs.
 */
export function stack(embed: () => tf.Tensor3D, layers: number, block: (x: tf.Tensor3D, i: number) => tf.Tensor3D): tf.Tensor3D {
  let h = tf.tidy(embed);
  for (let i = 0; i < layers; i++) {
    const prev = h;
    h = tf.tidy(() => block(prev, i));
    prev.dispose();
  }
  return h;
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
