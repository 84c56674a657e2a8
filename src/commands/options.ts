/**
 * Option parsing shared by the commands: numbers with one-line errors naming the flag, `--backend`, the default
 * directories, `--model` of the commands that run a trained model, and the hub options (`--revision`,
 * `--offline`, download progress) of every command that takes a hub id.
 */
import type { Command } from 'commander';
import { OptionError, QaFtError } from '../errors.js';
import { checkNumber, type NumberRule } from '../util/number-rule.js';
import type { ProgressCallback, ResolveOptions } from '../hub/index.js';
import type { BackendName, Precision } from '../model/types.js';
import type { ProgressReporter } from './output.js';

/** Where `qa-ft prepare` writes and `qa-ft train` reads the prepared data. */
export const DEFAULT_DATA_DIR = './qa-ft-data';
/** Where `qa-ft train` writes the model and `ask`/`evaluate` look for it. */
export const DEFAULT_MODEL_DIR = './qa-ft-model';

/** A number option as typed on the command line, or a one-line error naming the flag and the allowed range. */
export function parseNumberOption(flag: string, value: string, rule: NumberRule = {}): number {
  return checkNumber(flag, value, rule);
}

/**
 * A library option field as this command's flag: `maxGradNorm` → `--max-grad-norm`, `earlyStopping.patience` →
 * `--early-stopping-patience`, unless `renamed` names it otherwise (`learningRate` → `--lr`). Flags stay as they are.
 */
export function flagNames(renamed: Readonly<Record<string, string>> = {}): (name: string) => string {
  return (name) =>
    name.startsWith('-')
      ? name
      : (renamed[name] ?? `--${name.replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/** `e` with the option fields an `OptionError` names spelled by `names` (other errors as they are). */
export function withFlags(e: unknown, names: (name: string) => string): unknown {
  return e instanceof OptionError ? e.respelled(names) : e;
}

/** Runs `fn`, its `OptionError`s re-spelled with `names` (the command's flags). */
export function flagged<T>(names: (name: string) => string, fn: () => T): T {
  try {
    const result = fn();
    return (
      result instanceof Promise ? result.catch((e: unknown) => Promise.reject(withFlags(e, names))) : result
    ) as T;
  } catch (e) {
    throw withFlags(e, names);
  }
}

/** A positive (or, with `min` 0, non-negative) integer option. */
export function parseIntOption(flag: string, value: string, min = 1): number {
  return parseNumberOption(flag, value, { int: true, min });
}

/** Adds `--backend`, shared by every command that runs the model. */
export function addBackendOption(command: Command): Command {
  return command.option(
    '--backend <name>',
    'TF.js backend: auto (the fastest available), native, tensorflow, wasm or cpu',
    'auto',
  );
}

/** Adds `--bf16` (HF's flag) to a command that runs the model; `precisionOption` reads it. */
export function addBf16Option(command: Command): Command {
  return command.option(
    '--bf16',
    'bf16 mixed precision as Trainer(bf16=True): matmuls in bf16 with fp32 sums, the rest fp32 (native engine; needs oneDNN and a CPU with AVX512_BF16)',
  );
}

/** `--bf16` as the model's precision (checked where the model loads: a one-line error where bf16 cannot run). */
export function precisionOption(raw: { bf16?: boolean }): Precision {
  return raw.bf16 === true ? 'bf16' : 'fp32';
}

/**
 * `--backend` typed as given, unchecked: `selectBackend` (src/model/backend-select.ts) owns the list of backends and
 * rejects an unknown name when the model loads.
 */
export function asBackendName(value: string): BackendName {
  return value as BackendName;
}

/** `--model` of `ask`/`evaluate` through the hub resolver; the default directory missing gets a hint to train first. */
export async function resolveModelOption(model: string, hub: ResolveOptions = {}): Promise<string> {
  const { resolveModel } = await import('../hub/index.js');
  try {
    return await resolveModel(model, hub);
  } catch (e) {
    if (e instanceof QaFtError && model === DEFAULT_MODEL_DIR) {
      throw e.revised({ hint: `train one with \`qa-ft train\` (it writes ${DEFAULT_MODEL_DIR}) or pass --model DIR` });
    }
    throw e;
  }
}

export interface HubFlags {
  revision?: string;
  offline?: boolean;
}

/** Adds `--revision` and `--offline`, the hub options of every command that takes a hub id. */
export function addHubOptions(command: Command): Command {
  return command
    .option('--revision <rev>', 'hub branch, tag or commit of a hub id (also id@rev)')
    .option('--offline', 'use the Hugging Face cache only, never the network (also HF_HUB_OFFLINE=1)');
}

/** Draws hub downloads on `progress`: one bar per file, bytes and MB/s. */
export function downloadProgress(progress: ProgressReporter): ProgressCallback {
  let current = '';
  return (e) => {
    if (e.file !== current) {
      current = e.file;
      progress.start(`Downloading ${e.repo}/${e.file}`, Math.max(e.total, e.done));
    }
    progress.update(e.done, { 'MB/s': Number((e.bytesPerSecond / 1e6).toFixed(2)) });
  };
}

/** The hub options of a command's raw options, for `resolveModel`/`resolveTokenizer`/`resolveDatasetFiles`. */
export function hubResolveOptions(raw: HubFlags, onProgress?: ProgressCallback): ResolveOptions {
  return {
    ...(raw.revision === undefined ? {} : { revision: raw.revision }),
    ...(raw.offline ? { offline: true } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
}
