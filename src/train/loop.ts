/**
 * The epoch loop of `qa-ft train`: batches (seeded shuffle per epoch, length-grouped dynamic padding by default),
 * trainer steps, evaluation after each epoch or every N steps, checkpoints after each epoch, the metrics log and
 * curves, and the final model in `outDir`. Resuming continues from the newest complete checkpoint; batch order is a
 * pure function of (seed, epoch) and dropout of (seed, micro-step), so the final weights equal an uninterrupted
 * run's. Progress goes out through `onEvent`; nothing here prints.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QaFtError, isQaFtError } from '../errors.js';
import type { SquadRow } from '../data/types.js';
import type { QaModel } from '../model/types.js';
import { makeBatches } from '../tokenize/batches.js';
import type { Feature } from '../tokenize/types.js';
import { sweepStaleTemps, tempSibling, writeFileAtomic } from '../util/atomic.js';
import type { DecaySummary } from './adamw.js';
import {
  checkpointDirName,
  copyTokenizerFiles,
  dataFingerprint,
  findResumeCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  TRAINER_STATE_FILE,
  type RunIdentity,
  type TrainerStateFile,
} from './checkpoint.js';
import { renderTrainingCurves } from './curves-svg.js';
import { MetricsLog, type EvalRecord, type MetricsRecord } from './metrics-log.js';
import { warmupStepsFromRatio } from './schedule.js';
import { createTrainer } from './trainer.js';

export interface Split {
  readonly rows: readonly SquadRow[];
  readonly features: readonly Feature[];
}

export interface EvalResult {
  readonly evalLoss: number;
  readonly exactMatch: number;
  readonly f1: number;
  readonly count: number;
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

export async function trainLoop(model: QaModel, data: { train: Split; test: Split }, options: TrainLoopOptions): Promise<TrainLoopResult> {
  const emit = options.onEvent ?? (() => {});
  if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--epochs must be an integer >= 1, got ${options.epochs}`);
  }
  if (data.train.features.length === 0) throw new QaFtError('BAD_DATA', 'the prepared train split has no features');
  const accumulation = options.gradientAccumulationSteps;
  const batchesPerEpoch = Math.ceil(data.train.features.length / options.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / accumulation);
  const totalSteps = options.epochs * stepsPerEpoch;
  const warmupSteps = warmupStepsFromRatio(options.warmupRatio, totalSteps);
  const loggingSteps = options.loggingSteps ?? 10;
  const trainer = createTrainer(model, { ...options, totalSteps, warmupSteps, gradientAccumulationSteps: accumulation });
  const run: RunIdentity = {
    data: dataFingerprint(data.train.features, data.test.features),
    seed: options.seed,
    batchSize: options.batchSize,
    gradientAccumulationSteps: accumulation,
    totalSteps,
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
    warmupRatio: options.warmupRatio,
    maxGradNorm: options.maxGradNorm,
    padToMaxLength: options.padToMaxLength,
  };
  try {
    const swept = await sweepStaleTemps(options.outDir, isTrainOutput);
    if (swept.length > 0) emit({ type: 'notice', message: `Removed what killed runs left in ${options.outDir}: ${swept.join(', ')}` });
    emit({ type: 'start', decay: trainer.decaySummary, totalSteps, warmupSteps, stepsPerEpoch, trainFeatures: data.train.features.length, testFeatures: data.test.features.length });
    let startEpoch = 1;
    let bestMetric: number | null = null;
    let bestCheckpoint: string | null = null;
    let history: readonly MetricsRecord[] = [];
    let lastCheckpoint: string | undefined;
    if (options.resume) {
      const latest = await findResumeCheckpoint(options.outDir, run, (dir, why) =>
        emit({ type: 'notice', message: `Skipping ${dir}, another run's: ${why}` }),
      );
      const state = latest.state;
      await restoreCheckpoint(latest.dir, model, trainer, state);
      startEpoch = state.epoch + 1;
      bestMetric = state.best_metric;
      bestCheckpoint = state.best_model_checkpoint;
      history = state.log_history;
      lastCheckpoint = latest.dir;
      emit({ type: 'resumed', checkpoint: latest.dir, epoch: state.epoch, step: state.global_step });
    }
    const log = await MetricsLog.open(join(options.outDir, 'metrics.jsonl'), history);

    const evaluate = async (epochProgress: number): Promise<EvalRecord | undefined> => {
      if (data.test.features.length === 0) return undefined; // prepared with --test-size 0: nothing to score
      emit({ type: 'eval-start', epoch: Math.ceil(epochProgress), step: trainer.optimizerStep });
      const r = await options.evaluate(model, data.test);
      const record: EvalRecord = {
        step: trainer.optimizerStep,
        epoch: epochProgress,
        eval_loss: r.evalLoss,
        eval_exact_match: r.exactMatch,
        eval_f1: r.f1,
        eval_count: r.count,
      };
      await log.append(record);
      if (bestMetric === null || r.f1 > bestMetric) {
        bestMetric = r.f1;
        bestCheckpoint = join(options.outDir, checkpointDirName(Math.ceil(epochProgress)));
      }
      emit({ type: 'eval', record });
      return record;
    };

    for (let epoch = startEpoch; epoch <= options.epochs; epoch++) {
      const batches = batchesFor(data.train, options, epoch);
      emit({ type: 'epoch-start', epoch, batches: batches.length });
      const started = Date.now();
      let examples = 0;
      let lossSum = 0;
      let lossCount = 0;
      // a logged loss is the mean since the previous log (HF); the window restarts each epoch so that a resumed
      // run logs exactly what an uninterrupted one does
      let window = { sum: 0, count: 0 };
      let lastEval: EvalRecord | undefined;
      const afterUpdate = async (loss: number, learningRate: number, gradNorm: number, batchIndex: number): Promise<void> => {
        const step = trainer.optimizerStep;
        lossSum += loss;
        lossCount += 1;
        window = { sum: window.sum + loss, count: window.count + 1 };
        const seconds = (Date.now() - started) / 1000;
        const perSecond = seconds > 0 ? examples / seconds : 0;
        const remaining = (batches.length - batchIndex - 1) * options.batchSize;
        emit({ type: 'step', epoch, batch: batchIndex + 1, batches: batches.length, step, loss, learningRate, gradNorm, examplesPerSecond: perSecond, etaSeconds: perSecond > 0 ? remaining / perSecond : 0 });
        const epochProgress = epoch - 1 + (batchIndex + 1) / batches.length;
        if (step % loggingSteps === 0) {
          await log.append({ step, epoch: round4(epochProgress), loss: window.sum / window.count, learning_rate: learningRate, grad_norm: gradNorm });
          window = { sum: 0, count: 0 };
        }
        if (typeof options.evalEvery === 'number' && step % options.evalEvery === 0) lastEval = await evaluate(round4(epochProgress));
      };
      try {
        for (let i = 0; i < batches.length; i++) {
          const { batch } = batches[i] as (typeof batches)[number];
          const r = await trainer.step(batch);
          examples += batch.inputIds.length;
          if (r.updated) await afterUpdate(r.loss, r.learningRate, r.gradNorm, i);
        }
        const tail = await trainer.flush();
        if (tail) await afterUpdate(tail.loss, tail.learningRate, tail.gradNorm, batches.length - 1);
      } catch (e) {
        if (isQaFtError(e) && e.code === 'TRAINING_DIVERGED') {
          const kept = lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint} (--resume continues from it)` : 'no checkpoint was written yet';
          throw new QaFtError('TRAINING_DIVERGED', `training diverged in epoch ${epoch}: ${e.message}; ${kept}`, { hint: e.hint, cause: e });
        }
        throw e;
      }
      if (options.evalEvery === 'epoch') lastEval = await evaluate(epoch);
      const dir = join(options.outDir, checkpointDirName(epoch));
      await saveCheckpoint(dir, {
        model,
        trainer,
        tokenizerFiles: options.tokenizerFiles,
        state: stateFields(epoch, run, bestMetric, bestCheckpoint, log.history),
      });
      lastCheckpoint = dir;
      emit({ type: 'checkpoint', dir, epoch });
      emit({ type: 'epoch-end', epoch, step: trainer.optimizerStep, trainingLoss: lossCount > 0 ? lossSum / lossCount : NaN, eval: lastEval, seconds: (Date.now() - started) / 1000 });
    }

    await saveFinal(model, options, {
      format: 'qa-ft-trainer-state/1',
      ...stateFields(options.epochs, run, bestMetric, bestCheckpoint, log.history),
      global_step: trainer.optimizerStep,
      micro_step: trainer.microStep,
    });
    await writeFileAtomic(join(options.outDir, 'training-curves.svg'), renderTrainingCurves(log.history));
    emit({ type: 'saved', dir: options.outDir });
    return { globalStep: trainer.optimizerStep, epochs: options.epochs, history: log.history, bestMetric, outDir: options.outDir };
  } finally {
    trainer.dispose();
  }
}

function stateFields(epoch: number, run: RunIdentity, best: number | null, bestCheckpoint: string | null, history: readonly MetricsRecord[]) {
  return {
    epoch,
    rng: { seed: run.seed, next_epoch: epoch + 1 },
    best_metric: best,
    best_model_checkpoint: bestCheckpoint,
    run,
    log_history: history,
  };
}

/** What a training run writes in its `outDir`, by name: its temporary siblings are the run's to sweep. */
function isTrainOutput(name: string): boolean {
  return /^checkpoint-epoch-\d+$/.test(name) || name === FINAL_STAGING || name === 'training-curves.svg';
}

/** The name (of a temporary directory) the final model is staged under. */
const FINAL_STAGING = 'final';

/** The final model in `outDir` itself (HF layout): written to a temporary sibling, then each file renamed in. */
async function saveFinal(model: QaModel, options: TrainLoopOptions, state: TrainerStateFile): Promise<void> {
  const tmp = tempSibling(join(options.outDir, FINAL_STAGING));
  await mkdir(tmp, { recursive: true });
  try {
    await model.save(tmp);
    await copyTokenizerFiles(options.tokenizerFiles, tmp);
    await writeFile(join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    for (const name of await readdir(tmp)) await rename(join(tmp, name), join(options.outDir, name));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
