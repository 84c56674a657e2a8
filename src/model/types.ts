import type * as tf from '@tensorflow/tfjs-core';
import type { QaBatch } from '../records.js';

/** Matmul precision, the engine's (re-exported for the layers above model, which may not import the engine). */
export type { Precision } from '../engine/index.js';

/** Backends a user can ask for; `auto` picks the fastest one available. */
export type BackendName = 'auto' | 'native' | 'tensorflow' | 'wasm' | 'cpu';

export interface ForwardOutput {
  startLogits: number[][]; // [B, T]
  endLogits: number[][]; // [B, T]
  /** Present when the batch carries start/end positions. */
  loss?: number;
}

/**
 * An encoder's …ForQuestionAnswering (DistilBERT, BERT, RoBERTa, ELECTRA, ALBERT, DeBERTa-v2) on TF.js. Parameters are
 * keyed by their Hugging Face names.
 */
export interface QaModel {
  readonly config: import('./config.js').ModelConfig;
  /** The TF.js backend the model runs on (`cpu`, `wasm`, `native`, `tensorflow`). */
  readonly backend: string;
  /**
   * What the matmuls compute in: `fp32`, or `bf16` (torch.autocast(cpu, bfloat16) on the native engine). Every
   * loaded model sets it; optional so that test stand-ins need not (absent means fp32).
   */
  readonly precision?: import('../engine/index.js').Precision;
  /** Trainable parameters by Hugging Face name, e.g. `distilbert.transformer.layer.0.attention.q_lin.weight`. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  forward(batch: QaBatch, options?: { training?: boolean }): Promise<ForwardOutput>;
  /**
   * Start/end logits as tensors (for batched inference without copying to JS arrays); caller disposes.
   */
  logits(batch: QaBatch): { startLogits: tf.Tensor2D; endLogits: tf.Tensor2D };
  /**
   * Loss and the gradient of every parameter for a labelled batch. `dropoutSeed` makes dropout
   * reproducible (resume depends on it). The caller disposes the returned tensors.
   */
  lossAndGradients(
    batch: QaBatch,
    options: { training: boolean; dropoutSeed?: number },
  ): { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
  /** Writes `config.json` + `model.safetensors` (F32, HF names and layouts), atomically. */
  save(dir: string): Promise<void>;
  dispose(): void;
}
