/**
 * The epoch loop of `qa-ft train`: batches (seeded shuffle per epoch, length-grouped dynamic padding by default),
 * trainer steps, evaluation after each epoch or every N steps, checkpoints after each epoch, the metrics log and
 * curves, and the final model in `outDir`, which is locked for the run and checked first (`claimOutDir`: another
 * run's outputs are resumed, overwritten or refused). Resuming continues from the newest complete checkpoint; batch order is a
 * pure function of (seed, epoch) and dropout of (seed, micro-step), so the final weights equal an uninterrupted
 * run's. Progress goes out through `onEvent`; nothing here prints.
 */
import { join } from 'node:path';
import { QaFtError, isQaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import type { QaModel } from '../model/types.js';
import { makeBatches } from '../tokenize/batches.js';
import type { Feature } from '../records.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { DirLock } from '../util/dir-lock.js';
import type { DecaySummary } from './adamw.js';
import {
  checkpointDirName,
  dataFingerprint,
  findResumeCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  saveFinalModel,
  type RunIdentity,
  type RunStateFields,
} from './checkpoint.js';
import { renderTrainingCurves } from './curves-svg.js';
import { MetricsLog, type EvalRecord, type MetricsRecord } from './metrics-log.js';
import { claimOutDir } from './out-dir.js';
import { warmupStepsFromRatio } from './schedule.js';
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

export interface TrainLoopOptions {
  readonly outDir: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly maxGradNorm: number;
  readonly gradientAccumulationSteps: number;
  readonly seed: number;
  readonly padToMaxLength: boolean;
  /** The prepared features' max length (the width with `padToMaxLength`). */
  readonly maxLength: number;
  readonly padTokenId: number;
  /** Evaluate after each epoch, or every N optimizer steps. */
  readonly evalEvery: 'epoch' | number;
  /** A step record goes to `metrics.jsonl` every this many optimizer steps (default 10). */
  readonly loggingSteps?: number;
  readonly resume: boolean;
  /**
   * Delete a previous run's checkpoints and outputs in `outDir` first (HF's `overwrite_output_dir`); without it (or
   * `resume`) an `outDir` holding them is refused. Other files in `outDir` are kept either way.
   */
  readonly overwriteOutputDir?: boolean;
  /** Tokenizer files copied into every checkpoint and the final model. */
  readonly tokenizerFiles: readonly string[];
  /** Scores the model on the test split (the command passes `evaluateModel`). */
  readonly evaluate: (model: QaModel, split: Split) => Promise<EvalResult>;
  readonly onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | { type: 'start'; decay: DecaySummary; totalSteps: number; warmupSteps: number; stepsPerEpoch: number; trainFeatures: number; testFeatures: number }
  | { type: 'resumed'; checkpoint: string; epoch: number; step: number }
  | { type: 'notice'; message: string }
  | { type: 'epoch-start'; epoch: number; batches: number }
  | { type: 'step'; epoch: number; batch: number; batches: number; step: number; loss: number; learningRate: number; gradNorm: number; examplesPerSecond: number; etaSeconds: number }
  | { type: 'eval-start'; epoch: number; step: number }
  | { type: 'eval'; record: EvalRecord }
  | { type: 'epoch-end'; epoch: number; step: number; trainingLoss: number; eval?: EvalRecord; seconds: number }
  | { type: 'checkpoint'; dir: string; epoch: number }
  | { type: 'saved'; dir: string };

export interface TrainLoopResult {
  readonly globalStep: number;
  readonly epochs: number;
  readonly history: readonly MetricsRecord[];
  readonly bestMetric: number | null;
  readonly outDir: string;
}

function batchesFor(split: Split, options: TrainLoopOptions, epoch: number) {
  return makeBatches(split.features, {
    batchSize: options.batchSize,
    shuffle: true,
    seed: options.seed,
    epoch: epoch - 1, // 0-based, as HF's sampler.set_epoch
    groupByLength: !options.padToMaxLength,
    padToMaxLength: options.padToMaxLength,
    maxLength: options.maxLength,
    padTokenId: options.padTokenId,
  });
}

/** The step counts and identity of a run, from its options and data (checked first). */
function planRun(data: { train: Split; test: Split }, options: TrainLoopOptions) {
  if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--epochs must be an integer >= 1, got ${options.epochs}`);
  }
  if (data.train.features.length === 0) throw new QaFtError('BAD_DATA', 'the prepared train split has no features');
  const batchesPerEpoch = Math.ceil(data.train.features.length / options.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / options.gradientAccumulationSteps);
  const totalSteps = options.epochs * stepsPerEpoch;
  const run: RunIdentity = {
    data: dataFingerprint(data.train.features, data.test.features),
    seed: options.seed,
    batchSize: options.batchSize,
    gradientAccumulationSteps: options.gradientAccumulationSteps,
    totalSteps,
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
    warmupRatio: options.warmupRatio,
    maxGradNorm: options.maxGradNorm,
    padToMaxLength: options.padToMaxLength,
  };
  return { stepsPerEpoch, totalSteps, warmupSteps: warmupStepsFromRatio(options.warmupRatio, totalSteps), run };
}

/** Where a run stands between epochs: what a checkpoint saves and a resumed run starts from. */
interface RunProgress {
  /** Epochs completed. */
  epoch: number;
  bestMetric: number | null;
  bestCheckpoint: string | null;
  lastCheckpoint?: string;
}

/** Loads the newest checkpoint of this run into the model and trainer; returns where it stood and its log. */
async function resumeRun(model: QaModel, trainer: Trainer, run: RunIdentity, options: TrainLoopOptions, emit: (e: TrainEvent) => void) {
  const { dir, state } = await findResumeCheckpoint(options.outDir, run, (skipped, why) =>
    emit({ type: 'notice', message: `Skipping ${skipped}, another run's: ${why}` }),
  );
  await restoreCheckpoint(dir, model, trainer, state);
  emit({ type: 'resumed', checkpoint: dir, epoch: state.epoch, step: state.global_step });
  const progress: RunProgress = { epoch: state.epoch, bestMetric: state.best_metric, bestCheckpoint: state.best_model_checkpoint, lastCheckpoint: dir };
  return { progress, history: state.log_history };
}

/** The training loss of an epoch: its mean, and the window since the last log line (HF logs that window's mean). */
class LossTracker {
  private sum = 0;
  private count = 0;
  private windowSum = 0;
  private windowCount = 0;

  add(loss: number): void {
    this.sum += loss;
    this.count += 1;
    this.windowSum += loss;
    this.windowCount += 1;
  }

  /** The mean since the previous call; starts the next window. */
  takeWindowMean(): number {
    const mean = this.windowSum / this.windowCount;
    this.windowSum = 0;
    this.windowCount = 0;
    return mean;
  }

  get epochMean(): number {
    return this.count > 0 ? this.sum / this.count : NaN;
  }
}

/** Examples per second so far in the epoch and the seconds left at that pace. */
function throughput(startedMs: number, examples: number, remainingExamples: number): { examplesPerSecond: number; etaSeconds: number } {
  const seconds = (Date.now() - startedMs) / 1000;
  const examplesPerSecond = seconds > 0 ? examples / seconds : 0;
  return { examplesPerSecond, etaSeconds: examplesPerSecond > 0 ? remainingExamples / examplesPerSecond : 0 };
}

/** A divergence error with where it happened and what was kept. */
function divergedIn(epoch: number, lastCheckpoint: string | undefined, e: QaFtError): QaFtError {
  const kept = lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint} (--resume continues from it)` : 'no checkpoint was written yet';
  return new QaFtError('TRAINING_DIVERGED', `training diverged in epoch ${epoch}: ${e.message}; ${kept}`, { hint: e.hint, cause: e });
}

export async function trainLoop(model: QaModel, data: { train: Split; test: Split }, options: TrainLoopOptions): Promise<TrainLoopResult> {
  const emit = options.onEvent ?? (() => {});
  const { stepsPerEpoch, totalSteps, warmupSteps, run } = planRun(data, options);
  const trainer = createTrainer(model, { ...options, totalSteps, warmupSteps });
  let lock: DirLock | undefined;
  try {
    // held for the whole run: a second run into the same outDir is refused while this one writes there
    lock = await claimOutDir(options.outDir, {
      resume: options.resume,
      overwriteOutputDir: options.overwriteOutputDir ?? false,
      onNotice: (message) => emit({ type: 'notice', message }),
    });
    emit({ type: 'start', decay: trainer.decaySummary, totalSteps, warmupSteps, stepsPerEpoch, trainFeatures: data.train.features.length, testFeatures: data.test.features.length });
    const resumed = options.resume ? await resumeRun(model, trainer, run, options, emit) : undefined;
    const progress: RunProgress = resumed?.progress ?? { epoch: 0, bestMetric: null, bestCheckpoint: null };
    const log = await MetricsLog.open(join(options.outDir, 'metrics.jsonl'), resumed?.history ?? []);
    const epochs = new EpochRunner(model, trainer, data, options, log, progress, emit);
    const saved = (): { model: QaModel; trainer: Trainer; tokenizerFiles: readonly string[]; state: RunStateFields } => ({
      model,
      trainer,
      tokenizerFiles: options.tokenizerFiles,
      state: {
        epoch: progress.epoch,
        rng: { seed: run.seed, next_epoch: progress.epoch + 1 },
        best_metric: progress.bestMetric,
        best_model_checkpoint: progress.bestCheckpoint,
        run,
        log_history: log.history,
      },
    });

    for (let epoch = progress.epoch + 1; epoch <= options.epochs; epoch++) {
      const started = Date.now();
      const trained = await epochs.train(epoch);
      const evaluated = options.evalEvery === 'epoch' ? await epochs.evaluate(epoch) : trained.lastEval;
      progress.epoch = epoch;
      const dir = join(options.outDir, checkpointDirName(epoch));
      await saveCheckpoint(dir, saved());
      progress.lastCheckpoint = dir;
      emit({ type: 'checkpoint', dir, epoch });
      emit({ type: 'epoch-end', epoch, step: trainer.optimizerStep, trainingLoss: trained.trainingLoss, eval: evaluated, seconds: (Date.now() - started) / 1000 });
    }

    await saveFinalModel(options.outDir, saved());
    await writeFileAtomic(join(options.outDir, 'training-curves.svg'), renderTrainingCurves(log.history));
    emit({ type: 'saved', dir: options.outDir });
    return { globalStep: trainer.optimizerStep, epochs: options.epochs, history: log.history, bestMetric: progress.bestMetric, outDir: options.outDir };
  } finally {
    trainer.dispose();
    await lock?.release();
  }
}

/** One epoch's steps, with the logging and step-wise evaluation between them; and evaluation itself. */
class EpochRunner {
  private readonly loggingSteps: number;

  constructor(
    private readonly model: QaModel,
    private readonly trainer: Trainer,
    private readonly data: { train: Split; test: Split },
    private readonly options: TrainLoopOptions,
    private readonly log: MetricsLog,
    private readonly progress: RunProgress,
    private readonly emit: (e: TrainEvent) => void,
  ) {
    this.loggingSteps = options.loggingSteps ?? 10;
  }

  /** Trains epoch `epoch` (1-based) over its batches; the mean training loss and the last step-wise evaluation. */
  async train(epoch: number): Promise<{ trainingLoss: number; lastEval?: EvalRecord }> {
    const batches = batchesFor(this.data.train, this.options, epoch);
    this.emit({ type: 'epoch-start', epoch, batches: batches.length });
    const started = Date.now();
    const losses = new LossTracker(); // restarts each epoch, so a resumed run logs what an uninterrupted one does
    let examples = 0;
    let lastEval: EvalRecord | undefined;
    const afterUpdate = async (r: { loss: number; learningRate: number; gradNorm: number }, batchIndex: number): Promise<void> => {
      const step = this.trainer.optimizerStep;
      losses.add(r.loss);
      const pace = throughput(started, examples, (batches.length - batchIndex - 1) * this.options.batchSize);
      this.emit({ type: 'step', epoch, batch: batchIndex + 1, batches: batches.length, step, loss: r.loss, learningRate: r.learningRate, gradNorm: r.gradNorm, ...pace });
      const epochProgress = round4(epoch - 1 + (batchIndex + 1) / batches.length);
      if (step % this.loggingSteps === 0) {
        await this.log.append({ step, epoch: epochProgress, loss: losses.takeWindowMean(), learning_rate: r.learningRate, grad_norm: r.gradNorm });
      }
      if (typeof this.options.evalEvery === 'number' && step % this.options.evalEvery === 0) lastEval = await this.evaluate(epochProgress);
    };
    try {
      for (const [i, { batch }] of batches.entries()) {
        const r = await this.trainer.step(batch);
        examples += batch.inputIds.length;
        if (r.updated) await afterUpdate(r, i);
      }
      const tail = await this.trainer.flush();
      if (tail) await afterUpdate(tail, batches.length - 1);
    } catch (e) {
      throw isQaFtError(e) && e.code === 'TRAINING_DIVERGED' ? divergedIn(epoch, this.progress.lastCheckpoint, e) : e;
    }
    return { trainingLoss: losses.epochMean, lastEval };
  }

  /** Scores the test split, logs the record and keeps the best F1 (with the checkpoint of its epoch). */
  async evaluate(epochProgress: number): Promise<EvalRecord | undefined> {
    if (this.data.test.features.length === 0) return undefined; // prepared with --test-size 0: nothing to score
    const step = this.trainer.optimizerStep;
    this.emit({ type: 'eval-start', epoch: Math.ceil(epochProgress), step });
    const r = await this.options.evaluate(this.model, this.data.test);
    const record: EvalRecord = { step, epoch: epochProgress, eval_loss: r.evalLoss, eval_exact_match: r.exactMatch, eval_f1: r.f1, eval_count: r.count, ...evalExtras(r) };
    await this.log.append(record);
    if (this.progress.bestMetric === null || r.f1 > this.progress.bestMetric) {
      this.progress.bestMetric = r.f1;
      this.progress.bestCheckpoint = join(this.options.outDir, checkpointDirName(Math.ceil(epochProgress)));
    }
    this.emit({ type: 'eval', record });
    return record;
  }
}

/** An evaluation's further figures as eval record keys (`HasAns_f1` → `eval_HasAns_f1`, as HF logs them). */
function evalExtras(r: EvalResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.extraMetrics ?? {}).map(([k, v]) => [`eval_${k}`, v]));
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
