/**
 * One optimizer step of fine-tuning, in Hugging Face Trainer order: forward + backward (the model's
 * `lossAndGradients`), clip the global gradient norm, AdamW update at the scheduled rate, advance the schedule.
 * With gradient accumulation, N calls make one optimizer step: gradients are averaged over the micro-batches
 * (HF divides each micro-batch loss by N) and the update happens on the N-th call or on `flush()`.
 * The trainer owns the optimizer state and nothing else: data, evaluation and checkpoints live in the loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../errors.js';
import type { QaBatch } from '../records.js';
import { mixSeed } from '../model/random.js';
import type { QaModel } from '../model/types.js';
import { AdamW, decaySummary, type AdamWState, type DecaySummary } from './adamw.js';
import { clipCoefficient, globalNorm } from './clip.js';
import { learningRateAt, validateSchedule } from './schedule.js';

export interface TrainerOptions {
  readonly learningRate: number;
  readonly weightDecay: number;
  /** Global-norm clipping threshold (HF default 1.0); 0 or Infinity disables clipping. */
  readonly maxGradNorm: number;
  /** Optimizer steps over the whole run (the schedule reaches 0 there). */
  readonly totalSteps: number;
  readonly warmupSteps?: number;
  /** Micro-batches per optimizer step (default 1). */
  readonly gradientAccumulationSteps?: number;
  /** Base of the per-micro-batch dropout seed, so a resumed run draws the same masks (default 42). */
  readonly seed?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

export interface StepResult {
  /** Loss of this call's batch (mean over the micro-batches of the optimizer step when it completes one). */
  readonly loss: number;
  /** Global gradient norm before clipping; NaN while an accumulation is still pending. */
  readonly gradNorm: number;
  /** Rate used by this optimizer step (the rate the pending step will use while accumulating). */
  readonly learningRate: number;
  /** Whether this call applied an optimizer update. */
  readonly updated: boolean;
  /** Completed optimizer steps after this call. */
  readonly optimizerStep: number;
}

/** Everything needed to continue training exactly: AdamW moments by name and the counters. */
export interface TrainerState {
  readonly optimizer: AdamWState;
  readonly microStep: number;
}

export interface Trainer {
  /** How many tensors (and parameters) get weight decay and how many do not. */
  readonly decaySummary: DecaySummary;
  /** Completed optimizer steps. */
  readonly optimizerStep: number;
  /** Micro-batches seen (the dropout seed of the next one derives from it). */
  readonly microStep: number;
  step(batch: QaBatch): Promise<StepResult>;
  /** Applies a pending partial accumulation (end of an epoch); undefined when nothing was pending. */
  flush(): Promise<StepResult | undefined>;
  exportState(): Promise<TrainerState>;
  importState(state: TrainerState, source?: string): void;
  dispose(): void;
}

/** Dropout seed of micro-batch `microStep` under base `seed`: a pure function, so resume reproduces it. */
export function dropoutSeedFor(seed: number, microStep: number): number {
  return mixSeed(seed, microStep); // mixed, so neighbouring steps' seeds are far apart
}

export function createTrainer(model: QaModel, options: TrainerOptions): Trainer {
  validateSchedule(options);
  const accumulation = options.gradientAccumulationSteps ?? 1;
  if (!(Number.isInteger(accumulation) && accumulation >= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `gradientAccumulationSteps must be an integer >= 1, got ${accumulation}`);
  }
  if (!(options.maxGradNorm >= 0)) {
    throw new QaFtError('BAD_ARGUMENT', `maxGradNorm must be >= 0, got ${options.maxGradNorm}`);
  }
  const seed = options.seed ?? 42;
  const optimizer = new AdamW(model.params, options);
  const summary = decaySummary(model.params);
  let optimizerStep = 0;
  let microStep = 0;
  /** Sum of grad/N over the pending micro-batches (only when accumulating). */
  let pending: Map<string, tf.Tensor> | undefined;
  let pendingCount = 0;
  let pendingLoss = 0;

  const rate = (): number => learningRateAt(optimizerStep, options);

  async function update(grads: Map<string, tf.Tensor>, loss: number): Promise<StepResult> {
    const gradNorm = await globalNorm(grads.values());
    const stepNumber = optimizerStep + 1;
    if (!Number.isFinite(gradNorm)) {
      throw new QaFtError('TRAINING_DIVERGED', `gradient norm is ${gradNorm} at optimizer step ${stepNumber}`, {
        hint: 'lower --lr, or keep --max-grad-norm on',
      });
    }
    const learningRate = rate();
    optimizer.apply(grads, { learningRate, gradScale: clipCoefficient(gradNorm, options.maxGradNorm) });
    optimizerStep = stepNumber;
    return { loss, gradNorm, learningRate, updated: true, optimizerStep };
  }

  function clearPending(): void {
    if (pending) tf.dispose([...pending.values()]);
    pending = undefined;
    pendingCount = 0;
    pendingLoss = 0;
  }

  async function flushPending(): Promise<StepResult> {
    const grads = pending as Map<string, tf.Tensor>;
    const loss = pendingLoss / pendingCount;
    if (pendingCount < accumulation) {
      // a short final accumulation: rescale the sum of grad/N to the mean over the micro-batches seen
      const factor = accumulation / pendingCount;
      for (const [name, g] of grads) {
        grads.set(name, tf.mul(g, factor));
        g.dispose();
      }
    }
    try {
      return await update(grads, loss);
    } finally {
      clearPending();
    }
  }

  return {
    decaySummary: summary,
    get optimizerStep() {
      return optimizerStep;
    },
    get microStep() {
      return microStep;
    },
    async step(batch) {
      const { loss, grads } = model.lossAndGradients(batch, { training: true, dropoutSeed: dropoutSeedFor(seed, microStep) });
      let lossValue: number;
      try {
        lossValue = (await loss.data())[0] ?? NaN;
      } finally {
        loss.dispose();
      }
      const stepNumber = optimizerStep + 1;
      if (!Number.isFinite(lossValue)) {
        tf.dispose([...grads.values()]);
        throw new QaFtError('TRAINING_DIVERGED', `loss is ${lossValue} at optimizer step ${stepNumber}`, {
          hint: 'lower --lr',
        });
      }
      microStep += 1;
      if (accumulation === 1) {
        try {
          return await update(grads, lossValue);
        } finally {
          tf.dispose([...grads.values()]);
        }
      }
      if (!pending) pending = new Map();
      for (const [name, g] of grads) {
        const previous = pending.get(name);
        pending.set(name, tf.tidy(() => (previous ? tf.add(previous, tf.div(g, accumulation)) : tf.div(g, accumulation))));
        previous?.dispose();
        g.dispose();
      }
      pendingCount += 1;
      pendingLoss += lossValue;
      if (pendingCount === accumulation) return flushPending();
      return { loss: lossValue, gradNorm: NaN, learningRate: rate(), updated: false, optimizerStep };
    },
    async flush() {
      return pending ? flushPending() : undefined;
    },
    async exportState() {
      if (pending) {
        throw new QaFtError('INTERNAL', 'cannot save trainer state in the middle of a gradient accumulation');
      }
      return { optimizer: await optimizer.exportState(), microStep };
    },
    importState(state, source) {
      optimizer.importState(state.optimizer, source);
      optimizerStep = state.optimizer.step;
      microStep = state.microStep;
      clearPending();
    },
    dispose() {
      clearPending();
      optimizer.dispose();
    },
  };
}
