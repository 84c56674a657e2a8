/**
 * The prepared-data directory `qa-ft prepare` writes and `qa-ft train` reads:
 *   train.arrow, test.arrow                    the example rows (Arrow IPC stream, the `datasets` cache format)
 *   train.features.arrow, test.features.arrow  tokenized, labelled windows
 *   manifest.json                              where it came from, how it was tokenized, each file's sha256
 * A new directory appears complete or not at all. An existing one is replaced only if it is empty or a
 * prepared-data directory (its manifest says so), file by file with the manifest first, never by removing the
 * directory: anything else in it stays, and a reader checks every file against the manifest, so a mix of two
 * prepares (an interrupted replace, a copied file) or an edited count is an error, never silently used. Two
 * prepares never write one directory at once: each holds a lock (`preparedLockPath`) for its run.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, constants, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { opt, QaFtError } from '../errors.js';
import { arrowToRows, parseArrow, rowsToTable, tableToBytes } from '../data/arrow.js';
import type { Feature, SquadRow } from '../records.js';
import { sweepStaleTemps, tempSibling, writeDirAtomic } from '../util/atomic.js';
import { lockPathBeside, lockPathIn } from '../util/dir-lock.js';
import { checkOutputTarget, type OutputTarget } from '../util/out-guard.js';
import { fileSystemError, withFileSystemErrors } from '../util/fs-errors.js';
import { featuresToTable, tableToFeatures } from './feature-table.js';

const MANIFEST_FORMAT = 'qa-ft-prepared';
const MANIFEST_VERSION = 2;
const MANIFEST_FILE = 'manifest.json';

interface SplitCounts {
  readonly rows: number;
  readonly features: number;
}

export interface PreparedManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: number;
  /** The input file, or the hub dataset id it was resolved from. */
  readonly source: { readonly path: string; readonly dataset?: string; readonly format: string; readonly rows: number };
  readonly split: string;
  /**
   * The test split's source when it was given (`--validation-file`, a hub `--validation-split`), used as it is;
   * absent when the test split was drawn from the input at random (`testSize`).
   */
  readonly validation?: {
    readonly path: string;
    readonly dataset?: string;
    readonly split?: string;
    readonly format: string;
    readonly rows: number;
  };
  readonly testSize: number;
  readonly seed: number;
  readonly sizes: { readonly train: SplitCounts; readonly test: SplitCounts };
  readonly tokenizer: {
    readonly dir: string;
    readonly files: readonly string[];
    readonly vocabSize: number;
    /**
     * Whether the features carry token type ids (the tokenizer's pair template gives them: BERT-style); false when
     * it gives only type 0 (RoBERTa). Absent in manifests of older qa-ft, which did not store them.
     */
    readonly tokenTypeIds?: boolean;
  };
  readonly maxLength: number;
  /** null: one truncated window per row (the tutorial). */
  readonly docStride: number | null;
  /** Label rule: `tutorial` (the HF tutorial's) or `whole` (run_qa.py, used with a doc stride). */
  readonly labelRule: string;
  /**
   * SQuAD 2.0 (`--version-2-with-negative`): rows without an answer were kept, labelled at [CLS]; `train` and
   * `evaluate` post-process and score such data as SQuAD 2.0. Absent in older manifests: false.
   */
  readonly versionTwoWithNegative: boolean;
  readonly counts: {
    /** Rows whose context did not fit in one window. */
    readonly truncated: number;
    /** Windows labelled (0, 0). */
    readonly unanswerable: number;
    /** Rows without an answer (SQuAD 2.0 unanswerable questions); 0 without `versionTwoWithNegative`. */
    readonly noAnswerRows?: number;
    readonly skippedLongQuestion: number;
    readonly skippedInvalid: number;
    /** Answers given without a start, located in their context (the first occurrence); absent in older manifests. */
    readonly locatedAnswers?: number;
    /** Of those, answers that occur more than once in their context. */
    readonly ambiguousAnswers?: number;
  };
  readonly files: {
    readonly train: string;
    readonly test: string;
    readonly trainFeatures: string;
    readonly testFeatures: string;
  };
  /** Size and sha256 of each data file, by file name: checked on every read. */
  readonly checksums: Readonly<Record<string, FileChecksum>>;
  readonly createdAt: string;
}

interface FileChecksum {
  readonly bytes: number;
  readonly sha256: string;
}

interface PreparedSplit {
  readonly rows: SquadRow[];
  readonly features: Feature[];
}

export interface PreparedData {
  readonly manifest: PreparedManifest;
  readonly train: PreparedSplit;
  readonly test: PreparedSplit;
}

const PREPARED_FILES = {
  train: 'train.arrow',
  test: 'test.arrow',
  trainFeatures: 'train.features.arrow',
  testFeatures: 'test.features.arrow',
} as const;

/** Writes the four Arrow files and the manifest into `outDir` (see the top of this file for how it replaces). */
export async function writePrepared(
  outDir: string,
  data: {
    manifest: Omit<PreparedManifest, 'format' | 'version' | 'files' | 'checksums' | 'versionTwoWithNegative'> & {
      versionTwoWithNegative?: boolean;
    };
    train: PreparedSplit;
    test: PreparedSplit;
    /**
     * Files beside the data that the manifest does not check (`rejected.jsonl`): written in the same step, or with
     * null removed when an earlier prepare left one.
     */
    extras?: Readonly<Record<string, string | null>>;
  },
): Promise<PreparedManifest> {
  const target = await checkPreparedTarget(outDir);
  const extras = Object.entries(data.extras ?? {});
  const contents = new Map<string, Uint8Array>([
    [PREPARED_FILES.train, tableToBytes(rowsToTable(data.train.rows))],
    [PREPARED_FILES.test, tableToBytes(rowsToTable(data.test.rows))],
    [PREPARED_FILES.trainFeatures, tableToBytes(featuresToTable(data.train.features))],
    [PREPARED_FILES.testFeatures, tableToBytes(featuresToTable(data.test.features))],
  ]);
  const checksums: Record<string, FileChecksum> = {};
  for (const [name, bytes] of contents) checksums[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  const manifest: PreparedManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    ...data.manifest,
    versionTwoWithNegative: data.manifest.versionTwoWithNegative ?? false,
    files: { ...PREPARED_FILES },
    checksums,
  };
  // the manifest first: from then on the directory is recognisably a prepared one, whatever a kill interrupts
  const files: [string, string | Uint8Array][] = [
    [MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`],
    ...contents,
    ...extras.filter((e): e is [string, string] => e[1] !== null),
  ];
  const total = files.reduce(
    (sum, [, bytes]) => sum + (typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength),
    0,
  );
  await sweepStaleTemps(dirname(outDir), (name) => name === basename(outDir));
  if (target === 'absent') {
    await writeDirAtomic(
      outDir,
      async (tmp) => {
        for (const [name, bytes] of files) {
          const path = join(tmp, name); // reported at outDir/name
          await withFileSystemErrors({ path, operation: 'write' }, () => writeFile(path, bytes));
        }
      },
      { bytes: total },
    );
    return manifest;
  }
  await sweepStaleTemps(outDir, (name) => files.some(([file]) => file === name));
  const staged = files.map(([name, bytes]) => ({
    path: join(outDir, name),
    temp: tempSibling(join(outDir, name)),
    bytes,
  }));
  let current = staged[0]?.path ?? outDir;
  try {
    for (const { path, temp, bytes } of staged) {
      current = path;
      await writeFile(temp, bytes);
    }
  } catch (e) {
    for (const { temp } of staged) await rm(temp, { force: true });
    throw fileSystemError(e, { path: current, operation: 'write', bytes: total });
  }
  for (const { temp, path } of staged)
    await withFileSystemErrors({ path, operation: 'rename into place' }, () => rename(temp, path));
  for (const [name] of extras.filter(([, text]) => text === null)) {
    const path = join(outDir, name);
    await withFileSystemErrors({ path, operation: 'remove' }, () => rm(path, { force: true }));
  }
  return manifest;
}

/**
 * What is at `outDir`: nothing, an empty directory, or a prepared-data directory (which `writePrepared` may
 * replace). Anything else (a file, a directory of other things) is refused: prepare never deletes a user's files.
 */
export async function checkPreparedTarget(outDir: string): Promise<OutputTarget> {
  return checkOutputTarget(outDir, {
    option: { field: 'outDir' },
    command: 'prepare',
    kind: 'directory',
    owner: 'a qa-ft prepared-data directory',
    isOurs: (dir) => isPreparedManifest(join(dir, MANIFEST_FILE)),
    notOursHint: opt`choose a new or empty directory; prepare only replaces a directory it wrote itself`,
  });
}

/**
 * Where a prepare into `outDir` holds its lock: beside it (`.NAME.qa-ft.lock`), as `outDir` may not exist yet and
 * a new one appears whole, by a rename; inside it only when its parent cannot be written (`--out .` in a directory
 * whose parent is not the user's), where `outDir` must exist already. Every prepare into `outDir` picks the same.
 */
export async function preparedLockPath(outDir: string): Promise<string> {
  const dir = resolve(outDir);
  const parentWritable = await access(dirname(dir), constants.W_OK).then(
    () => true,
    () => false,
  );
  return parentWritable || !existsSync(dir) ? lockPathBeside(dir) : lockPathIn(dir);
}

async function isPreparedManifest(path: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { format?: unknown } | null)?.format === MANIFEST_FORMAT;
  } catch {
    return false;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function readPreparedManifest(dir: string): Promise<PreparedManifest> {
  const path = join(dir, MANIFEST_FILE);
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
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: expected format '${MANIFEST_FORMAT}', got ${JSON.stringify(m?.format)}`,
    );
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: prepared-data version ${m.version} is not supported (expected ${MANIFEST_VERSION})`,
      {
        hint: 'run `qa-ft prepare` again with this version of qa-ft',
      },
    );
  }
  if (m.versionTwoWithNegative !== undefined && typeof m.versionTwoWithNegative !== 'boolean') {
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: versionTwoWithNegative must be true or false, got ${JSON.stringify(m.versionTwoWithNegative)}`,
      {
        hint: 'run `qa-ft prepare` again',
      },
    );
  }
  const types = (m.tokenizer as { tokenTypeIds?: unknown } | undefined)?.tokenTypeIds;
  if (types !== undefined && typeof types !== 'boolean') {
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: tokenizer.tokenTypeIds must be true or false, got ${JSON.stringify(types)}`,
      { hint: 'run `qa-ft prepare` again' },
    );
  }
  const checksums = m.checksums as Record<string, Partial<FileChecksum>> | undefined;
  for (const name of Object.values(PREPARED_FILES)) {
    const c = checksums?.[name];
    if (!c || typeof c.bytes !== 'number' || typeof c.sha256 !== 'string') {
      throw new QaFtError('BAD_FORMAT', `${path}: checksums.${name} must hold the file's bytes and sha256`, {
        hint: 'run `qa-ft prepare` again',
      });
    }
  }
  return { ...(m as PreparedManifest), versionTwoWithNegative: m.versionTwoWithNegative ?? false };
}

/** A data file's bytes, checked against the manifest's size and sha256. */
async function readCheckedFile(dir: string, name: string, manifest: PreparedManifest): Promise<Uint8Array> {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new QaFtError('FILE_NOT_FOUND', `${path} is missing from the prepared-data directory`, {
      hint: 'run `qa-ft prepare` again',
    });
  }
  const expected = manifest.checksums[name];
  if (expected === undefined) {
    throw new QaFtError('BAD_FORMAT', `${join(dir, MANIFEST_FILE)}: checksums.${name} is missing`, {
      hint: 'run `qa-ft prepare` again',
    });
  }
  const actual = bytes.length === expected.bytes ? sha256(bytes) : undefined;
  if (actual !== expected.sha256) {
    const found =
      actual === undefined
        ? `${bytes.length} bytes, the manifest says ${expected.bytes}`
        : `sha256 ${actual.slice(0, 12)}…, the manifest says ${expected.sha256.slice(0, 12)}…`;
    throw new QaFtError(
      'BAD_DATA',
      `${path} is not the file ${join(dir, MANIFEST_FILE)} describes (${found}): it was changed, or comes from another prepare`,
      {
        hint: 'run `qa-ft prepare` again',
      },
    );
  }
  return bytes;
}

/** Reads everything `writePrepared` wrote (rows and features of both splits). */
export async function readPrepared(dir: string): Promise<PreparedData> {
  const manifest = await readPreparedManifest(dir);
  return { manifest, train: await readSplit(dir, 'train', manifest), test: await readSplit(dir, 'test', manifest) };
}

/** Reads the manifest and one split only (evaluation does not need the training set). */
export async function readPreparedSplit(
  dir: string,
  which: 'train' | 'test',
): Promise<{ manifest: PreparedManifest; split: PreparedSplit }> {
  const manifest = await readPreparedManifest(dir);
  return { manifest, split: await readSplit(dir, which, manifest) };
}

async function readSplit(dir: string, which: 'train' | 'test', manifest: PreparedManifest): Promise<PreparedSplit> {
  const rowsName = PREPARED_FILES[which];
  const featuresName = PREPARED_FILES[which === 'train' ? 'trainFeatures' : 'testFeatures'];
  const rowsPath = join(dir, rowsName);
  const featuresPath = join(dir, featuresName);
  const rows = arrowToRows(parseArrow(await readCheckedFile(dir, rowsName, manifest), rowsPath), rowsPath);
  const features = tableToFeatures(
    parseArrow(await readCheckedFile(dir, featuresName, manifest), featuresPath),
    featuresPath,
  );
  const counted = manifest.sizes?.[which];
  for (const [key, found, file] of [
    ['rows', rows.length, rowsName],
    ['features', features.length, featuresName],
  ] as const) {
    if (counted?.[key] !== found) {
      throw new QaFtError(
        'BAD_DATA',
        `${join(dir, MANIFEST_FILE)}: sizes.${which}.${key} is ${JSON.stringify(counted?.[key])} but ${file} holds ${found}`,
        {
          hint: 'the manifest was edited: run `qa-ft prepare` again',
        },
      );
    }
  }
  return { rows, features };
}
