/**
 * The prepared-data directory `qa-ft prepare` writes and `qa-ft train` reads:
 *   train.arrow, test.arrow                    the example rows (Arrow IPC stream, the `datasets` cache format)
 *   train.features.arrow, test.features.arrow  tokenized, labelled windows
 *   manifest.json                              where it came from and how it was tokenized
 * Written atomically: the directory appears complete or not at all.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';
import type { Feature } from '../tokenize/types.js';
import { writeDirAtomic } from '../util/atomic.js';
import { arrowToRows, featuresToTable, parseArrow, rowsToTable, tableToBytes, tableToFeatures } from './arrow.js';
import type { SquadRow } from './types.js';

export const MANIFEST_FORMAT = 'qa-ft-prepared';
export const MANIFEST_VERSION = 1;

export interface SplitCounts {
  readonly rows: number;
  readonly features: number;
}

export interface PreparedManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: number;
  /** The input file, or the hub dataset id it was resolved from. */
  readonly source: { readonly path: string; readonly dataset?: string; readonly format: string; readonly rows: number };
  readonly split: string;
  readonly testSize: number;
  readonly seed: number;
  readonly sizes: { readonly train: SplitCounts; readonly test: SplitCounts };
  readonly tokenizer: { readonly dir: string; readonly files: readonly string[]; readonly vocabSize: number };
  readonly maxLength: number;
  /** null: one truncated window per row (the tutorial). */
  readonly docStride: number | null;
  /** Label rule: `seed` (the tutorial) or `whole` (run_qa.py, used with a doc stride). */
  readonly labelRule: string;
  readonly counts: {
    /** Rows whose context did not fit in one window. */
    readonly truncated: number;
    /** Windows labelled (0, 0). */
    readonly unanswerable: number;
    readonly skippedLongQuestion: number;
    readonly skippedInvalid: number;
  };
  readonly files: { readonly train: string; readonly test: string; readonly trainFeatures: string; readonly testFeatures: string };
  readonly createdAt: string;
}

export interface PreparedSplit {
  readonly rows: SquadRow[];
  readonly features: Feature[];
}

export interface PreparedData {
  readonly manifest: PreparedManifest;
  readonly train: PreparedSplit;
  readonly test: PreparedSplit;
}

export const PREPARED_FILES = {
  train: 'train.arrow',
  test: 'test.arrow',
  trainFeatures: 'train.features.arrow',
  testFeatures: 'test.features.arrow',
} as const;

/** Writes the four Arrow files and the manifest into `outDir`, replacing it atomically. */
export async function writePrepared(
  outDir: string,
  data: { manifest: Omit<PreparedManifest, 'format' | 'version' | 'files'>; train: PreparedSplit; test: PreparedSplit },
): Promise<PreparedManifest> {
  const manifest: PreparedManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    ...data.manifest,
    files: { ...PREPARED_FILES },
  };
  await writeDirAtomic(outDir, async (tmp) => {
    await writeFile(join(tmp, PREPARED_FILES.train), tableToBytes(rowsToTable(data.train.rows)));
    await writeFile(join(tmp, PREPARED_FILES.test), tableToBytes(rowsToTable(data.test.rows)));
    await writeFile(join(tmp, PREPARED_FILES.trainFeatures), tableToBytes(featuresToTable(data.train.features)));
    await writeFile(join(tmp, PREPARED_FILES.testFeatures), tableToBytes(featuresToTable(data.test.features)));
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  return manifest;
}

export async function readPreparedManifest(dir: string): Promise<PreparedManifest> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) {
    throw new QaFtError('FILE_NOT_FOUND', `${dir} is not a prepared-data directory (no manifest.json)`, {
      hint: 'run `qa-ft prepare --out DIR` first',
    });
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON`);
  }
  const m = manifest as Partial<PreparedManifest> | null;
  if (!m || m.format !== MANIFEST_FORMAT) {
    throw new QaFtError('BAD_FORMAT', `${path}: expected format '${MANIFEST_FORMAT}', got ${JSON.stringify(m?.format)}`);
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new QaFtError('BAD_FORMAT', `${path}: prepared-data version ${m.version} is not supported (expected ${MANIFEST_VERSION})`, {
      hint: 'run `qa-ft prepare` again with this version of qa-ft',
    });
  }
  return m as PreparedManifest;
}

async function readArrowFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch {
    throw new QaFtError('FILE_NOT_FOUND', `${path} is missing from the prepared-data directory`, { hint: 'run `qa-ft prepare` again' });
  }
}

/** Reads everything `writePrepared` wrote (rows and features of both splits). */
export async function readPrepared(dir: string): Promise<PreparedData> {
  const manifest = await readPreparedManifest(dir);
  return { manifest, train: await readSplit(dir, 'train'), test: await readSplit(dir, 'test') };
}

/** Reads the manifest and one split only (evaluation does not need the training set). */
export async function readPreparedSplit(dir: string, which: 'train' | 'test'): Promise<{ manifest: PreparedManifest; split: PreparedSplit }> {
  const manifest = await readPreparedManifest(dir);
  return { manifest, split: await readSplit(dir, which) };
}

async function readSplit(dir: string, which: 'train' | 'test'): Promise<PreparedSplit> {
  const rowsPath = join(dir, PREPARED_FILES[which]);
  const featuresPath = join(dir, PREPARED_FILES[which === 'train' ? 'trainFeatures' : 'testFeatures']);
  const rows = arrowToRows(parseArrow(await readArrowFile(rowsPath), rowsPath), rowsPath);
  const features = tableToFeatures(parseArrow(await readArrowFile(featuresPath), featuresPath), featuresPath);
  return { rows, features };
}
