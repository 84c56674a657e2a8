/**
 * Learning-rate schedule: linear warm-up from 0, then linear decay to 0 — the same function as Hugging Face's
 * `get_linear_schedule_with_warmup` (a `LambdaLR` whose factor at step k is applied to the peak rate).
 * Pure and separately tested; the trainer asks it for the rate of the optimizer step it is about to take.
 */
import { QaFtError } from '../errors.js';

interface LinearScheduleOptions {
  /** Peak learning rate (reached at the end of warm-up). */
  readonly learningRate: number;
  /** Total number of optimizer steps (the rate reaches 0 at this step). */
  readonly totalSteps: number;
  /** Optimizer steps of linear warm-up from 0 (0 = none, the tutorial's default). */
  readonly warmupSteps?: number;
}

/** The multiplier HF's `lr_lambda` returns for 0-based optimizer step `step`. */
export function linearScheduleFactor(step: number, totalSteps: number, warmupSteps = 0): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** The learning rate used by the optimizer step with 0-based index `step`. */
export function learningRateAt(step: number, options: LinearScheduleOptions): number {
  return options.learningRate * linearScheduleFactor(step, options.totalSteps, options.warmupSteps ?? 0);
}

/** Warm-up steps from `--warmup-ratio`, rounded up as HF `TrainingArguments.get_warmup_steps` does. */
export function warmupStepsFromRatio(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--warmup-ratio must be in [0, 1], got ${ratio}`);
  }
  return Math.ceil(totalSteps * ratio);
}

export function validateSchedule(options: LinearScheduleOptions): void {
  const { learningRate, totalSteps, warmupSteps = 0 } = options;
  if (!(Number.isFinite(learningRate) && learningRate >= 0)) {
    throw new QaFtError('BAD_ARGUMENT', `learning rate must be a finite number >= 0, got ${learningRate}`);
  }
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `totalSteps must be an integer >= 1, got ${totalSteps}`);
  }
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) {
    throw new QaFtError('BAD_ARGUMENT', `warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  }
}
