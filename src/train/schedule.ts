/**
 * Learning-rate schedules, the same functions as Hugging Face's `get_scheduler` (a `LambdaLR` whose factor at
 * optimizer step k multiplies the peak rate): `linear` (warm-up from 0, then linear decay to 0; the default),
 * `cosine` (warm-up, then half a cosine wave to 0), `constant`, and `constant_with_warmup`.
 * Pure and separately tested; the trainer asks for the rate of the optimizer step it is about to take.
 */
import { DEFAULTS } from '../defaults.js';
import { checkLrSchedulerType, trainNumber, TRAIN_NUMBER_RULES, type LrSchedulerType } from './options.js';
import { checkNumber } from '../util/number-rule.js';

interface ScheduleOptions {
  /** Peak learning rate (reached at the end of warm-up). */
  readonly learningRate: number;
  /** Total number of optimizer steps (the decaying schedules reach 0 there). */
  readonly totalSteps: number;
  /** Optimizer steps of linear warm-up from 0 (0 = none, the tutorial's default). */
  readonly warmupSteps?: number;
  /** Default `linear`. */
  readonly lrSchedulerType?: LrSchedulerType;
}

/** The multiplier HF's `lr_lambda` of `type` returns for 0-based optimizer step `step`. */
export function scheduleFactor(type: LrSchedulerType, step: number, totalSteps: number, warmupSteps = 0): number {
  if (type === 'constant') return 1;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  switch (type) {
    case 'constant_with_warmup':
      return 1;
    case 'cosine': // HF's default num_cycles = 0.5: half a wave, from 1 down to 0
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    case 'linear':
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  }
}

/** The linear schedule's factor (HF `get_linear_schedule_with_warmup`). */
export function linearScheduleFactor(step: number, totalSteps: number, warmupSteps = 0): number {
  return scheduleFactor('linear', step, totalSteps, warmupSteps);
}

/** The learning rate used by the optimizer step with 0-based index `step`. */
export function learningRateAt(step: number, options: ScheduleOptions): number {
  return (
    options.learningRate *
    scheduleFactor(
      options.lrSchedulerType ?? DEFAULTS.lrSchedulerType,
      step,
      options.totalSteps,
      options.warmupSteps ?? 0,
    )
  );
}

/** Warm-up steps from `--warmup-ratio`, rounded up as HF `TrainingArguments.get_warmup_steps` does. */
export function warmupStepsFromRatio(ratio: number, totalSteps: number): number {
  return Math.ceil(totalSteps * trainNumber('warmupRatio', ratio));
}

/** Checks a schedule's options (errors name the fields). */
export function validateSchedule(options: ScheduleOptions): void {
  trainNumber('learningRate', options.learningRate);
  checkNumber('totalSteps', options.totalSteps, TRAIN_NUMBER_RULES.maxSteps);
  if (options.warmupSteps !== undefined) trainNumber('warmupSteps', options.warmupSteps);
  if (options.lrSchedulerType !== undefined) checkLrSchedulerType(options.lrSchedulerType);
}
