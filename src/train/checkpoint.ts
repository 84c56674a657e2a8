/**
 * Checkpoints and the files a training run leaves, owned here: `checkpoint-STEP/` (HF's name) with `config.json` +
 * `model.safetensors` (the model's own `save`), the tokenizer files, `optimizer.safetensors` (AdamW moments by
 * parameter name, step in the metadata) and `qa-ft-state.json` (epoch, step, RNG state, best metric, metrics history,
 * the run's identity), which qa-ft resumes from; beside them what transformers' Trainer resumes from
 * (`trainer_state.json`, `optimizer.pt`, `scheduler.pt`: hf-trainer-files.ts). Checkpoints of an older qa-ft, whose own
 * state was in `trainer_state.json`, still resume. The final model in `outDir` with both state files; finding and
 * loading the checkpoint a resumed run continues from; deleting old ones (`--save-total-limit`). A checkpoint is filled
 * in a temporary sibling directory and renamed into place, and deleted by renaming it aside first, so a killed run
 * never leaves a half-written or half-deleted one; only directories with a `qa-ft-state.json` (written last), or an
 * older qa-ft's `trainer_state.json`, count.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { field, firstLine, isQaFtError, OptionError, opt, QaFtError, type OptionText } from '../errors.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { readSafetensors, SafetensorsFile, writeSafetensors, type TensorSource } from '../model/safetensors.js';
import { assignWeights } from '../model/weights.js';
import { removeDirAtomic, tempSibling, writeDirAtomic } from '../util/atomic.js';
import { FileSystemError, systemErrorCode, withFileSystemErrors } from '../util/fs-errors.js';
import type { MetricsRecord } from './metrics-log.js';
import type { Trainer } from './trainer.js';
import { QA_FT_STATE_FILE, TOKENIZER_CONFIG_FILE, WEIGHTS_FILE } from '../hf-files.js';
import {
  HF_TRAINER_STATE_FILE,
  hfTrainerStateJson,
  writeHfOptimizerFiles,
  type HfRunFields,
} from './hf-trainer-files.js';

const CHECKPOINT_PREFIX = 'checkpoint-';
/** `checkpoint-STEP`; `checkpoint-epoch-N` is an older qa-ft's name, still recognised as a run's output. */
const CHECKPOINT_NAME = /^checkpoint-(?:epoch-)?\d+$/;
const STEP_CHECKPOINT_NAME = /^checkpoint-(\d+)$/;
/** qa-ft's own state; written last, so its presence marks a checkpoint complete. */
const STATE_FILE = QA_FT_STATE_FILE;
/** Where an older qa-ft kept its own state (now the Trainer's `TrainerState`). */
const OLD_STATE_FILE = HF_TRAINER_STATE_FILE;
const OPTIMIZER_FILE = 'optimizer.safetensors';
const TRAINER_STATE_FORMAT = 'qa-ft-trainer-state/2';
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
  readonly lrSchedulerType: string;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly maxGradNorm: number;
  readonly padToMaxLength: boolean;
  /** Matmul precision (`fp32`, or `bf16` with --bf16): bf16 rounding changes the trajectory. */
  readonly precision: string;
}

/** The option that sets each part of the identity, for messages. */
const IDENTITY_OPTION: Record<keyof RunIdentity, OptionText> = {
  data: opt`${field('dataDir')}`,
  seed: opt`${field('seed')}`,
  batchSize: opt`${field('batchSize')}`,
  gradientAccumulationSteps: opt`${field('gradientAccumulationSteps')}`,
  totalSteps: opt`the total steps (${field('maxSteps')}, or ${field('epochs')} × steps per epoch)`,
  learningRate: opt`${field('learningRate')}`,
  lrSchedulerType: opt`${field('lrSchedulerType')}`,
  weightDecay: opt`${field('weightDecay')}`,
  warmupSteps: opt`the warm-up steps (${field('warmupSteps')} or ${field('warmupRatio')})`,
  maxGradNorm: opt`${field('maxGradNorm')}`,
  padToMaxLength: opt`${field('padToMaxLength')}`,
  precision: opt`the precision (${field('precision')})`,
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

/** The training loss sums a resumed run continues, so it logs what an uninterrupted run does. */
export interface LossSums {
  readonly epochSum: number;
  readonly epochCount: number;
  readonly windowSum: number;
  readonly windowCount: number;
}

interface TrainerStateFile {
  readonly format: typeof TRAINER_STATE_FORMAT;
  /** Fractional epoch reached (HF `epoch`: 1.5 = half-way through the second). */
  readonly epoch: number;
  /** Completed optimizer steps (HF `global_step`); where in which epoch a resumed run continues follows from it. */
  readonly global_step: number;
  /** Micro-batches seen (dropout seeds derive from it). */
  readonly micro_step: number;
  /** RNG state: batch order is a pure function of (seed, epoch), dropout of (seed, micro_step). */
  readonly rng: { readonly seed: number };
  readonly best_metric: number | null;
  readonly best_model_checkpoint: string | null;
  /** HF `EarlyStoppingCallback`'s `early_stopping_patience_counter`. */
  readonly early_stopping_patience_counter: number;
  readonly loss_sums: LossSums;
  readonly run: RunIdentity;
  readonly log_history: readonly MetricsRecord[];
}

/** `checkpoint-STEP`, as the HF Trainer names the checkpoint saved after optimizer step STEP. */
export function checkpointDirName(step: number): string {
  return `${CHECKPOINT_PREFIX}${step}`;
}

/** Whether `name` is a checkpoint directory's (this qa-ft's or an older one's). */
export function isCheckpointName(name: string): boolean {
  return CHECKPOINT_NAME.test(name);
}

/** Copies the tokenizer files into `dir`. */
/** The tokenizer files into `dir`; `config`, when given, is written as its tokenizer_config.json instead of a copy. */
async function saveTokenizer(
  parts: Pick<SavedParts, 'tokenizerFiles' | 'tokenizerConfig'>,
  dir: string,
): Promise<void> {
  const config = parts.tokenizerConfig;
  for (const f of parts.tokenizerFiles) {
    if (config !== undefined && basename(f) === TOKENIZER_CONFIG_FILE) continue;
    const to = join(dir, basename(f));
    await withFileSystemErrors({ path: to, operation: 'copy to' }, () => copyFile(f, to));
  }
  if (config !== undefined) {
    const to = join(dir, TOKENIZER_CONFIG_FILE);
    await withFileSystemErrors({ path: to, operation: 'write', bytes: Buffer.byteLength(config) }, () =>
      writeFile(to, config),
    );
  }
}

/** What the loop knows of its run when it saves; the step counters come from the trainer. */
export type RunStateFields = Omit<TrainerStateFile, 'format' | 'micro_step' | 'global_step'>;

function trainerStateJson(fields: RunStateFields, trainer: Pick<Trainer, 'optimizerStep' | 'microStep'>): string {
  const state: TrainerStateFile = {
    format: TRAINER_STATE_FORMAT,
    ...fields,
    global_step: trainer.optimizerStep,
    micro_step: trainer.microStep,
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** What a checkpoint or the final model is saved from. */
export interface SavedParts {
  readonly model: QaModel;
  readonly trainer: Trainer;
  readonly tokenizerFiles: readonly string[];
  /** tokenizer_config.json's text, written in place of a copied one (fitted to the model). */
  readonly tokenizerConfig?: string;
  readonly state: RunStateFields;
  readonly hf: HfRunFields;
}

/** transformers' `trainer_state.json` of the run at the trainer's step. */
function hfStateJson(parts: SavedParts): string {
  const { state, hf } = parts;
  return hfTrainerStateJson({
    ...hf,
    epoch: state.epoch,
    globalStep: parts.trainer.optimizerStep,
    logHistory: state.log_history,
    bestMetric: state.best_metric,
    bestModelCheckpoint: state.best_model_checkpoint,
  });
}

export async function saveCheckpoint(dir: string, parts: SavedParts): Promise<void> {
  const trainerState = await parts.trainer.exportState();
  await writeDirAtomic(dir, async (tmp) => {
    await parts.model.save(tmp);
    await saveTokenizer(parts, tmp);
    const tensors = new Map<string, TensorSource>();
    for (const [name, t] of trainerState.optimizer.tensors) tensors.set(name, t);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors, {
      format: 'qa-ft-adamw',
      step: String(trainerState.optimizer.step),
    });
    const shapes = new Map([...parts.model.params].map(([name, p]) => [name, p.shape]));
    await writeHfOptimizerFiles(tmp, {
      modelType: parts.model.config.modelType,
      shapes,
      moments: trainerState.optimizer.tensors,
      step: trainerState.optimizer.step,
      settings: parts.trainer.optimizerSettings,
    });
    await writeFile(join(tmp, HF_TRAINER_STATE_FILE), hfStateJson(parts));
    await writeFile(join(tmp, STATE_FILE), trainerStateJson(parts.state, parts.trainer)); // last: marks it complete
  });
}

/**
 * The final model in `outDir` itself (HF layout, with the tokenizer and `trainer_state.json`): staged in a
 * temporary sibling, then each file renamed in.
 */
export async function saveFinalModel(outDir: string, parts: SavedParts): Promise<void> {
  const tmp = tempSibling(join(outDir, FINAL_STAGING));
  await withFileSystemErrors({ path: outDir, operation: 'create directory' }, () => mkdir(tmp, { recursive: true }));
  try {
    const state = trainerStateJson(parts.state, parts.trainer);
    const hfState = hfStateJson(parts);
    await parts.model.save(tmp);
    await saveTokenizer(parts, tmp);
    await withFileSystemErrors(
      { path: join(outDir, HF_TRAINER_STATE_FILE), operation: 'write', bytes: Buffer.byteLength(hfState) },
      () => writeFile(join(tmp, HF_TRAINER_STATE_FILE), hfState),
    );
    await withFileSystemErrors(
      { path: join(outDir, STATE_FILE), operation: 'write', bytes: Buffer.byteLength(state) },
      () => writeFile(join(tmp, STATE_FILE), state),
    );
    for (const name of await readdir(tmp)) {
      await withFileSystemErrors({ path: join(outDir, name), operation: 'rename into place' }, () =>
        rename(join(tmp, name), join(outDir, name)),
      );
    }
  } catch (e) {
    // reported at the final path the user knows, not the staging directory's
    throw e instanceof FileSystemError && e.path.startsWith(tmp)
      ? e.with({ path: outDir + e.path.slice(tmp.length) })
      : e;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Whether `name` in a training `outDir` is one of the run's own outputs (its temporary siblings are the run's to
 * sweep).
 */
export function isTrainOutput(name: string): boolean {
  return isCheckpointName(name) || name === FINAL_STAGING || name === 'training-curves.svg';
}

/** The complete `checkpoint-STEP` directories under `outDir`, newest (highest step) first. */
export async function listCheckpoints(outDir: string): Promise<{ dir: string; step: number }[]> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return [];
  }
  const found: { dir: string; step: number }[] = [];
  for (const name of names) {
    const m = STEP_CHECKPOINT_NAME.exec(name);
    if (!m) continue;
    const dir = join(outDir, name);
    const isFile = (f: string) =>
      stat(join(dir, f)).then(
        (s) => s.isFile(),
        () => false,
      );
    if ((await isFile(STATE_FILE)) || (await isFile(OLD_STATE_FILE))) found.push({ dir, step: Number(m[1]) });
  }
  return found.sort((a, b) => b.step - a.step);
}

/**
 * Continues a run from the newest complete, valid checkpoint of this run (same `run` identity) in `outDir`: `restore`
 * loads it (the loop passes `restoreCheckpoint` into its model and trainer), and its state is returned. A damaged
 * checkpoint (unreadable state, weights or optimizer file) is reported through `onDamaged` and skipped, never deleted;
 * newer checkpoints of another run are skipped and reported through `onOtherRun`. When none matches, the error names
 * how the newest checkpoint on the same data differs (an option changed by mistake), else how the newest differs.
 */
export async function resumeFromCheckpoint(
  outDir: string,
  run: RunIdentity,
  restore: (dir: string, state: TrainerStateFile) => Promise<void>,
  report: { onDamaged: (dir: string, why: string) => void; onOtherRun: (dir: string, why: OptionText) => void },
): Promise<{ dir: string; state: TrainerStateFile }> {
  const skipped: { dir: string; difference: OptionError; sameData: boolean }[] = [];
  for (const { dir } of await listCheckpoints(outDir)) {
    let state: TrainerStateFile;
    try {
      state = await readTrainerState(dir);
    } catch (e) {
      report.onDamaged(dir, damage(e));
      continue;
    }
    const difference = runDifference(state.run, run, dir);
    if (difference) {
      skipped.push({ dir, difference, sameData: state.run.data === run.data });
      continue;
    }
    try {
      await restore(dir, state);
    } catch (e) {
      report.onDamaged(dir, damage(e));
      continue;
    }
    for (const s of skipped) report.onOtherRun(s.dir, s.difference.text);
    return { dir, state };
  }
  const closest = skipped.find((s) => s.sameData) ?? skipped[0];
  if (closest) throw closest.difference;
  throw new OptionError('FILE_NOT_FOUND', opt`${field('resume')}: no complete, valid checkpoint-STEP in ${outDir}`, {
    hint: opt`train without ${field('resume')} to start from the beginning`,
  });
}

/** Why a checkpoint could not be read, in one line; a bug (neither a user error nor a system error) is rethrown. */
function damage(e: unknown): string {
  if (isQaFtError(e) || systemErrorCode(e) !== undefined) return firstLine(e);
  throw e;
}

/** qa-ft's state of a checkpoint: `qa-ft-state.json`, or an older qa-ft's `trainer_state.json`. */
async function readTrainerState(dir: string): Promise<TrainerStateFile> {
  const own = join(dir, STATE_FILE);
  const path = (await stat(own).then(
    () => true,
    () => false,
  ))
    ? own
    : join(dir, OLD_STATE_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON: ${firstLine(e)}`);
  }
  const s = json as Partial<TrainerStateFile> | null;
  if (
    s?.format !== TRAINER_STATE_FORMAT ||
    typeof s.epoch !== 'number' ||
    typeof s.global_step !== 'number' ||
    typeof s.micro_step !== 'number' ||
    !s.run ||
    !s.loss_sums ||
    !Array.isArray(s.log_history)
  ) {
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: expected a qa-ft trainer state (format ${TRAINER_STATE_FORMAT} with epoch, global_step, micro_step, run, loss_sums, log_history)`,
    );
  }
  return s as TrainerStateFile;
}

/** Loads a checkpoint's weights into `model` (by name, shapes checked) and its optimizer state into `trainer`. */
export async function restoreCheckpoint(
  dir: string,
  model: QaModel,
  trainer: Trainer,
  state: TrainerStateFile,
): Promise<void> {
  await loadCheckpointWeights(dir, model);
  const optimizerPath = join(dir, OPTIMIZER_FILE);
  const moments = await readSafetensors(optimizerPath);
  const step = Number(moments.metadata.step);
  if (step !== state.global_step) {
    throw new QaFtError(
      'BAD_FORMAT',
      `${optimizerPath}: step ${moments.metadata.step} does not match trainer_state.json global_step ${state.global_step}`,
    );
  }
  trainer.importState({ optimizer: { step, tensors: moments }, microStep: state.micro_step }, optimizerPath);
}

/** How a checkpoint's run differs from this one (a one-line error), or undefined when it is the same run. */
function runDifference(
  checkpoint: Partial<RunIdentity>,
  current: RunIdentity,
  source: string,
): OptionError | undefined {
  for (const key of Object.keys(current) as (keyof RunIdentity)[]) {
    if (checkpoint[key] === current[key]) continue;
    const was = checkpoint[key] === undefined ? 'an unrecorded value (an older qa-ft)' : String(checkpoint[key]);
    const text =
      key === 'data'
        ? opt`${source} was trained on other data (features ${was}; this run's ${field('dataDir')} has ${current.data})`
        : [...opt`${source} was trained with `, ...IDENTITY_OPTION[key], ` = ${was}, this run has ${current[key]}`];
    return new OptionError('BAD_ARGUMENT', text, {
      hint: opt`resume with the same data and options, or train into a new ${field('outDir')}`,
    });
  }
  return undefined;
}

/**
 * Deletes the oldest checkpoints beyond `limit` (HF `save_total_limit`), never the newest (a resume needs it) nor
 * `best` (`--load-best-model-at-end` needs it); each is renamed aside before it is deleted. Returns the deleted.
 */
export async function rotateCheckpoints(outDir: string, limit: number, best: string | null): Promise<string[]> {
  const oldestFirst = (await listCheckpoints(outDir)).reverse().map((c) => c.dir);
  const newest = oldestFirst[oldestFirst.length - 1];
  // by name: `best` may have been recorded under another spelling of outDir (relative, trailing slash)
  const kept = new Set([newest, best].flatMap((d) => (d ? [basename(d)] : [])));
  const keep = Math.max(limit, kept.size);
  const deleted: string[] = [];
  for (const dir of oldestFirst) {
    if (oldestFirst.length - deleted.length <= keep) break;
    if (kept.has(basename(dir))) continue;
    await removeDirAtomic(dir);
    deleted.push(dir);
  }
  return deleted;
}

/** Loads the weights of checkpoint `dir` into `model` (for `--load-best-model-at-end`). */
export async function loadCheckpointWeights(dir: string, model: QaModel): Promise<void> {
  const weights = await SafetensorsFile.open(join(dir, WEIGHTS_FILE));
  try {
    await assignWeights(model.params, weights);
  } finally {
    await weights.close();
  }
}
