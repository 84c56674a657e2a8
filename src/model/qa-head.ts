/**
 * The QA head every family ends in, one owner for training, export and evaluation: `qa_outputs`
 * (torch.nn.Linear D → 2, a start and an end logit per token) — its name, parameter shapes and forward — and
 * Hugging Face's QA loss over its logits, whose rule `lossWeights` states once for the tensor form (training,
 * TF.js evaluation) and the host form (the ONNX engine, src/onnx/session.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { linearShapes } from './family-spec.js';
import type { ModelInputs } from './inputs.js';
import { dense, maybeDropout, type DropoutContext, type Params } from './layers.js';

/** The head's module name in every `…ForQuestionAnswering` checkpoint (and the ONNX graph's initializers). */
export const QA_OUTPUTS = 'qa_outputs';

/** The head's parameters for hidden width `dim`: qa_outputs.weight [2, D] and qa_outputs.bias [2]. */
export function qaHeadShapes(dim: number): Map<string, number[]> {
  const s = new Map<string, number[]>();
  linearShapes(s, QA_OUTPUTS, dim, 2);
  return s;
}

/**
 * Start and end logits [B, T] each from the last hidden states [B, T, D] through `qa_outputs` (D → 2), after
 * dropout at `dropoutRate` (DistilBERT's qa_dropout; 0 for the other families).
 */
export function qaHead(
  x: tf.Tensor3D,
  p: Params,
  inp: ModelInputs,
  dropoutRate: number,
  ctx: DropoutContext,
): { start: tf.Tensor2D; end: tf.Tensor2D } {
  const logits = tf.tidy(() => dense(maybeDropout(x, dropoutRate, ctx), p, QA_OUTPUTS)); // [B, T, 2]
  const [b, t] = [inp.batch, inp.seqLen];
  const start = tf.reshape(tf.slice(logits, [0, 0, 0], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  const end = tf.reshape(tf.slice(logits, [0, 0, 1], [b, t, 1]), [b, t]) as tf.Tensor2D; // [B, T]
  return { start, end };
}

/**
 * Hugging Face's QA loss rule for one side (the start or the end positions of a batch), as weights [B·T] on the
 * log-probabilities: each position clamped to [0, T], T ignored; each kept row's target weighs 1 / (2 · kept
 * rows), so that −Σ weight · log softmax over both sides is the mean cross-entropy over each side's kept rows,
 * then the mean of the two. A side with no kept row weighs NaN everywhere: the loss is NaN, as PyTorch's mean
 * over no rows.
 */
export function lossWeights(positions: readonly number[], seqLen: number): Float32Array {
  const weights = new Float32Array(positions.length * seqLen);
  const targets = positions.map((p) => Math.min(Math.max(p, 0), seqLen)); // T means "ignore"
  const kept = targets.filter((p) => p < seqLen).length;
  if (kept === 0) return weights.fill(NaN);
  targets.forEach((p, row) => {
    if (p < seqLen) weights[row * seqLen + p] = 1 / (2 * kept);
  });
  return weights;
}

/** The loss's weights for a labelled batch, built outside the tape (lossWeights): [B, T] each. */
export interface LossTargets {
  startWeights: tf.Tensor2D; // [B, T]
  endWeights: tf.Tensor2D; // [B, T]
}

export function lossTargets(
  startPositions: readonly number[],
  endPositions: readonly number[],
  seqLen: number,
): LossTargets {
  const b = startPositions.length;
  return {
    startWeights: tf.tensor2d(lossWeights(startPositions, seqLen), [b, seqLen]),
    endWeights: tf.tensor2d(lossWeights(endPositions, seqLen), [b, seqLen]),
  };
}

/** The QA loss of start and end logits [B, T]: −Σ weight · log softmax over both sides (lossWeights). */
export function qaLoss(start: tf.Tensor2D, end: tf.Tensor2D, targets: LossTargets): tf.Scalar {
  const side = (logits: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar =>
    tf.neg(tf.sum<tf.Scalar>(tf.mul(tf.logSoftmax(logits, -1), weights)));
  return tf.add<tf.Scalar>(side(start, targets.startWeights), side(end, targets.endWeights));
}

/** Logits on the host: B rows of T. */
type Rows = readonly (readonly number[])[];

/** The same loss on host arrays, for engines whose logits are not TF.js tensors (ONNX). */
export function qaLossOfRows(start: Rows, end: Rows, starts: readonly number[], ends: readonly number[]): number {
  const side = (logits: Rows, positions: readonly number[]): number => {
    const t = logits[0]?.length ?? 0;
    const weights = lossWeights(
      logits.map((_, i) => positions[i] ?? t),
      t,
    ); // a row without a position: ignored
    let sum = 0;
    logits.forEach((row, i) => {
      const max = Math.max(...row);
      const logSumExp = max + Math.log(row.reduce((acc, x) => acc + Math.exp(x - max), 0));
      row.forEach((x, j) => (sum -= (weights[i * t + j] as number) * (x - logSumExp)));
    });
    return sum;
  };
  return side(start, starts) + side(end, ends);
}
