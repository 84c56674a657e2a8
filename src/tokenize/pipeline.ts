/**
 * The whole of `qa-ft prepare` as a library call: read SQuAD file(s), slice, check, split, tokenize and label,
 * write the prepared-data directory. Hub names are resolved by the caller (the command); this takes local paths.
 */
import { QaFtError } from '../errors.js';
import { checkPreparedTarget, preparedLockPath, writePrepared, type PreparedManifest } from './prepared.js';
import { readSquadRows, type SourceFormat } from '../data/read.js';
import { applySplit, parseSplit, splitRange, trainTestSplit, type SplitSpec } from '../data/split.js';
import { isUnanswerable, type SquadRow } from '../records.js';
import { checkRows } from '../data/validate.js';
import { prepareFeatures, type FeatureStats } from './features.js';
import { checkPrepareOptions } from './prepare-options.js';
import { loadTokenizer, type TextEncoding } from './tokenizer.js';
import { validateWindowOptions } from './windows.js';
import { acquireDirLock } from '../util/dir-lock.js';

export interface PrepareOptions {
  /** Local files of the split, read in order and concatenated (hub datasets come in shards). */
  readonly inputs: readonly string[];
  /** Hub dataset id the inputs came from, when they did (recorded in the manifest). */
  readonly dataset?: string;
  readonly split: string;
  readonly testSize: number;
  readonly seed: number;
  readonly maxLength: number;
  readonly docStride?: number;
  /** A tokenizer directory, or a function giving one (called only once the data has been read and checked,
   * so a bad input file fails before any tokenizer download). */
  readonly tokenizerDir: string | (() => Promise<string>);
  readonly outDir: string;
  readonly skipInvalid?: boolean;
  /** SQuAD 2.0: keep rows without an answer (labelled at [CLS]); without it such data is refused. */
  readonly versionTwoWithNegative?: boolean;
  /** Told when a stale lock on `outDir` (left by a killed prepare) is taken over. */
  readonly onNotice?: (message: string) => void;
}

export type PreparePhase = 'read' | 'tokenize-train' | 'tokenize-test' | 'write';

export interface PrepareProgress {
  readonly phase: PreparePhase;
  readonly done: number;
  readonly total: number;
}

export interface PrepareResult {
  readonly manifest: PreparedManifest;
  readonly seconds: number;
}

export async function prepareDataset(options: PrepareOptions, onProgress?: (p: PrepareProgress) => void): Promise<PrepareResult> {
  const started = performance.now();
  // Cheap checks first, so a bad option or --out fails before any file is read.
  checkPrepareOptions(options);
  const spec = parseSplit(options.split);
  if (options.inputs.length === 0) throw new QaFtError('BAD_ARGUMENT', 'no input file', { hint: 'pass --input FILE' });
  // one prepare per --out at a time
  const lock = await acquireDirLock(await preparedLockPath(options.outDir), { what: `--out ${options.outDir}`, onNotice: options.onNotice });
  try {
    await checkPreparedTarget(options.outDir);
    return await prepareInto(options, spec, started, onProgress);
  } finally {
    await lock.release();
  }
}

/** Reads, splits, tokenizes and writes, with `options.outDir` locked and checked. */
async function prepareInto(options: PrepareOptions, spec: SplitSpec, started: number, onProgress?: (p: PrepareProgress) => void): Promise<PrepareResult> {

  const input = await readInputs(options.inputs, onProgress);
  const selected = applySplit(input.rows, spec);
  if (selected.length === 0) {
    throw new QaFtError('BAD_ARGUMENT', `--split '${options.split}' selects no rows of ${input.label} (${input.rows.length} rows)`);
  }
  const versionTwoWithNegative = options.versionTwoWithNegative ?? false;
  const checked = checkRows(selected, input.label, {
    skipInvalid: options.skipInvalid,
    firstRow: splitRange(spec, input.rows.length).from,
    versionTwoWithNegative,
  });
  if (checked.rows.length === 0) throw new QaFtError('BAD_DATA', `${input.label}: every selected row is invalid`);

  const tokenizer = await loadTokenizerFor(options);
  const { train, test } = trainTestSplit(checked.rows, { testSize: options.testSize, seed: options.seed });
  const windowOptions = { maxLength: options.maxLength, docStride: options.docStride, contextCache: new Map<string, TextEncoding>() }; // test rows mostly share contexts with train rows
  const trainPrep = await prepareFeatures(train, tokenizer, windowOptions, (done, total) => onProgress?.({ phase: 'tokenize-train', done, total }));
  const testPrep = await prepareFeatures(test, tokenizer, windowOptions, (done, total) => onProgress?.({ phase: 'tokenize-test', done, total }));
  if (trainPrep.features.length === 0) {
    throw new QaFtError('BAD_DATA', `${input.label}: no row fits max length ${options.maxLength}: every question leaves no room for context`, {
      hint: 'raise --max-length',
    });
  }
  // Rows whose question leaves no room for context have no feature; drop them from the row tables too.
  const trainRows = withoutIds(train, trainPrep.skippedExampleIds);
  const testRows = withoutIds(test, testPrep.skippedExampleIds);
  const sum = (k: keyof FeatureStats): number => trainPrep.stats[k] + testPrep.stats[k];

  onProgress?.({ phase: 'write', done: 0, total: 1 });
  const manifest = await writePrepared(options.outDir, {
    manifest: {
      source: {
        path: input.label,
        ...(options.dataset ? { dataset: options.dataset } : {}),
        format: input.formats.join('+'),
        rows: input.rows.length,
      },
      split: options.split,
      testSize: options.testSize,
      seed: options.seed,
      sizes: {
        train: { rows: trainRows.length, features: trainPrep.features.length },
        test: { rows: testRows.length, features: testPrep.features.length },
      },
      tokenizer: {
        dir: tokenizer.dir,
        files: tokenizer.files.map((f) => f.slice(tokenizer.dir.length + 1)),
        vocabSize: tokenizer.vocabSize,
        tokenTypeIds: tokenizer.pairTemplate.typeIds !== undefined,
      },
      maxLength: options.maxLength,
      docStride: options.docStride ?? null,
      labelRule: options.docStride === undefined ? 'tutorial' : 'whole',
      versionTwoWithNegative,
      counts: {
        truncated: sum('truncated'),
        unanswerable: sum('unanswerable'),
        noAnswerRows: [...trainRows, ...testRows].filter(isUnanswerable).length,
        skippedLongQuestion: sum('skippedLongQuestion'),
        skippedInvalid: checked.skippedInvalid,
      },
      createdAt: new Date().toISOString(),
    },
    train: { rows: trainRows, features: trainPrep.features },
    test: { rows: testRows, features: testPrep.features },
  });
  onProgress?.({ phase: 'write', done: 1, total: 1 });
  return { manifest, seconds: (performance.now() - started) / 1000 };
}

/** Every input file's rows, concatenated in order (hub datasets come in shards), with a label for messages. */
async function readInputs(paths: readonly string[], onProgress?: (p: PrepareProgress) => void) {
  onProgress?.({ phase: 'read', done: 0, total: paths.length });
  const rows: SquadRow[] = [];
  const formats = new Set<SourceFormat>();
  for (const [i, path] of paths.entries()) {
    const file = await readSquadRows(path);
    for (const r of file.rows) rows.push(r);
    formats.add(file.format);
    onProgress?.({ phase: 'read', done: i + 1, total: paths.length });
  }
  const label = paths.length === 1 ? String(paths[0]) : `${paths.length} files (${paths[0]}, …)`;
  return { rows, formats: [...formats], label };
}

/** The tokenizer, checked against the window options (resolved only now, after the data was read and checked). */
async function loadTokenizerFor(options: PrepareOptions) {
  const tokenizer = await loadTokenizer(typeof options.tokenizerDir === 'string' ? options.tokenizerDir : await options.tokenizerDir());
  validateWindowOptions(tokenizer.pairTemplate, { maxLength: options.maxLength, docStride: options.docStride });
  if (tokenizer.modelMaxLength !== undefined && options.maxLength > tokenizer.modelMaxLength) {
    throw new QaFtError('BAD_ARGUMENT', `--max-length ${options.maxLength} exceeds the model's ${tokenizer.modelMaxLength} positions (${tokenizer.dir})`, {
      hint: `use at most ${tokenizer.modelMaxLength}`,
    });
  }
  return tokenizer;
}

function withoutIds(rows: SquadRow[], ids: readonly string[]): SquadRow[] {
  if (ids.length === 0) return rows;
  const drop = new Set(ids);
  return rows.filter((r) => !drop.has(r.id));
}
