/**
 * The rules of training's options, in one place: each number option's range, the schedule names, `evalEvery`, and
 * the combinations refused (early stopping without a metric; resume with overwrite). Errors name option fields
 * (`epochs must be …`); `qa-ft train` re-spells them as its flags. Defaults are in src/defaults.ts.
 */
import { field, OptionError, opt } from '../errors.js';
import { checkNumber, type NumberRule } from '../util/number-rule.js';

/** The allowed range of each number option of a training run (the command's flags parse by these). */
export const TRAIN_NUMBER_RULES = {
  epochs: { int: true, min: 1 },
  maxSteps: { int: true, min: 1 },
  learningRate: { min: 0, minExclusive: true },
  batchSize: { int: true, min: 1 },
  evalBatchSize: { int: true, min: 1 },
  weightDecay: { min: 0 },
  warmupRatio: { min: 0, max: 1 },
  warmupSteps: { int: true, min: 0 },
  maxGradNorm: { min: 0 },
  gradientAccumulationSteps: { int: true, min: 1 },
  seed: { int: true, min: 0 },
  loggingSteps: { int: true, min: 1 },
  saveTotalLimit: { int: true, min: 1 },
  'earlyStopping.patience': { int: true, min: 1 },
  'earlyStopping.threshold': { min: 0 },
} as const satisfies Record<string, NumberRule>;

export type TrainNumberField = keyof typeof TRAIN_NUMBER_RULES;

/** `value` (a number, or as typed) as training's number option `name`, or an `OptionError` naming it. */
export function trainNumber(name: TrainNumberField, value: number | string): number {
  return checkNumber(name, value, TRAIN_NUMBER_RULES[name]);
}

export const LR_SCHEDULER_TYPES = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

/** `value` as a scheduler type, or an error naming `lrSchedulerType` and the choices. */
export function checkLrSchedulerType(value: string): LrSchedulerType {
  if (!(LR_SCHEDULER_TYPES as readonly string[]).includes(value)) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('lrSchedulerType')} must be one of ${LR_SCHEDULER_TYPES.join(', ')}, got '${value}'`,
    );
  }
  return value as LrSchedulerType;
}

/** `evalEvery`: 'epoch' or a number of optimizer steps ≥ 1 (a string as typed on a command line, too). */
export function checkEvalEvery(value: 'epoch' | number | string): 'epoch' | number {
  if (value === 'epoch') return value;
  const n = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('evalEvery')} must be 'epoch' or a number of steps >= 1, got '${value}'`,
    );
  }
  return n;
}

/** Early stopping watches the best-model metric, so it needs one named (HF asserts the same). */
export function checkEarlyStoppingMetric(earlyStopping: unknown, metricForBestModel: string | undefined): void {
  if (earlyStopping !== undefined && metricForBestModel === undefined) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('earlyStopping.patience')} needs ${field('metricForBestModel')} (the metric whose improvement it watches)`,
    );
  }
}

/** `resume` continues the run in `outDir`, `overwriteOutputDir` deletes it: not both. */
export function checkResumeOrOverwrite(options: {
  readonly resume?: boolean;
  readonly overwriteOutputDir?: boolean;
}): void {
  if (options.resume && options.overwriteOutputDir) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('resume')} and ${field('overwriteOutputDir')} contradict each other: one continues the run in ${field('outDir')}, the other deletes it`,
      { hint: opt`pass one of them` },
    );
  }
}

/** The options `checkTrainOptions` checks (those a run has). */
export interface CheckedTrainOptions
  extends Partial<Record<Exclude<TrainNumberField, `earlyStopping.${string}`>, number>> {
  readonly earlyStopping?: { readonly patience: number; readonly threshold?: number };
  readonly metricForBestModel?: string;
  readonly lrSchedulerType?: string;
  readonly evalEvery?: 'epoch' | number;
  readonly resume?: boolean;
  readonly overwriteOutputDir?: boolean;
}

/** Every option checkable without the data: the number ranges, the schedule, `evalEvery`, the combinations. */
export function checkTrainOptions(options: CheckedTrainOptions): void {
  for (const name of Object.keys(TRAIN_NUMBER_RULES) as TrainNumberField[]) {
    const [top, sub] = name.split('.') as [string, string | undefined];
    const holder = (options as Record<string, unknown>)[top];
    const value = sub === undefined ? holder : (holder as Record<string, unknown> | undefined)?.[sub];
    if (value !== undefined) trainNumber(name, value as number);
  }
  if (options.lrSchedulerType !== undefined) checkLrSchedulerType(options.lrSchedulerType);
  if (options.evalEvery !== undefined) checkEvalEvery(options.evalEvery);
  checkEarlyStoppingMetric(options.earlyStopping, options.metricForBestModel);
  checkResumeOrOverwrite(options);
}
