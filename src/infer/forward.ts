/**
 * Features through a model for inference, in order, a batch of windows per forward pass: each feature's start and
 * end logits over its own tokens (batch padding dropped) and, for labelled features, the evaluation loss as the
 * Hugging Face Trainer reports it. Shared by `answerQuestions` and `evaluateModel`.
 *
 * Memory: the model's `forward` returns plain arrays and owns its tensors, so nothing here allocates a tensor; only
 * a Float32Array of logits per feature is kept.
 */
import { DEFAULTS } from '../defaults.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { makeBatches } from '../tokenize/batches.js';
import { takesTokenTypeIds } from '../tokenize/model-fit.js';

interface ForwardOptions {
  /** Features per forward pass (default 16). */
  readonly batchSize?: number;
  /** Feed the features' start/end positions, so that the model reports a loss (evaluation). */
  readonly withLabels: boolean;
  /** Called before the first batch and after each, with batches done / total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One feature's logits over its own tokens (batch padding dropped), with the feature they belong to. */
interface FeatureLogits {
  readonly feature: Feature;
  readonly startLogits: Float32Array; // [T_f]
  readonly endLogits: Float32Array; // [T_f]
}

interface ForwardResult {
  /** One entry per feature, in the order of the features given. */
  readonly logits: FeatureLogits[];
  /**
   * Mean loss over all features, each batch's mean loss weighted by its size (HF Trainer's `eval_loss`: per-batch
   * losses repeated batch-size times, then averaged). NaN without labels, or when the model reports no loss.
   */
  readonly loss: number;
}

export async function forwardFeatures(
  model: QaModel,
  features: readonly Feature[],
  options: ForwardOptions,
): Promise<ForwardResult> {
  const batches = makeBatches(features, {
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    shuffle: false,
    padTokenId: model.config.padTokenId,
    tokenTypeIds: takesTokenTypeIds(model.config),
    withLabels: options.withLabels,
  });
  const logits: (FeatureLogits | undefined)[] = features.map(() => undefined); // filled by feature index, batch by batch
  let lossSum = 0;
  let lossCount = 0;
  options.onProgress?.(0, batches.length);
  for (const [b, { batch, featureIndices }] of batches.entries()) {
    const out = await model.forward(batch, { training: false });
    if (out.loss === undefined) lossSum = NaN;
    else lossSum += out.loss * featureIndices.length;
    lossCount += featureIndices.length;
    for (const [row, fi] of featureIndices.entries()) {
      const feature = features[fi];
      const start = out.startLogits[row]; // [T]
      const end = out.endLogits[row]; // [T]
      if (feature === undefined || start === undefined || end === undefined) {
        throw new Error(
          `batch ${b} row ${row} (feature ${fi} of ${features.length}): the model returned ${out.startLogits.length}/${out.endLogits.length} start/end rows for ${featureIndices.length} features`,
        );
      }
      const n = feature.inputIds.length;
      logits[fi] = {
        feature,
        startLogits: Float32Array.from(start.slice(0, n)),
        endLogits: Float32Array.from(end.slice(0, n)),
      }; // [T_f]
    }
    options.onProgress?.(b + 1, batches.length);
  }
  return {
    logits: logits.map((l, fi) => {
      if (l === undefined) throw new Error(`feature ${fi} of ${features.length} was in no batch`);
      return l;
    }),
    loss: lossCount > 0 ? lossSum / lossCount : NaN,
  };
}
