/**
 * The pieces every family's ONNX graph is made of, the same computations as src/model/layers.ts in standard ONNX
 * operators: torch.nn.Linear (MatMul + Add, the form dynamic quantization rewrites), LayerNormalization, the FFN
 * activations, multi-head self-attention with the additive padding mask, embeddings and the QA head. Each takes
 * and returns tensor names; shapes in the comments use the graph's dynamic axes B (batch_size), T
 * (sequence_length).
 */
import type { Activation } from '../model/config-bert.js';
import { QA_OUTPUTS } from '../model/qa-head.js';
import { floatAttr, intAttr, intsAttr, type GraphBuilder } from './graph.js';
import { DataType } from './proto.js';

const FLOAT32_MIN = -3.4028234663852886e38; // torch.finfo(torch.float32).min, as src/model/inputs.ts masks

/** The graph's input names, as transformers.js and Optimum's exports call them. */
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const TOKEN_TYPE_IDS = 'token_type_ids';

/** torch.nn.Linear at `prefix` over the last axis: x·Wᵀ + b. */
export function linear(g: GraphBuilder, x: string, prefix: string): string {
  const y = g.op('MatMul', [x, g.paramTransposed(`${prefix}.weight`)]); // [B, T, out]
  return g.op('Add', [y, g.param(`${prefix}.bias`)]);
}

/** LayerNorm(x + residual) with the module's `weight` and `bias` at `prefix`. */
export function layerNorm(g: GraphBuilder, x: string, residual: string | null, prefix: string, eps: number): string {
  const sum = residual === null ? x : g.op('Add', [x, residual]);
  return g.op(
    'LayerNormalization',
    [sum, g.param(`${prefix}.weight`), g.param(`${prefix}.bias`)],
    [intAttr('axis', -1), floatAttr('epsilon', eps)],
  );
}

/** transformers' ACT2FN: `gelu` = x·½(1 + erf(x/√2)), `gelu_new` = x·½(1 + tanh(√(2/π)(x + 0.044715x³))), `relu`. */
export function activate(g: GraphBuilder, x: string, act: Activation): string {
  switch (act) {
    case 'gelu': {
      const erf = g.op('Erf', [g.op('Mul', [x, g.floats([Math.SQRT1_2], [])])]);
      return g.op('Mul', [g.op('Mul', [x, g.op('Add', [erf, g.floats([1], [])])]), g.floats([0.5], [])]);
    }
    case 'gelu_new': {
      const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
      const inner = g.op('Mul', [
        g.op('Add', [x, g.op('Mul', [cube, g.floats([0.044715], [])])]),
        g.floats([Math.sqrt(2 / Math.PI)], []),
      ]);
      return g.op('Mul', [
        g.op('Mul', [x, g.op('Add', [g.op('Tanh', [inner]), g.floats([1], [])])]),
        g.floats([0.5], []),
      ]);
    }
    case 'relu':
      return g.op('Relu', [x]);
  }
}

/** The FFN: up-projection, activation, down-projection. */
export function feedForward(g: GraphBuilder, x: string, up: string, down: string, act: Activation): string {
  return linear(g, activate(g, linear(g, x, up), act), down);
}

/** [B, 1, 1, T]: 0 where attention_mask is 1, the float32 minimum where it is 0 (transformers' extended mask). */
export function maskBias(g: GraphBuilder): string {
  const mask = g.op('Cast', [ATTENTION_MASK], [intAttr('to', DataType.FLOAT)]); // [B, T]
  const bias = g.op('Mul', [g.op('Sub', [g.floats([1], []), mask]), g.floats([FLOAT32_MIN], [])]); // [B, T]
  return g.op('Unsqueeze', [bias, g.int64s([1, 2])]); // [B, 1, 1, T]
}

/** Module prefixes of an attention's projections, its head count and the model width D. */
export interface AttentionSpec {
  readonly query: string;
  readonly key: string;
  readonly value: string;
  readonly heads: number;
  readonly dim: number;
}

/** softmax(q·kᵀ/√dh + mask)·v, heads merged: the context [B, T, D] before the output projection. */
export function selfAttention(g: GraphBuilder, x: string, s: AttentionSpec, bias: string): string {
  const dh = s.dim / s.heads;
  const split = g.int64s([0, 0, s.heads, dh]); // Reshape's 0 copies B and T from the input
  const heads = (prefix: string, perm: number[]): string =>
    g.op('Transpose', [g.op('Reshape', [linear(g, x, prefix), split])], [intsAttr('perm', perm)]);
  const q = heads(s.query, [0, 2, 1, 3]); // [B, H, T, dh]
  const kT = heads(s.key, [0, 2, 3, 1]); // [B, H, dh, T]
  const v = heads(s.value, [0, 2, 1, 3]); // [B, H, T, dh]
  const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), g.floats([1 / Math.sqrt(dh)], [])]), bias]); // [B, H, T, T]
  const probs = g.op('Softmax', [scores], [intAttr('axis', -1)]);
  const context = g.op('Transpose', [g.op('MatMul', [probs, v])], [intsAttr('perm', [0, 2, 1, 3])]); // [B, T, H, dh]
  return g.op('Reshape', [context, g.int64s([0, 0, s.dim])]); // [B, T, D]
}

/** Word embeddings of input_ids: [B, T, E]. */
export function wordEmbeddings(g: GraphBuilder, table: string): string {
  return g.op('Gather', [g.param(table), INPUT_IDS]);
}

/** Rows 0 … T-1 of a position table: [T, E], broadcast over the batch. */
export function absolutePositions(g: GraphBuilder, table: string): string {
  const t = g.op('Gather', [g.op('Shape', [INPUT_IDS]), g.int64s([1])]); // [1]: T
  return g.op('Slice', [g.param(table), g.int64s([0]), t, g.int64s([0])]); // [T, E]
}

/** RoBERTa's positions: pad + cumsum(id ≠ pad) on real tokens, pad on padding; their embeddings [B, T, E]. */
export function robertaPositions(g: GraphBuilder, table: string, padTokenId: number): string {
  const pad = g.int64s([padTokenId], []);
  const real = g.op('Cast', [g.op('Not', [g.op('Equal', [INPUT_IDS, pad])])], [intAttr('to', DataType.INT64)]); // [B, T]
  const count = g.op('CumSum', [real, g.int64s([1], [])]); // [B, T]
  const ids = g.op('Add', [g.op('Mul', [count, real]), pad]); // [B, T]
  return g.op('Gather', [g.param(table), ids]); // [B, T, E]
}

/** qa_outputs (D → 2) on the last hidden states, split into the graph outputs start_logits and end_logits [B, T]. */
export function qaHead(g: GraphBuilder, x: string): void {
  const logits = linear(g, x, QA_OUTPUTS); // [B, T, 2]
  g.named('start_logits', 'Gather', [logits, g.int64s([0], [])], [intAttr('axis', 2)]);
  g.named('end_logits', 'Gather', [logits, g.int64s([1], [])], [intAttr('axis', 2)]);
}
