/**
 * The output directory of `qa-ft train` before a run starts: held by one run at a time (a lock file in it), and
 * refused when it holds another run's outputs unless the run resumes them or overwrites them. Overwriting removes
 * only what qa-ft writes (checkpoints, the final model's files, the metrics log and curves), never other files, and
 * does so that a kill part-way leaves no half-removed checkpoint a later `--resume` could pick: each checkpoint is
 * first renamed to a temporary name (which the next run's sweep removes), then deleted (`removeDirAtomic`).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { field, OptionError, opt, type OptionText } from '../errors.js';
import { CONFIG_FILE, QA_FT_STATE_FILE, TOKENIZER_FILES, WEIGHTS_FILE } from '../hf-files.js';
import { isTempName, removeDirAtomic, sweepStaleTemps } from '../util/atomic.js';
import { acquireDirLock, lockPathIn, type DirLock } from '../util/dir-lock.js';
import { isCheckpointName, isTrainOutput } from './checkpoint.js';
import { checkResumeOrOverwrite } from './options.js';

/** Files that only a qa-ft training run leaves in its `--out`: any of them means a run was there. */
const RUN_FILES: readonly string[] = [
  'trainer_state.json',
  QA_FT_STATE_FILE,
  'metrics.jsonl',
  'training-curves.svg',
  WEIGHTS_FILE,
];
/**
 * The final model's other files: removed with the run's, not evidence of one on their own (a user may keep a
 * config.json).
 */
const FINAL_MODEL_FILES: readonly string[] = [CONFIG_FILE, ...TOKENIZER_FILES];

/** The names in `outDir` that a previous training run left (its checkpoints and run files), sorted. */
export async function previousRunOutputs(outDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return [];
  }
  return names.filter((n) => !isTempName(n) && (isCheckpointName(n) || RUN_FILES.includes(n))).sort();
}

/**
 * Removes a previous run's outputs from `outDir` and returns their names: the checkpoints are renamed aside
 * first (each rename atomic), so none is ever left half-deleted under its own name.
 */
async function removePreviousRun(outDir: string, found: readonly string[]): Promise<string[]> {
  const checkpoints = found.filter((n) => isCheckpointName(n));
  for (const name of checkpoints) await removeDirAtomic(join(outDir, name));
  const present = new Set(await readdir(outDir));
  const files = [...RUN_FILES, ...FINAL_MODEL_FILES].filter((n) => present.has(n));
  for (const name of files) await rm(join(outDir, name), { force: true });
  return [...checkpoints, ...files];
}

export interface ClaimOptions {
  readonly resume: boolean;
  readonly overwriteOutputDir: boolean;
  readonly onNotice: (message: OptionText) => void;
}

/**
 * Locks `outDir` for this run, removes what killed runs left (their temporary names; an interrupted checkpoint swap
 * is finished first, so it is seen below) and checks it may be written: a previous run's outputs are resumed
 * (`resume`), removed (`overwriteOutputDir`), or refused. Other files are allowed and kept. The caller releases the
 * lock.
 */
export async function claimOutDir(outDir: string, options: ClaimOptions): Promise<DirLock> {
  checkResumeOrOverwrite(options);
  const notice = (line: string): void => options.onNotice([line]);
  const lock = await acquireDirLock(lockPathIn(outDir), { what: opt`${field('outDir')} ${outDir}`, onNotice: notice });
  try {
    const swept = await sweepStaleTemps(outDir, isTrainOutput);
    if (swept.length > 0) notice(`Removed what killed runs left in ${outDir}: ${swept.join(', ')}`);
    if (options.resume) return lock;
    const found = await previousRunOutputs(outDir);
    if (found.length === 0) return lock;
    if (!options.overwriteOutputDir) {
      const shown = found.slice(0, 3).join(', ') + (found.length > 3 ? `, … (${found.length})` : '');
      throw new OptionError(
        'BAD_ARGUMENT',
        opt`${field('outDir')} ${outDir} holds another training run's outputs (${shown})`,
        {
          hint: opt`pass ${field('resume')} to continue that run, or ${field('overwriteOutputDir')} to delete its checkpoints and outputs first; or use a new ${field('outDir')}`,
        },
      );
    }
    const removed = await removePreviousRun(outDir, found);
    options.onNotice(
      opt`${field('overwriteOutputDir')}: removed the previous run's ${removed.join(', ')} from ${outDir}`,
    );
    return lock;
  } catch (e) {
    await lock.release();
    throw e;
  }
}
