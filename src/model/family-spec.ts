/**
 * What qa-model.ts and weights.ts need from a model family (one file each: distilbert.ts, bert.ts, roberta.ts,
 * electra.ts, albert.ts, deberta-v2.ts): its encoder's parameters by Hugging Face name, the inputs it takes, the
 * checkpoint tensors it ignores, and its graph, which ends in the shared QA head (qa-head.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { InputSpec, ModelInputs } from './inputs.js';
import type { DropoutContext, Params } from './layers.js';

export interface Family {
  readonly inputs: InputSpec;
  /** The base model's attribute (`bert`, `roberta`, …): a bare base checkpoint's names lack `prefix.`. */
  readonly prefix: string;
  /** Checkpoint tensors a QA model does not use (other heads, poolers, buffers): ignored with a notice. */
  readonly otherHeads: RegExp;
  /** Embedding tables with nn.Embedding's padding_idx (= pad_token_id): that row is 0 at init and never trained. */
  readonly paddedTables: readonly string[];
  /**
   * Every trainable parameter of the encoder with its shape, in module order; the QA head's follow (weights.ts
   * `parameterShapes`). torch.nn.Linear weights are [out, in].
   */
  shapes(): Map<string, number[]>;
  /** Start and end logits, each [B, T]. */
  logits(p: Params, inp: ModelInputs, ctx: DropoutContext): { start: tf.Tensor2D; end: tf.Tensor2D };
}

/** Adds torch.nn.Linear(inDim → outDim)'s weight [out, in] and bias [out] at `prefix`. */
export function linearShapes(shapes: Map<string, number[]>, prefix: string, inDim: number, outDim: number): void {
  shapes.set(`${prefix}.weight`, [outDim, inDim]);
  shapes.set(`${prefix}.bias`, [outDim]);
}

/** Adds torch.nn.LayerNorm(dim)'s weight and bias at `prefix`. */
export function normShapes(shapes: Map<string, number[]>, prefix: string, dim: number): void {
  shapes.set(`${prefix}.weight`, [dim]);
  shapes.set(`${prefix}.bias`, [dim]);
}
