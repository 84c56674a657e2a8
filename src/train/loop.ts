/**
 * The training loop of `qa-ft train`, in the Hugging Face Trainer's order: optimizer steps over seeded batches
 * (length-grouped dynamic padding by default) for `--epochs` or `--max-steps`; after each epoch or every N steps an
 * evaluation and a checkpoint, the best checkpoint kept, old ones rotated out (`--save-total-limit`), early stopping;
 * at the end the best weights (`--load-best-model-at-end`) or the last ones saved as the final model in `outDir`.
 * A stop request (Ctrl-C) finishes the current optimizer step, saves a checkpoint and returns.
 *
 * `outDir` is locked for the run and checked first (`claimOutDir`). Resuming continues from the newest valid
 * checkpoint of this run, mid-epoch included: batch order is a pure function of (seed, epoch), dropout of (seed,
 * micro-step), and the position in an epoch follows from the global step (as HF's `steps_trained_in_current_epoch`),
 * so the final weights equal an uninterrupted run's. Progress goes out through `onEvent`; nothing here prints.
 */
import { basename, join } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { field, OptionError, opt, QaFtError, isQaFtError, spellOptions, type OptionText } from '../errors.js';
import type { Feature, SquadRow } from '../records.js';
import type { QaModel } from '../model/types.js';
import { makeBatches } from '../tokenize/batches.js';
import { takesTokenTypeIds } from '../tokenize/model-fit.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { DirLock } from '../util/dir-lock.js';
import type { DecaySummary } from './optimizer.js';
import {
  recordEvaluation,
  resolveBestMetric,
  type BestMetric,
  type BestState,
  type EarlyStoppingOptions,
} from './best-model.js';
import {
  checkpointDirName,
  dataFingerprint,
  loadCheckpointWeights,
  restoreCheckpoint,
  resumeFromCheckpoint,
  rotateCheckpoints,
  saveCheckpoint,
  type SavedParts,
  saveFinalModel,
  type LossSums,
  type RunIdentity,
  type RunStateFields,
} from './checkpoint.js';
import { renderTrainingCurves } from './curves-svg.js';
import { EVAL_METRIC_KEYS, MetricsLog, type EvalRecord, type MetricsRecord } from './metrics-log.js';
import { claimOutDir } from './out-dir.js';
import { checkTrainOptions, type CheckedTrainOptions, type LrSchedulerType } from './options.js';
import { warmupStepsFromRatio } from './schedule.js';
import { TensorBoardWriter } from './tensorboard.js';
import { createTrainer, type Trainer } from './trainer.js';

export interface Split {
  readonly rows: readonly SquadRow[];
  readonly features: readonly Feature[];
}

export interface EvalResult {
  readonly evalLoss: number;
  readonly exactMatch: number;
  readonly f1: number;
  readonly count: number;
  /** Further figures by metric name (SQuAD 2.0: HasAns_f1, NoAns_f1, …), logged with the `eval_` prefix. */
  readonly extraMetrics?: Readonly<Record<string, number>>;
}

/** Where training metrics go besides `metrics.jsonl` (HF `report_to`). */
export type ReportTarget = 'tensorboard';

export interface TrainLoopOptions {
  readonly outDir: string;
  readonly epochs: number;
  /** Optimizer steps to train for; overrides `epochs` (HF `max_steps`). */
  readonly maxSteps?: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Default `linear`. */
  readonly lrSchedulerType?: LrSchedulerType;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  /** Warm-up optimizer steps; overrides `warmupRatio` when given (HF `warmup_steps`). */
  readonly warmupSteps?: number;
  readonly maxGradNorm: number;
  readonly gradientAccumulationSteps: number;
  readonly seed: number;
  readonly padToMaxLength: boolean;
  /** The prepared features' max length (the width with `padToMaxLength`). */
  readonly maxLength: number;
  readonly padTokenId: number;
  /** Evaluate and save a checkpoint after each epoch, or every N optimizer steps. */
  readonly evalEvery: 'epoch' | number;
  /** A step record goes to `metrics.jsonl` every this many optimizer steps (default `DEFAULTS.loggingSteps`). */
  readonly loggingSteps?: number;
  /** Keep at most this many checkpoints (the newest, and the best with `loadBestModelAtEnd`); default all. */
  readonly saveTotalLimit?: number;
  /** The final model is the best checkpoint's weights (by `metricForBestModel`), not the last. */
  readonly loadBestModelAtEnd?: boolean;
  /**
   * `f1`, `exact_match`, `loss`, SQuAD 2.0 `HasAns_f1`, … (with or without `eval_`); default `loss` with
   * `loadBestModelAtEnd`, else `f1`.
   */
  readonly metricForBestModel?: string;
  /** Stop when the best-model metric has not improved for `patience` evaluations. */
  readonly earlyStopping?: EarlyStoppingOptions;
  readonly reportTo?: readonly ReportTarget[];
  /** Aborted: finish the current optimizer step, save a checkpoint, return with `interrupted`. */
  readonly stopSignal?: AbortSignal;
  readonly resume: boolean;
  /**
   * Delete a previous run's checkpoints and outputs in `outDir` first (HF's `overwrite_output_dir`); without it (or
   * `resume`) an `outDir` holding them is refused. Other files in `outDir` are kept either way.
   */
  readonly overwriteOutputDir?: boolean;
  /** Tokenizer files copied into every checkpoint and the final model. */
  readonly tokenizerFiles: readonly string[];
  /**
   * The tokenizer_config.json written with them, in place of a copied one (fitted to the model: saved-tokenizer.ts).
   */
  readonly tokenizerConfig?: string;
  /** Scores the model on the test split (the command passes `evaluateModel`). */
  readonly evaluate: (model: QaModel, split: Split) => Promise<EvalResult>;
  /**
   * The eval record keys `evaluate` will report for a split (`eval_f1`, `eval_HasAns_f1`, …; the command passes
   * `evaluationMetricNames`): `metricForBestModel` is checked against them before anything is written. Without it,
   * the check waits for the first evaluation.
   */
  readonly evalMetricNames?: (split: Split) => readonly string[];
  readonly onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | {
      type: 'start';
      decay: DecaySummary;
      totalSteps: number;
      warmupSteps: number;
      stepsPerEpoch: number;
      epochs: number;
      trainFeatures: number;
      testFeatures: number;
    }
  | { type: 'resumed'; checkpoint: string; epoch: number; step: number }
  /** `message` names options by field; `text` holds them for a command to re-spell (`spellOptions`). */
  | { type: 'notice'; message: string; text?: OptionText }
  | { type: 'epoch-start'; epoch: number; batches: number; skipped: number }
  | {
      type: 'step';
      epoch: number;
      batch: number;
      batches: number;
      step: number;
      loss: number;
      learningRate: number;
      gradNorm: number;
      examplesPerSecond: number;
      etaSeconds: number;
    }
  | { type: 'eval-start'; epoch: number; step: number }
  | { type: 'eval'; record: EvalRecord }
  | { type: 'epoch-end'; epoch: number; step: number; trainingLoss: number; eval?: EvalRecord; seconds: number }
  | { type: 'checkpoint'; dir: string; step: number; deleted: readonly string[] }
  | { type: 'early-stop'; step: number; metric: string; patience: number }
  | { type: 'best-loaded'; dir: string; metric: string; value: number }
  | { type: 'saved'; dir: string };

export interface TrainLoopResult {
  readonly globalStep: number;
  readonly epochs: number;
  readonly history: readonly MetricsRecord[];
  readonly bestMetric: number | null;
  readonly bestCheckpoint: string | null;
  readonly outDir: string;
  /** Set when a stop request ended the run early: the checkpoint it saved (`--resume` continues from it). */
  readonly interrupted?: { readonly checkpoint: string };
}

/**
 * The options `checkTrainLoopOptions` checks: any of a run's (`checkTrainOptions`), and those below against the data.
 */
type CheckedOptions = CheckedTrainOptions &
  Pick<TrainLoopOptions, 'earlyStopping' | 'metricForBestModel' | 'loadBestModelAtEnd' | 'evalMetricNames'>;

/**
 * Every option checked against the data (and the evaluation, `checkAgainstEvaluation`), before a model is built or
 * anything is written: `trainPrepared` calls it as soon as the data is read, `trainLoop` again. Returns the metric
 * that picks the best model.
 */
export function checkTrainLoopOptions(data: { train: Split; test: Split }, options: CheckedOptions): BestMetric {
  checkTrainOptions(options);
  if (data.train.features.length === 0) throw new QaFtError('BAD_DATA', 'the prepared train split has no features');
  const bestMetric = resolveBestMetric(
    options.metricForBestModel ?? (options.loadBestModelAtEnd ? 'loss' : 'f1'),
    EVAL_METRIC_KEYS,
  );
  checkAgainstEvaluation(data.test, options, bestMetric);
  return bestMetric;
}

/** The step counts and identity of a run, from its options and data (checked before anything is written). */
function planRun(data: { train: Split; test: Split }, options: TrainLoopOptions, precision: string) {
  const bestMetric = checkTrainLoopOptions(data, options);
  const batchesPerEpoch = Math.ceil(data.train.features.length / options.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / options.gradientAccumulationSteps);
  const totalSteps = options.maxSteps ?? options.epochs * stepsPerEpoch;
  const warmupSteps = options.warmupSteps ?? warmupStepsFromRatio(options.warmupRatio, totalSteps);
  const run: RunIdentity = {
    data: dataFingerprint(data.train.features, data.test.features),
    seed: options.seed,
    batchSize: options.batchSize,
    gradientAccumulationSteps: options.gradientAccumulationSteps,
    totalSteps,
    learningRate: options.learningRate,
    lrSchedulerType: options.lrSchedulerType ?? DEFAULTS.lrSchedulerType,
    weightDecay: options.weightDecay,
    warmupSteps,
    maxGradNorm: options.maxGradNorm,
    padToMaxLength: options.padToMaxLength,
    precision,
  };
  return {
    batchesPerEpoch,
    stepsPerEpoch,
    totalSteps,
    epochs: Math.ceil(totalSteps / stepsPerEpoch),
    warmupSteps,
    bestMetric,
    run,
  };
}

type RunPlan = ReturnType<typeof planRun>;

/**
 * The options that need evaluations, against the test split, before the first step (a refused run writes nothing):
 * without a test split (`--test-size 0`) nothing is evaluated, so nothing can pick a best model or stop early; and the
 * best-model metric must be one this data's evaluation reports (SQuAD 2.0 figures need unanswerable questions).
 */
function checkAgainstEvaluation(test: Split, options: CheckedOptions, metric: BestMetric): void {
  if (test.features.length === 0) {
    const needing = [
      options.loadBestModelAtEnd ? field('loadBestModelAtEnd') : undefined,
      options.metricForBestModel !== undefined ? field('metricForBestModel') : undefined,
      options.earlyStopping !== undefined ? field('earlyStopping.patience') : undefined,
    ].filter((f) => f !== undefined);
    if (needing.length > 0) {
      const names = needing.flatMap((f, i) => (i === 0 ? [f] : [' and ', f]));
      throw new OptionError(
        'BAD_ARGUMENT',
        [...names, ` need${needing.length === 1 ? 's' : ''} evaluations, but the prepared data has no test split`],
        {
          hint: opt`prepare with ${field('testSize')} above 0`,
        },
      );
    }
    return;
  }
  const names = options.evalMetricNames?.(test);
  if (names !== undefined && !names.includes(metric.key)) throw notEvaluated(metric, names);
}

/** `metricForBestModel` names a figure the evaluation does not report (`available`: the ones it does). */
function notEvaluated(metric: BestMetric, available: readonly string[]): QaFtError {
  const shown = available.filter((k) => k !== 'eval_count');
  return new OptionError(
    'BAD_ARGUMENT',
    opt`${field('metricForBestModel')} ${metric.key} is not among this evaluation's metrics (${shown.join(', ')})`,
    {
      hint: opt`the SQuAD 2.0 figures (HasAns_f1, …) exist only for data with unanswerable questions, or with ${field('versionTwoWithNegative')}`,
    },
  );
}

/** The training loss of an epoch: its mean, and the window since the last log line (HF logs that window's mean). */
class LossTracker {
  constructor(private sums: LossSums = { epochSum: 0, epochCount: 0, windowSum: 0, windowCount: 0 }) {}

  add(loss: number): void {
    const s = this.sums;
    this.sums = {
      epochSum: s.epochSum + loss,
      epochCount: s.epochCount + 1,
      windowSum: s.windowSum + loss,
      windowCount: s.windowCount + 1,
    };
  }

  /** The mean since the previous call; starts the next window. */
  takeWindowMean(): number {
    const mean = this.sums.windowSum / this.sums.windowCount;
    this.sums = { ...this.sums, windowSum: 0, windowCount: 0 };
    return mean;
  }

  get epochMean(): number {
    return this.sums.epochCount > 0 ? this.sums.epochSum / this.sums.epochCount : NaN;
  }

  /** What a checkpoint saves, so a run resumed mid-epoch logs the same means. */
  get state(): LossSums {
    return this.sums;
  }
}

/** Examples per second so far in the epoch and the seconds left at that pace. */
function throughput(
  startedMs: number,
  examples: number,
  remainingExamples: number,
): { examplesPerSecond: number; etaSeconds: number } {
  const seconds = (Date.now() - startedMs) / 1000;
  const examplesPerSecond = seconds > 0 ? examples / seconds : 0;
  return { examplesPerSecond, etaSeconds: examplesPerSecond > 0 ? remainingExamples / examplesPerSecond : 0 };
}

/** A notice event of `text`. */
function notice(text: OptionText): TrainEvent {
  return { type: 'notice', message: spellOptions(text), text };
}

/** A divergence error with where it happened and what was kept. */
function divergedIn(epoch: number, lastCheckpoint: string | undefined, e: QaFtError): OptionError {
  const kept = lastCheckpoint
    ? opt`the last good checkpoint is ${lastCheckpoint} (${field('resume')} continues from it)`
    : opt`no checkpoint was written yet`;
  const cause = e instanceof OptionError ? e : undefined;
  const text = cause?.text ?? opt`${e.message}`;
  const hint = cause?.options.hint ?? (e.hint === undefined ? undefined : opt`${e.hint}`);
  return new OptionError('TRAINING_DIVERGED', [...opt`training diverged in epoch ${epoch}: `, ...text, '; ', ...kept], {
    hint,
    cause: e,
  });
}

export async function trainLoop(
  model: QaModel,
  data: { train: Split; test: Split },
  options: TrainLoopOptions,
): Promise<TrainLoopResult> {
  const emit = options.onEvent ?? (() => {});
  const plan = planRun(data, options, model.precision ?? 'fp32');
  const trainer = createTrainer(model, { ...options, totalSteps: plan.totalSteps, warmupSteps: plan.warmupSteps });
  let lock: DirLock | undefined;
  try {
    // held for the whole run: a second run into the same outDir is refused while this one writes there
    lock = await claimOutDir(options.outDir, {
      resume: options.resume,
      overwriteOutputDir: options.overwriteOutputDir ?? false,
      onNotice: (text) => emit(notice(text)),
    });
    emit({
      type: 'start',
      decay: trainer.decaySummary,
      totalSteps: plan.totalSteps,
      warmupSteps: plan.warmupSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      epochs: plan.epochs,
      trainFeatures: data.train.features.length,
      testFeatures: data.test.features.length,
    });
    const resumed = options.resume
      ? await resumeFromCheckpoint(
          options.outDir,
          plan.run,
          (dir, state) => restoreCheckpoint(dir, model, trainer, state),
          {
            onDamaged: (dir, why) =>
              emit({ type: 'notice', message: `Skipping damaged checkpoint ${dir} (kept as it is): ${why}` }),
            onOtherRun: (dir, why) => emit(notice([`Skipping ${dir}, another run's: `, ...why])),
          },
        )
      : undefined;
    if (resumed)
      emit({ type: 'resumed', checkpoint: resumed.dir, epoch: resumed.state.epoch, step: resumed.state.global_step });
    if (options.stopSignal?.aborted && !resumed)
      throw new QaFtError('INTERRUPTED', 'stopped before the first step; nothing was saved');
    const log = await MetricsLog.open(join(options.outDir, 'metrics.jsonl'), resumed?.state.log_history ?? []);
    // every event is appended as it comes: nothing is buffered, so nothing to close
    const tensorboard = options.reportTo?.includes('tensorboard')
      ? await TensorBoardWriter.open(join(options.outDir, 'runs'))
      : undefined;
    const runner = new StepRunner(model, trainer, data, options, plan, log, tensorboard, emit, resumed);
    const interrupted = await runner.run();
    if (interrupted) return runner.result({ checkpoint: interrupted });

    const best = runner.best;
    if (options.loadBestModelAtEnd && best.bestCheckpoint !== null && best.bestMetric !== null) {
      // by name under this run's outDir: the recorded path may spell outDir as an earlier (resumed) invocation did
      await loadCheckpointWeights(join(options.outDir, basename(best.bestCheckpoint)), model);
      emit({ type: 'best-loaded', dir: best.bestCheckpoint, metric: plan.bestMetric.key, value: best.bestMetric });
    }
    await saveFinalModel(options.outDir, runner.savedParts());
    await writeFileAtomic(join(options.outDir, 'training-curves.svg'), renderTrainingCurves(log.history));
    emit({ type: 'saved', dir: options.outDir });
    return runner.result();
  } finally {
    trainer.dispose();
    await lock?.release();
  }
}

/** Why the step loop ended before its last step. */
type StopReason = 'max-steps' | 'early-stop' | 'interrupt';

/** The steps of a run over its epochs, with the logging, evaluation, checkpoints and stopping between them. */
class StepRunner {
  private readonly loggingSteps: number;
  readonly best: BestState;
  private losses = new LossTracker();
  private epochProgress = 0;
  private lastCheckpoint: string | undefined;
  private lastSavedStep = -1;
  private stopReason: StopReason | undefined;

  constructor(
    private readonly model: QaModel,
    private readonly trainer: Trainer,
    private readonly data: { train: Split; test: Split },
    private readonly options: TrainLoopOptions,
    private readonly plan: RunPlan,
    private readonly log: MetricsLog,
    private readonly tensorboard: TensorBoardWriter | undefined,
    private readonly emit: (e: TrainEvent) => void,
    resumed: { dir: string; state: RunStateFields & { global_step: number } } | undefined,
  ) {
    this.loggingSteps = options.loggingSteps ?? DEFAULTS.loggingSteps;
    const s = resumed?.state;
    this.best = {
      bestMetric: s?.best_metric ?? null,
      bestCheckpoint: s?.best_model_checkpoint ?? null,
      patienceCounter: s?.early_stopping_patience_counter ?? 0,
    };
    if (resumed && s) {
      this.lastCheckpoint = resumed.dir;
      this.lastSavedStep = s.global_step;
      this.epochProgress = s.epoch;
      if (s.global_step % plan.stepsPerEpoch !== 0) this.losses = new LossTracker(s.loss_sums); // mid-epoch: continue its sums
    }
  }

  /** Trains to the end (or a stop); returns the checkpoint saved on an interrupt. */
  async run(): Promise<string | undefined> {
    const { stepsPerEpoch, epochs, totalSteps } = this.plan;
    const done = this.trainer.optimizerStep;
    const firstEpoch = Math.floor(done / stepsPerEpoch) + 1;
    const skip = (done % stepsPerEpoch) * this.options.gradientAccumulationSteps;
    for (let epoch = firstEpoch; epoch <= epochs && this.trainer.optimizerStep < totalSteps; epoch++) {
      const interrupted = await this.trainEpoch(epoch, epoch === firstEpoch ? skip : 0);
      if (interrupted) return interrupted;
      if (this.stopReason === 'early-stop') break;
    }
    return undefined;
  }

  /** Epoch `epoch` (1-based) from batch `skip` on; returns the checkpoint when a stop request ended it. */
  private async trainEpoch(epoch: number, skip: number): Promise<string | undefined> {
    const batches = makeBatches(this.data.train.features, {
      batchSize: this.options.batchSize,
      shuffle: true,
      seed: this.options.seed,
      epoch: epoch - 1, // 0-based, as HF's sampler.set_epoch
      groupByLength: !this.options.padToMaxLength,
      padToMaxLength: this.options.padToMaxLength,
      maxLength: this.options.maxLength,
      padTokenId: this.options.padTokenId,
      tokenTypeIds: takesTokenTypeIds(this.model.config),
    });
    this.emit({ type: 'epoch-start', epoch, batches: batches.length, skipped: skip });
    const started = Date.now();
    if (skip === 0) this.losses = new LossTracker(); // restarts each epoch
    let examples = 0;
    let lastEval: EvalRecord | undefined;
    const afterUpdate = async (
      r: { loss: number; learningRate: number; gradNorm: number },
      batchIndex: number,
    ): Promise<void> => {
      const step = this.trainer.optimizerStep;
      this.losses.add(r.loss);
      const pace = throughput(started, examples, (batches.length - batchIndex - 1) * this.options.batchSize);
      this.emit({
        type: 'step',
        epoch,
        batch: batchIndex + 1,
        batches: batches.length,
        step,
        loss: r.loss,
        learningRate: r.learningRate,
        gradNorm: r.gradNorm,
        ...pace,
      });
      this.epochProgress = round4(epoch - 1 + (batchIndex + 1) / batches.length);
      if (step % this.loggingSteps === 0) {
        await this.report({
          step,
          epoch: this.epochProgress,
          loss: this.losses.takeWindowMean(),
          learning_rate: r.learningRate,
          grad_norm: r.gradNorm,
        });
      }
      if (typeof this.options.evalEvery === 'number' && step % this.options.evalEvery === 0)
        lastEval = await this.evaluateAndSave();
      if (step >= this.plan.totalSteps) this.stopReason ??= 'max-steps';
    };
    const accumulation = this.options.gradientAccumulationSteps;
    try {
      for (let i = skip; i < batches.length && this.stopReason === undefined; i++) {
        // A step holds the thread (the backends compute synchronously): a turn of the event loop before each
        // micro-batch lets a Ctrl-C listener run (microseconds; nothing else is waiting).
        await yieldToEventLoop();
        // a stop request saves between optimizer steps (an epoch starts on one: `skip` is a multiple of
        // `accumulation`) once a step was taken; at the epoch's last step, after the epoch's evaluation below
        if (this.options.stopSignal?.aborted && i % accumulation === 0 && this.trainer.optimizerStep > 0)
          return await this.saveOnce();
        const { batch } = batches[i] as (typeof batches)[number];
        const r = await this.trainer.step(batch);
        examples += batch.inputIds.length;
        if (!r.updated) continue;
        await afterUpdate(r, i);
      }
      if (this.stopReason === undefined) {
        const tail = await this.trainer.flush();
        if (tail) await afterUpdate(tail, batches.length - 1);
      }
    } catch (e) {
      throw isQaFtError(e) && e.code === 'TRAINING_DIVERGED' ? divergedIn(epoch, this.lastCheckpoint, e) : e;
    }
    if (this.options.evalEvery === 'epoch') lastEval = await this.evaluateAndSave();
    this.emit({
      type: 'epoch-end',
      epoch,
      step: this.trainer.optimizerStep,
      trainingLoss: this.losses.epochMean,
      eval: lastEval,
      seconds: (Date.now() - started) / 1000,
    });
    return this.options.stopSignal?.aborted && this.trainer.optimizerStep < this.plan.totalSteps
      ? this.saveOnce()
      : undefined;
  }

  /** An evaluation point: score the test split (if any), then save a checkpoint, rotate, and check early stopping. */
  private async evaluateAndSave(): Promise<EvalRecord | undefined> {
    const step = this.trainer.optimizerStep;
    const dir = join(this.options.outDir, checkpointDirName(step));
    let record: EvalRecord | undefined;
    if (this.data.test.features.length > 0) {
      // prepared with --test-size 0: nothing to score
      this.emit({ type: 'eval-start', epoch: Math.ceil(this.epochProgress), step });
      const r = await this.options.evaluate(this.model, this.data.test);
      record = {
        step,
        epoch: this.epochProgress,
        eval_loss: r.evalLoss,
        eval_exact_match: r.exactMatch,
        eval_f1: r.f1,
        eval_count: r.count,
        ...evalExtras(r),
      };
      await this.report(record);
      this.emit({ type: 'eval', record });
      const metric = this.plan.bestMetric;
      const { stop } = recordEvaluation(
        this.best,
        metricValue(record, metric),
        dir,
        metric,
        this.options.earlyStopping,
      );
      if (stop) {
        this.stopReason = 'early-stop';
        this.emit({
          type: 'early-stop',
          step,
          metric: metric.key,
          patience: this.options.earlyStopping?.patience ?? 0,
        });
      }
    }
    await this.save(dir);
    return record;
  }

  /** Saves `checkpoint-STEP` and rotates old checkpoints out. */
  private async save(dir: string): Promise<void> {
    await saveCheckpoint(dir, this.savedParts());
    this.lastCheckpoint = dir;
    this.lastSavedStep = this.trainer.optimizerStep;
    const limit = this.options.saveTotalLimit;
    const deleted =
      limit === undefined
        ? []
        : await rotateCheckpoints(
            this.options.outDir,
            limit,
            this.options.loadBestModelAtEnd ? this.best.bestCheckpoint : null,
          );
    this.emit({ type: 'checkpoint', dir, step: this.trainer.optimizerStep, deleted });
  }

  /** The checkpoint of the current step, saved unless an evaluation point just saved it. */
  private async saveOnce(): Promise<string> {
    const dir = join(this.options.outDir, checkpointDirName(this.trainer.optimizerStep));
    if (this.lastSavedStep !== this.trainer.optimizerStep) await this.save(dir);
    return dir;
  }

  private async report(record: MetricsRecord): Promise<void> {
    await this.log.append(record);
    await this.tensorboard?.add(record);
  }

  savedParts(): SavedParts {
    const evalSteps = this.options.evalEvery === 'epoch' ? this.plan.stepsPerEpoch : this.options.evalEvery;
    return {
      hf: {
        maxSteps: this.plan.totalSteps,
        numTrainEpochs: this.plan.epochs,
        loggingSteps: this.loggingSteps,
        evalSteps,
        saveSteps: evalSteps,
        trainBatchSize: this.options.batchSize,
      },
      model: this.model,
      trainer: this.trainer,
      tokenizerFiles: this.options.tokenizerFiles,
      ...(this.options.tokenizerConfig === undefined ? {} : { tokenizerConfig: this.options.tokenizerConfig }),
      state: {
        epoch: this.epochProgress,
        rng: { seed: this.options.seed },
        best_metric: this.best.bestMetric,
        best_model_checkpoint: this.best.bestCheckpoint,
        early_stopping_patience_counter: this.best.patienceCounter,
        loss_sums: this.losses.state,
        run: this.plan.run,
        log_history: this.log.history,
      },
    };
  }

  result(interrupted?: { checkpoint: string }): TrainLoopResult {
    return {
      globalStep: this.trainer.optimizerStep,
      epochs: this.epochProgress,
      history: this.log.history,
      bestMetric: this.best.bestMetric,
      bestCheckpoint: this.best.bestCheckpoint,
      outDir: this.options.outDir,
      ...(interrupted ? { interrupted } : {}),
    };
  }
}

/**
 * The best-model metric's value in `record`; absent (a SQuAD 2.0 figure of a v1 evaluation) is a one-line error, as
 * HF's.
 */
function metricValue(record: EvalRecord, metric: BestMetric): number {
  const fields = record as unknown as Readonly<Record<string, unknown>>;
  const value = fields[metric.key];
  if (typeof value === 'number') return value;
  throw notEvaluated(
    metric,
    Object.keys(fields).filter((k) => k.startsWith('eval_')),
  );
}

/** An evaluation's further figures as eval record keys (`HasAns_f1` → `eval_HasAns_f1`, as HF logs them). */
function evalExtras(r: EvalResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.extraMetrics ?? {}).map(([k, v]) => [`eval_${k}`, v]));
}

/** Resolves after a turn of the event loop (its I/O and signal listeners run first). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
