/**
 * Checkpoints: `checkpoint-epoch-N/` with `config.json` + `model.safetensors` (the model's own `save`),
 * the tokenizer files, `optimizer.safetensors` (AdamW moments by parameter name, step in the metadata) and
 * `trainer_state.json` (epoch, step, RNG state, best metric, metrics history). A checkpoint is filled in a
 * temporary sibling directory and renamed into place, so a killed run never leaves a half-written one; only
 * directories with a `trainer_state.json` (written last) count as complete.
 */
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstLine, QaFtError } from '../errors.js';
import type { QaModel } from '../model/types.js';
import { readSafetensors, writeSafetensors, type TensorSource } from '../model/safetensors.js';
import { writeDirAtomic } from '../util/atomic.js';
import type { MetricsRecord } from './metrics-log.js';
import type { Trainer } from './trainer.js';

const CHECKPOINT_PREFIX = 'checkpoint-epoch-';
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** The run settings a resumed run must share with the checkpoint to reach the same weights. */
export interface RunIdentity {
  readonly seed: number;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly totalSteps: number;
  readonly learningRate: number;
  readonly padToMaxLength: boolean;
}

export interface TrainerStateFile {
  readonly format: 'qa-ft-trainer-state/1';
  /** Completed epochs. */
  readonly epoch: number;
  /** Completed optimizer steps (HF `global_step`). */
  readonly global_step: number;
  /** Micro-batches seen (dropout seeds derive from it). */
  readonly micro_step: number;
  /** RNG state: batch order is a pure function of (seed, epoch), dropout of (seed, micro_step). */
  readonly rng: { readonly seed: number; readonly next_epoch: number };
  readonly best_metric: number | null;
  readonly best_model_checkpoint: string | null;
  readonly run: RunIdentity;
  readonly log_history: readonly MetricsRecord[];
}

export function checkpointDirName(epoch: number): string {
  return `${CHECKPOINT_PREFIX}${epoch}`;
}

/** Copies the tokenizer files into `dir`. */
export async function copyTokenizerFiles(files: readonly string[], dir: string): Promise<void> {
  for (const f of files) await copyFile(f, join(dir, basename(f)));
}

export async function saveCheckpoint(
  dir: string,
  parts: { model: QaModel; trainer: Trainer; tokenizerFiles: readonly string[]; state: Omit<TrainerStateFile, 'format' | 'micro_step' | 'global_step'> },
): Promise<void> {
  const trainerState = await parts.trainer.exportState();
  await writeDirAtomic(dir, async (tmp) => {
    await parts.model.save(tmp);
    await copyTokenizerFiles(parts.tokenizerFiles, tmp);
    const tensors = new Map<string, TensorSource>();
    for (const [name, t] of trainerState.optimizer.tensors) tensors.set(name, t);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors, { format: 'qa-ft-adamw', step: String(trainerState.optimizer.step) });
    const state: TrainerStateFile = {
      format: 'qa-ft-trainer-state/1',
      ...parts.state,
      global_step: trainerState.optimizer.step,
      micro_step: trainerState.microStep,
    };
    await writeFile(join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  });
}

/** The newest complete `checkpoint-epoch-N` under `outDir`, or undefined. */
export async function findLatestCheckpoint(outDir: string): Promise<{ dir: string; epoch: number } | undefined> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return undefined;
  }
  let best: { dir: string; epoch: number } | undefined;
  for (const name of names) {
    const m = /^checkpoint-epoch-(\d+)$/.exec(name);
    if (!m) continue;
    const dir = join(outDir, name);
    const epoch = Number(m[1]);
    const complete = await stat(join(dir, TRAINER_STATE_FILE)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (complete && (!best || epoch > best.epoch)) best = { dir, epoch };
  }
  return best;
}

export async function readTrainerState(dir: string): Promise<TrainerStateFile> {
  const path = join(dir, TRAINER_STATE_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON: ${firstLine(e)}`);
  }
  const s = json as Partial<TrainerStateFile>;
  if (s.format !== 'qa-ft-trainer-state/1' || typeof s.epoch !== 'number' || typeof s.global_step !== 'number' || !s.run || !Array.isArray(s.log_history)) {
    throw new QaFtError('BAD_FORMAT', `${path}: expected a qa-ft trainer state (format qa-ft-trainer-state/1 with epoch, global_step, run, log_history)`);
  }
  return s as TrainerStateFile;
}

/** Loads a checkpoint's weights into `model` (by name, shapes checked) and its optimizer state into `trainer`. */
export async function restoreCheckpoint(dir: string, model: QaModel, trainer: Trainer, state: TrainerStateFile): Promise<void> {
  const weightsPath = join(dir, 'model.safetensors');
  const weights = await readSafetensors(weightsPath);
  const missing = [...model.params.keys()].filter((n) => !weights.has(n));
  if (missing.length > 0) {
    throw new QaFtError('BAD_WEIGHTS', `${weightsPath}: missing ${missing.length} parameter(s): ${missing.slice(0, 3).join(', ')}`);
  }
  for (const [name, p] of model.params) {
    const t = weights.get(name) as { shape: number[]; data: Float32Array };
    if (t.shape.join(',') !== p.shape.join(',')) {
      throw new QaFtError('BAD_WEIGHTS', `${weightsPath}: '${name}' has shape [${t.shape}], expected [${p.shape}]`);
    }
  }
  for (const [name, p] of model.params) {
    const t = weights.get(name) as { shape: number[]; data: Float32Array };
    const value = tf.tensor(t.data, p.shape, 'float32');
    p.assign(value);
    value.dispose();
  }
  const optimizerPath = join(dir, OPTIMIZER_FILE);
  const moments = await readSafetensors(optimizerPath);
  const step = Number(moments.metadata.step);
  if (step !== state.global_step) {
    throw new QaFtError('BAD_FORMAT', `${optimizerPath}: step ${moments.metadata.step} does not match trainer_state.json global_step ${state.global_step}`);
  }
  trainer.importState({ optimizer: { step, tensors: moments }, microStep: state.micro_step }, optimizerPath);
}

/** Checks a resumed run against the checkpoint's settings; a difference would break "same final weights". */
export function checkSameRun(checkpoint: RunIdentity, current: RunIdentity, source: string): void {
  for (const key of Object.keys(current) as (keyof RunIdentity)[]) {
    if (checkpoint[key] !== current[key]) {
      throw new QaFtError('BAD_ARGUMENT', `${source} was trained with ${key} = ${checkpoint[key]}, this run has ${current[key]}`, {
        hint: 'resume with the same options, or train into a new --out',
      });
    }
  }
}
