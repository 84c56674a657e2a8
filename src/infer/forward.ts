/**
 * Features through a model for inference, in order, a batch of windows per forward pass: each feature's start and
 * end logits over its own tokens (batch padding dropped) and, for labelled features, the evaluation loss as the
 * Hugging Face Trainer reports it. Shared by `answerQuestions` and `evaluateModel`.
 *
 * Memory: the model's `forward` returns plain arrays and owns its tensors, so nothing here allocates a tensor; only
 * a Float32Array of logits per feature is kept.
 */
import { DEFAULT_BATCH_SIZE } from '../defaults.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { makeBatches } from '../tokenize/batches.js';

interface ForwardOptions {
  /** Features per forward pass (default 16). */
  readonly batchSize?: number;
  /** Feed the features' start/end positions, so that the model reports a loss (evaluation). */
  readonly withLabels: boolean;
  /** Called before the first batch and after each, with batches done / total. */
  readonly onProgress?: (done: number, total: number) => void;
}

interface FeatureLogits {
  readonly startLogits: Float32Array[]; // per feature [T_f]
  readonly endLogits: Float32Array[]; // per feature [T_f]
  /**
   * Mean loss over all features, each batch's mean loss weighted by its size (HF Trainer's `eval_loss`: per-batch
   * losses repeated batch-size times, then averaged). NaN without labels, or when the model reports no loss.
   */
  readonly loss: number;
}

export async function forwardFeatures(model: QaModel, features: readonly Feature[], options: ForwardOptions): Promise<FeatureLogits> {
  const batches = makeBatches(features, {
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    shuffle: false,
    padTokenId: model.config.padTokenId,
    withLabels: options.withLabels,
  });
  const startLogits: Float32Array[] = new Array(features.length);
  const endLogits: Float32Array[] = new Array(features.length);
  let lossSum = 0;
  let lossCount = 0;
  options.onProgress?.(0, batches.length);
  for (let b = 0; b < batches.length; b++) {
    const { batch, featureIndices } = batches[b]!;
    const out = await model.forward(batch, { training: false });
    if (out.loss === undefined) lossSum = NaN;
    else lossSum += out.loss * featureIndices.length;
    lossCount += featureIndices.length;
    featureIndices.forEach((fi, row) => {
      const n = features[fi]!.inputIds.length;
      startLogits[fi] = Float32Array.from(out.startLogits[row]!.slice(0, n)); // [T_f]
      endLogits[fi] = Float32Array.from(out.endLogits[row]!.slice(0, n)); // [T_f]
    });
    options.onProgress?.(b + 1, batches.length);
  }
  return { startLogits, endLogits, loss: lossCount > 0 ? lossSum / lossCount : NaN };
}
