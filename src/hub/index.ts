/**
 * Resolving model and dataset names to local files. A local directory is used as it is; a Hugging Face hub id
 * is downloaded into the Python-compatible cache (see the hub issue; STUB until it lands: only local paths work).
 */
import { stat } from 'node:fs/promises';
import { QaFtError } from '../errors.js';

export interface ResolveOptions {
  revision?: string;
  /** Use the cache only (also `HF_HUB_OFFLINE=1`). */
  offline?: boolean;
  /** Download progress: bytes done / total for one file. */
  onProgress?: (event: { file: string; done: number; total: number }) => void;
}

/** A model directory for `idOrDir`: the directory itself when it exists, else the hub repo's snapshot. */
export async function resolveModel(idOrDir: string, _options: ResolveOptions = {}): Promise<string> {
  if (await isDirectory(idOrDir)) return idOrDir;
  throw new QaFtError('NOT_FOUND_ON_HUB', `model '${idOrDir}' is not a local directory and hub downloads are not available yet`, {
    hint: 'pass a local model directory',
  });
}

/** Local Parquet files of a hub dataset split, e.g. ('rajpurkar/squad', 'train'). */
export async function resolveDatasetFiles(repo: string, split: string, _options: ResolveOptions = {}): Promise<string[]> {
  throw new QaFtError('NOT_FOUND_ON_HUB', `dataset '${repo}' (split ${split}) cannot be downloaded yet`, {
    hint: 'pass a local file with --input',
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
