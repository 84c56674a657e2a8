/**
 * One optimizer step of fine-tuning, in Hugging Face Trainer order: forward + backward (the model's
 * `lossAndGradients`), clip the global gradient norm, AdamW update at the scheduled rate, advance the schedule.
 * With gradient accumulation, N calls make one optimizer step: gradients are averaged over the micro-batches
 * (HF divides each micro-batch loss by N) and the update happens on the N-th call or on `flush()`.
 * The trainer owns the optimizer state and nothing else: data, evaluation and checkpoints live in the loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { field, OptionError, opt, QaFtError } from '../errors.js';
import type { QaBatch } from '../records.js';
import { DEFAULTS } from '../defaults.js';
import { mixSeed } from '../model/random.js';
import type { QaModel } from '../model/types.js';
import { AdamW, decaySummary, type AdamWState, type DecaySummary } from './optimizer.js';
import { clipCoefficient, globalNorm } from './clip.js';
import type { OptimizerSettings } from './hf-trainer-files.js';
import { learningRateAt, validateSchedule } from './schedule.js';
import { trainNumber } from './options.js';

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
  /** AdamW's settings and the schedule's peak rate and next step's rate (what a PyTorch checkpoint records). */
  readonly optimizerSettings: OptimizerSettings;
  importState(state: TrainerState, source?: string): void;
  dispose(): void;
}

/** Dropout seed of micro-batch `microStep` under base `seed`: a pure function, so resume reproduces it. */
export function dropoutSeedFor(seed: number, microStep: number): number {
  return mixSeed(seed, microStep); // mixed, so neighbouring steps' seeds are far apart
}

/** Checks the options a trainer cannot run with, before any state is built. */
function checkTrainerOptions(options: TrainerOptions): void {
  validateSchedule(options);
  if (options.gradientAccumulationSteps !== undefined)
    trainNumber('gradientAccumulationSteps', options.gradientAccumulationSteps);
  trainNumber('maxGradNorm', options.maxGradNorm);
}

/**
 * Gradient accumulation over N micro-batches: holds the running sum of grad/N and the losses (HF divides each
 * micro-batch loss by N); `take` hands over the mean, rescaled when fewer than N came (a short last step).
 */
class GradientAccumulator {
  private sum: Map<string, tf.Tensor> | undefined;
  private count = 0;
  private lossSum = 0;

  constructor(private readonly n: number) {}

  get pending(): boolean {
    return this.sum !== undefined;
  }

  get full(): boolean {
    return this.count === this.n;
  }

  /** Adds a micro-batch's gradients (taking them over: they are disposed here or by the taker) and loss. */
  add(grads: Map<string, tf.Tensor>, loss: number): void {
    this.count += 1;
    this.lossSum += loss;
    if (this.n === 1) {
      this.sum = grads; // no accumulation: the gradients as they are, without a copy
      return;
    }
    const sum = this.sum ?? new Map<string, tf.Tensor>();
    for (const [name, g] of grads) {
      const previous = sum.get(name);
      sum.set(
        name,
        tf.tidy(() => (previous ? tf.add(previous, tf.div(g, this.n)) : tf.div(g, this.n))),
      );
      previous?.dispose();
      g.dispose();
    }
    this.sum = sum;
  }

  /** The mean gradients (the caller disposes them) and loss of the micro-batches so far; empties the accumulator. */
  take(): { grads: Map<string, tf.Tensor>; loss: number } | undefined {
    const grads = this.sum;
    if (grads === undefined) return undefined;
    if (this.count < this.n) {
      const factor = this.n / this.count;
      for (const [name, g] of grads) {
        grads.set(name, tf.mul(g, factor));
        g.dispose();
      }
    }
    const loss = this.lossSum / this.count;
    this.sum = undefined;
    this.count = 0;
    this.lossSum = 0;
    return { grads, loss };
  }

  clear(): void {
    const taken = this.take();
    if (taken) tf.dispose([...taken.grads.values()]);
  }
}

/** The loss of a micro-batch as a number (disposing the tensor); a non-finite one stops training. */
async function finiteLoss(loss: tf.Scalar, grads: Map<string, tf.Tensor>, stepNumber: number): Promise<number> {
  let value: number;
  try {
    value = await loss.array();
  } finally {
    loss.dispose();
  }
  if (!Number.isFinite(value)) {
    tf.dispose([...grads.values()]);
    throw new OptionError('TRAINING_DIVERGED', opt`loss is ${value} at optimizer step ${stepNumber}`, {
      hint: opt`lower ${field('learningRate')}`,
    });
  }
  return value;
}

export function createTrainer(model: QaModel, options: TrainerOptions): Trainer {
  checkTrainerOptions(options);
  const seed = options.seed ?? DEFAULTS.seed;
  const optimizer = new AdamW(model.params, options);
  const accumulated = new GradientAccumulator(options.gradientAccumulationSteps ?? 1);
  let optimizerStep = 0;
  let microStep = 0;
  const rate = (): number => learningRateAt(optimizerStep, options);

  /** Clips and applies `grads` (the caller disposes them) as the next optimizer step. */
  async function update(grads: Map<string, tf.Tensor>, loss: number): Promise<StepResult> {
    const gradNorm = await globalNorm(grads.values());
    const stepNumber = optimizerStep + 1;
    if (!Number.isFinite(gradNorm)) {
      throw new OptionError('TRAINING_DIVERGED', opt`gradient norm is ${gradNorm} at optimizer step ${stepNumber}`, {
        hint: opt`lower ${field('learningRate')}, or keep ${field('maxGradNorm')} on`,
      });
    }
    const learningRate = rate();
    optimizer.apply(grads, { learningRate, gradScale: clipCoefficient(gradNorm, options.maxGradNorm) });
    optimizerStep = stepNumber;
    return { loss, gradNorm, learningRate, updated: true, optimizerStep };
  }

  async function updateWith(step: { grads: Map<string, tf.Tensor>; loss: number }): Promise<StepResult> {
    try {
      return await update(step.grads, step.loss);
    } finally {
      tf.dispose([...step.grads.values()]);
    }
  }

  return {
    decaySummary: decaySummary(model.params),
    get optimizerStep() {
      return optimizerStep;
    },
    get microStep() {
      return microStep;
    },
    async step(batch) {
      const { loss, grads } = model.lossAndGradients(batch, {
        training: true,
        dropoutSeed: dropoutSeedFor(seed, microStep),
      });
      const lossValue = await finiteLoss(loss, grads, optimizerStep + 1);
      microStep += 1;
      accumulated.add(grads, lossValue);
      const full = accumulated.full ? accumulated.take() : undefined;
      return full
        ? updateWith(full)
        : { loss: lossValue, gradNorm: NaN, learningRate: rate(), updated: false, optimizerStep };
    },
    async flush() {
      const step = accumulated.take();
      return step ? updateWith(step) : undefined;
    },
    get optimizerSettings() {
      const { beta1, beta2, eps, weightDecay } = optimizer;
      return { learningRate: options.learningRate, nextLearningRate: rate(), weightDecay, beta1, beta2, eps };
    },
    async exportState() {
      if (accumulated.pending) {
        throw new QaFtError('INTERNAL', 'cannot save trainer state in the middle of a gradient accumulation');
      }
      return { optimizer: await optimizer.exportState(), microStep };
    },
    importState(state, source) {
      optimizer.importState(state.optimizer, source);
      optimizerStep = state.optimizer.step;
      microStep = state.microStep;
      accumulated.clear();
    },
    dispose() {
      accumulated.clear();
      optimizer.dispose();
    },
  };
}
