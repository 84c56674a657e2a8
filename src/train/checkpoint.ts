/**
 * Checkpoints and the files a training run leaves, owned here: `checkpoint-epoch-N/` with `config.json` +
 * `model.safetensors` (the model's own `save`), the tokenizer files, `optimizer.safetensors` (AdamW moments by
 * parameter name, step in the metadata) and `trainer_state.json` (epoch, step, RNG state, best metric, metrics
 * history, the run's identity); the final model in `outDir` with its `trainer_state.json`; finding the checkpoint a
 * resumed run continues from. A checkpoint is filled in a temporary sibling directory and renamed into place, so a
 * killed run never leaves a half-written one; only directories with a `trainer_state.json` (written last) count.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { firstLine, QaFtError } from '../errors.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { readSafetensors, SafetensorsFile, writeSafetensors, type TensorSource } from '../model/safetensors.js';
import { assignWeights } from '../model/weights.js';
import { tempSibling, writeDirAtomic } from '../util/atomic.js';
import type { MetricsRecord } from './metrics-log.js';
import type { Trainer } from './trainer.js';
import { WEIGHTS_FILE } from '../hf-files.js';

const CHECKPOINT_PREFIX = 'checkpoint-epoch-';
const TRAINER_STATE_FILE = 'trainer_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const TRAINER_STATE_FORMAT = 'qa-ft-trainer-state/1';
/** The name (of a temporary directory) the final model is staged under. */
const FINAL_STAGING = 'final';

/** The run settings a resumed run must share with the checkpoint to reach the same weights (and metrics). */
export interface RunIdentity {
  /** `dataFingerprint` of the train and test features. */
  readonly data: string;
  readonly seed: number;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly totalSteps: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly maxGradNorm: number;
  readonly padToMaxLength: boolean;
}

/** The option that sets each part of the identity, for messages. */
const IDENTITY_OPTION: Record<keyof RunIdentity, string> = {
  data: '--data',
  seed: '--seed',
  batchSize: '--batch-size',
  gradientAccumulationSteps: '--gradient-accumulation-steps',
  totalSteps: 'the total steps (--epochs × steps per epoch)',
  learningRate: '--lr',
  weightDecay: '--weight-decay',
  warmupRatio: '--warmup-ratio',
  maxGradNorm: '--max-grad-norm',
  padToMaxLength: '--pad-to-max-length',
};

/**
 * A short hash of what the model trains and is scored on: every feature's example id, token ids and labels,
 * train then test. Two prepares of different data (or the same data tokenized differently) differ.
 */
export function dataFingerprint(train: readonly Feature[], test: readonly Feature[]): string {
  const hash = createHash('sha256');
  for (const features of [train, test]) {
    hash.update(`${features.length};`);
    for (const f of features) {
      hash.update(`${f.exampleId}\0${f.startPosition},${f.endPosition},${f.inputIds.length}\0`);
      hash.update(new Uint8Array(Int32Array.from(f.inputIds).buffer));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

interface TrainerStateFile {
  readonly format: typeof TRAINER_STATE_FORMAT;
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
async function copyTokenizerFiles(files: readonly string[], dir: string): Promise<void> {
  for (const f of files) await copyFile(f, join(dir, basename(f)));
}

/** What the loop knows of its run when it saves; the step counters come from the trainer. */
export type RunStateFields = Omit<TrainerStateFile, 'format' | 'micro_step' | 'global_step'>;

function trainerStateJson(fields: RunStateFields, trainer: Pick<Trainer, 'optimizerStep' | 'microStep'>): string {
  const state: TrainerStateFile = { format: TRAINER_STATE_FORMAT, ...fields, global_step: trainer.optimizerStep, micro_step: trainer.microStep };
  return `${JSON.stringify(state, null, 2)}\n`;
}

export async function saveCheckpoint(dir: string, parts: { model: QaModel; trainer: Trainer; tokenizerFiles: readonly string[]; state: RunStateFields }): Promise<void> {
  const trainerState = await parts.trainer.exportState();
  await writeDirAtomic(dir, async (tmp) => {
    await parts.model.save(tmp);
    await copyTokenizerFiles(parts.tokenizerFiles, tmp);
    const tensors = new Map<string, TensorSource>();
    for (const [name, t] of trainerState.optimizer.tensors) tensors.set(name, t);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors, { format: 'qa-ft-adamw', step: String(trainerState.optimizer.step) });
    await writeFile(join(tmp, TRAINER_STATE_FILE), trainerStateJson(parts.state, parts.trainer)); // last: marks it complete
  });
}

/**
 * The final model in `outDir` itself (HF layout, with the tokenizer and `trainer_state.json`): staged in a
 * temporary sibling, then each file renamed in.
 */
export async function saveFinalModel(outDir: string, parts: { model: QaModel; trainer: Trainer; tokenizerFiles: readonly string[]; state: RunStateFields }): Promise<void> {
  const tmp = tempSibling(join(outDir, FINAL_STAGING));
  await mkdir(tmp, { recursive: true });
  try {
    await parts.model.save(tmp);
    await copyTokenizerFiles(parts.tokenizerFiles, tmp);
    await writeFile(join(tmp, TRAINER_STATE_FILE), trainerStateJson(parts.state, parts.trainer));
    for (const name of await readdir(tmp)) await rename(join(tmp, name), join(outDir, name));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Whether `name` in a training `outDir` is one of the run's own outputs (its temporary siblings are the run's to sweep). */
export function isTrainOutput(name: string): boolean {
  return name.startsWith(CHECKPOINT_PREFIX) || name === FINAL_STAGING || name === 'training-curves.svg';
}

/** The complete `checkpoint-epoch-N` directories under `outDir`, newest (highest epoch) first. */
export async function listCheckpoints(outDir: string): Promise<{ dir: string; epoch: number }[]> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return [];
  }
  const found: { dir: string; epoch: number }[] = [];
  for (const name of names) {
    const m = new RegExp(`^${CHECKPOINT_PREFIX}(\\d+)$`).exec(name);
    if (!m) continue;
    const dir = join(outDir, name);
    const complete = await stat(join(dir, TRAINER_STATE_FILE)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (complete) found.push({ dir, epoch: Number(m[1]) });
  }
  return found.sort((a, b) => b.epoch - a.epoch);
}

/**
 * The checkpoint a resumed run continues from: the newest complete one that this run (same `run` identity)
 * wrote. Newer checkpoints of another run in the same directory are skipped and reported through `onSkip`. When
 * none matches, the error names how the newest checkpoint on the same data differs (an option changed by
 * mistake), else how the newest differs.
 */
export async function findResumeCheckpoint(
  outDir: string,
  run: RunIdentity,
  onSkip: (dir: string, why: string) => void,
): Promise<{ dir: string; state: TrainerStateFile }> {
  const skipped: { dir: string; difference: QaFtError; sameData: boolean }[] = [];
  for (const { dir } of await listCheckpoints(outDir)) {
    const state = await readTrainerState(dir);
    const difference = runDifference(state.run, run, dir);
    if (!difference) {
      for (const s of skipped) onSkip(s.dir, s.difference.message);
      return { dir, state };
    }
    skipped.push({ dir, difference, sameData: state.run.data === run.data });
  }
  const closest = skipped.find((s) => s.sameData) ?? skipped[0];
  if (closest) throw closest.difference;
  // none skipped and none taken: there is no checkpoint at all
  throw new QaFtError('FILE_NOT_FOUND', `--resume: no complete checkpoint-epoch-N in ${outDir}`, {
    hint: 'train without --resume to start from the beginning',
  });
}

async function readTrainerState(dir: string): Promise<TrainerStateFile> {
  const path = join(dir, TRAINER_STATE_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON: ${firstLine(e)}`);
  }
  const s = json as Partial<TrainerStateFile>;
  if (s.format !== TRAINER_STATE_FORMAT || typeof s.epoch !== 'number' || typeof s.global_step !== 'number' || !s.run || !Array.isArray(s.log_history)) {
    throw new QaFtError('BAD_FORMAT', `${path}: expected a qa-ft trainer state (format ${TRAINER_STATE_FORMAT} with epoch, global_step, run, log_history)`);
  }
  return s as TrainerStateFile;
}

/** Loads a checkpoint's weights into `model` (by name, shapes checked) and its optimizer state into `trainer`. */
export async function restoreCheckpoint(dir: string, model: QaModel, trainer: Trainer, state: TrainerStateFile): Promise<void> {
  const weights = await SafetensorsFile.open(join(dir, WEIGHTS_FILE));
  try {
    await assignWeights(model.params, weights);
  } finally {
    await weights.close();
  }
  const optimizerPath = join(dir, OPTIMIZER_FILE);
  const moments = await readSafetensors(optimizerPath);
  const step = Number(moments.metadata.step);
  if (step !== state.global_step) {
    throw new QaFtError('BAD_FORMAT', `${optimizerPath}: step ${moments.metadata.step} does not match trainer_state.json global_step ${state.global_step}`);
  }
  trainer.importState({ optimizer: { step, tensors: moments }, microStep: state.micro_step }, optimizerPath);
}

/** How a checkpoint's run differs from this one (a one-line error), or undefined when it is the same run. */
function runDifference(checkpoint: Partial<RunIdentity>, current: RunIdentity, source: string): QaFtError | undefined {
  for (const key of Object.keys(current) as (keyof RunIdentity)[]) {
    if (checkpoint[key] === current[key]) continue;
    const was = checkpoint[key] === undefined ? 'an unrecorded value (an older qa-ft)' : String(checkpoint[key]);
    const message =
      key === 'data'
        ? `${source} was trained on other data (features ${was}; this run's --data has ${current.data})`
        : `${source} was trained with ${IDENTITY_OPTION[key]} = ${was}, this run has ${current[key]}`;
    return new QaFtError('BAD_ARGUMENT', message, {
      hint: 'resume with the same data and options, or train into a new --out',
    });
  }
  return undefined;
}
