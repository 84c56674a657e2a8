/**
 * Resolving model and dataset names to local files. A local directory is used as it is; a Hugging Face hub id
 * (`distilbert-base-uncased`, `org/name`, `org/name@revision`) is downloaded into the cache Python's
 * huggingface_hub uses (`$HF_HUB_CACHE`, default `~/.cache/huggingface/hub`), so each reuses the other's files.
 * Environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT,
 * HF_HUB_DOWNLOAD_TIMEOUT (see ./env.ts).
 */
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { firstLine, QaFtError } from '../errors.js';
import { resolveDatasetRepo } from './dataset.js';
import type { ProgressCallback } from './download.js';
import { hubSettings, type HubOverrides } from './env.js';
import { resolveModelRepo, type ModelFiles } from './model.js';
import { parseRepoRef } from './repo.js';

export type { DownloadProgress, ProgressCallback } from './download.js';
export type { HubSettings, HubOverrides, HubTimeouts } from './env.js';
export type { ModelFiles } from './model.js';
export { hubSettings } from './env.js';

export interface ResolveOptions extends HubOverrides {
  /** Branch, tag or commit (also `id@revision`); default `main`. */
  revision?: string;
  /** Use the cache only (also `HF_HUB_OFFLINE=1`); what is missing is named in the error. */
  offline?: boolean;
  /** Download progress of one file: bytes done / total and speed (throttled to ~10 calls a second). */
  onProgress?: ProgressCallback;
  /** Models: `all` (default) or `tokenizer` (config + tokenizer files, no weights). */
  files?: ModelFiles;
  /** Datasets: the config (subset) when a split exists in several, e.g. `plain_text`. */
  config?: string;
}

/**
 * A model directory for `idOrDir`: the directory itself when it exists, else the hub repo's snapshot in the
 * cache (downloaded when needed).
 */
export async function resolveModel(idOrDir: string, options: ResolveOptions = {}): Promise<string> {
  if (await isDirectory(idOrDir)) return idOrDir;
  if (looksLikePath(idOrDir)) {
    throw new QaFtError('FILE_NOT_FOUND', `model directory '${idOrDir}' does not exist`, {
      hint: 'pass an existing directory or a hub id such as distilbert-base-uncased',
    });
  }
  const ref = parseRepoRef(idOrDir, 'model', options.revision);
  return resolveModelRepo(ref, hubSettings(options), { files: options.files, onProgress: options.onProgress });
}

/** Like `resolveModel`, but a hub repo only needs its tokenizer files (no weights are downloaded). */
export function resolveTokenizer(idOrDir: string, options: ResolveOptions = {}): Promise<string> {
  return resolveModel(idOrDir, { ...options, files: 'tokenizer' });
}

/**
 * Local Parquet files of a hub dataset split, e.g. ('rajpurkar/squad', 'train') or ('rajpurkar/squad@main',
 * 'validation'); a slice such as `train[:5000]` is accepted and ignored here (the reader slices).
 */
export async function resolveDatasetFiles(
  repo: string,
  split: string,
  options: ResolveOptions = {},
): Promise<string[]> {
  const ref = parseRepoRef(repo, 'dataset', options.revision);
  return resolveDatasetRepo(ref, split, hubSettings(options), {
    config: options.config,
    onProgress: options.onProgress,
  });
}

/** `./x`, `/x`, `~/x`, `..`, or more than one `/`: a path, never a hub id. */
function looksLikePath(s: string): boolean {
  const id = s.split('@')[0] ?? s;
  return isAbsolute(s) || s.startsWith('.') || s.startsWith('~') || s.includes('\\') || id.split('/').length > 2;
}

/**
 * Whether `path` is a local directory; false when nothing is there (a hub id, then). A path that exists but cannot
 * be followed (a symbolic link loop, no permission) is a one-line error, never taken for a hub id.
 */
async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return false;
    const why = code === 'ELOOP' ? 'is a symbolic link loop (ELOOP)' : `cannot be read (${code ?? firstLine(e)})`;
    throw new QaFtError('FILE_NOT_FOUND', `'${path}' ${why}`, {
      hint: 'pass an existing model directory or a hub id such as distilbert-base-uncased',
    });
  }
}
