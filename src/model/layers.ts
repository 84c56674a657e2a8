/**
 * The pieces every family's encoder is made of, over the fused ops of fused-ops.ts: parameters looked up by Hugging
 * Face name, torch.nn.Linear and LayerNorm by module prefix, seeded dropout in training, the FFN activations,
 * multi-head self-attention, the layer stack (the QA head on top is qa-head.ts's). Pure functions of parameters
 * and inputs; the caller owns gradient tapes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from './config-bert.js';
import type { ModelInputs } from './inputs.js';
import { addLayerNorm, attention, dropout, gelu, geluTanh, linear, relu } from './fused-ops.js';

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

/** Every dropout's rule: it runs when training with a non-zero rate, on a new seed; null (no dropout) otherwise. */
export function activeDropout(rate: number, ctx: DropoutContext): { rate: number; seed: number } | null {
  return ctx.training && rate > 0 ? { rate, seed: ctx.nextSeed() } : null;
}

/** Seeded dropout where `activeDropout` says it runs; the input itself otherwise. */
export function maybeDropout<T extends tf.Tensor>(x: T, rate: number, ctx: DropoutContext): T {
  const drop = activeDropout(rate, ctx);
  return drop === null ? x : dropout(x, drop.rate, drop.seed);
}

/** LayerNorm(x + residual) with the module's `weight` and `bias`. */
export function layerNorm(
  x: tf.Tensor3D,
  residual: tf.Tensor | null,
  p: Params,
  prefix: string,
  eps: number,
): tf.Tensor3D {
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

/**
 * softmax(q·kᵀ/√dh + mask)·v over the projected input, heads merged: the context [B, T, D] before the output
 * projection.
 */
export function selfAttention(
  x: tf.Tensor3D,
  p: Params,
  s: AttentionSpec,
  inp: ModelInputs,
  ctx: DropoutContext,
): tf.Tensor3D {
  const q = dense(x, p, s.query); // [B, T, D]
  const k = dense(x, p, s.key); // [B, T, D]
  const v = dense(x, p, s.value); // [B, T, D]
  return attention(q, k, v, { heads: s.heads, maskBias: inp.maskBias, dropout: activeDropout(s.dropout, ctx) }); // [B, T, D]
}

/**
 * The embeddings, then `layers` blocks in turn, each in its own tidy, so only the tensors the gradient tape saved
 * (see fused-ops.ts) outlive it: inference holds one layer's intermediates at a time, training what backward needs.
 */
export function stack(
  embed: () => tf.Tensor3D,
  layers: number,
  block: (x: tf.Tensor3D, i: number) => tf.Tensor3D,
): tf.Tensor3D {
  let h = tf.tidy(embed);
  for (let i = 0; i < layers; i++) {
    const prev = h;
    h = tf.tidy(() => block(prev, i));
    prev.dispose();
  }
  return h;
}
