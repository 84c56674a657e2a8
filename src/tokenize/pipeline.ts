/**
 * The whole of `qa-ft prepare` as a library call: read SQuAD file(s), slice, check, split, tokenize and label,
 * write the prepared-data directory. Hub names are resolved by the caller (the command); this takes local paths.
 */
import { QaFtError } from '../errors.js';
import { checkPreparedTarget, writePrepared, type PreparedManifest } from '../data/prepared.js';
import { readSquadRows, type SourceFormat } from '../data/read.js';
import { applySplit, parseSplit, splitRange, trainTestSplit } from '../data/split.js';
import type { SquadRow } from '../data/types.js';
import { checkRows } from '../data/validate.js';
import { prepareFeatures, type FeatureStats } from './features.js';
import { loadTokenizer, type TextEncoding } from './tokenizer.js';
import { validateWindowOptions } from './windows.js';

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
  // Cheap checks first, so a bad option fails before any file is read.
  const spec = parseSplit(options.split);
  if (!(options.testSize >= 0 && options.testSize < 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--test-size must be in [0, 1), got ${options.testSize}`, {
      hint: 'e.g. 0.2 for an 80/20 split, 0 to keep every row in train',
    });
  }
  if (options.inputs.length === 0) throw new QaFtError('BAD_ARGUMENT', 'no input file', { hint: 'pass --input FILE' });
  await checkPreparedTarget(options.outDir); // a refused --out fails before minutes of reading and tokenizing

  onProgress?.({ phase: 'read', done: 0, total: options.inputs.length });
  const all: SquadRow[] = [];
  const formats = new Set<SourceFormat>();
  for (const [i, path] of options.inputs.entries()) {
    const { rows, format } = await readSquadRows(path);
    for (const r of rows) all.push(r);
    formats.add(format);
    onProgress?.({ phase: 'read', done: i + 1, total: options.inputs.length });
  }
  const label = options.inputs.length === 1 ? (options.inputs[0] as string) : `${options.inputs.length} files (${options.inputs[0]}, …)`;
  const selected = applySplit(all, spec);
  if (selected.length === 0) {
    throw new QaFtError('BAD_ARGUMENT', `--split '${options.split}' selects no rows of ${label} (${all.length} rows)`);
  }
  const checked = checkRows(selected, label, { skipInvalid: options.skipInvalid, firstRow: splitRange(spec, all.length).from });
  if (checked.rows.length === 0) throw new QaFtError('BAD_DATA', `${label}: every selected row is invalid`);

  const tokenizer = await loadTokenizer(typeof options.tokenizerDir === 'string' ? options.tokenizerDir : await options.tokenizerDir());
  const windowOptions = { maxLength: options.maxLength, docStride: options.docStride };
  validateWindowOptions(tokenizer.pairTemplate, windowOptions);
  if (tokenizer.modelMaxLength !== undefined && options.maxLength > tokenizer.modelMaxLength) {
    throw new QaFtError('BAD_ARGUMENT', `--max-length ${options.maxLength} exceeds the model's ${tokenizer.modelMaxLength} positions (${tokenizer.dir})`, {
      hint: `use at most ${tokenizer.modelMaxLength}`,
    });
  }
  const { train, test } = trainTestSplit(checked.rows, { testSize: options.testSize, seed: options.seed });

  const contextCache = new Map<string, TextEncoding>(); // test rows mostly share contexts with train rows
  const trainPrep = await prepareFeatures(train, tokenizer, { ...windowOptions, contextCache }, (done, total) =>
    onProgress?.({ phase: 'tokenize-train', done, total }),
  );
  const testPrep = await prepareFeatures(test, tokenizer, { ...windowOptions, contextCache }, (done, total) =>
    onProgress?.({ phase: 'tokenize-test', done, total }),
  );
  // Rows whose question leaves no room for context have no feature; drop them from the row tables too.
  const keep = (rows: SquadRow[], skipped: string[]): SquadRow[] => {
    if (skipped.length === 0) return rows;
    const s = new Set(skipped);
    return rows.filter((r) => !s.has(r.id));
  };
  if (trainPrep.features.length === 0) {
    throw new QaFtError('BAD_DATA', `${label}: no row fits max length ${options.maxLength}: every question leaves no room for context`, {
      hint: 'raise --max-length',
    });
  }
  const trainRows = keep(train, trainPrep.skippedExampleIds);
  const testRows = keep(test, testPrep.skippedExampleIds);
  const sum = (k: keyof FeatureStats): number => trainPrep.stats[k] + testPrep.stats[k];

  onProgress?.({ phase: 'write', done: 0, total: 1 });
  const manifest = await writePrepared(options.outDir, {
    manifest: {
      source: {
        path: label,
        ...(options.dataset ? { dataset: options.dataset } : {}),
        format: [...formats].join('+'),
        rows: all.length,
      },
      split: options.split,
      testSize: options.testSize,
      seed: options.seed,
      sizes: {
        train: { rows: trainRows.length, features: trainPrep.features.length },
        test: { rows: testRows.length, features: testPrep.features.length },
      },
      tokenizer: { dir: tokenizer.dir, files: tokenizer.files.map((f) => f.slice(tokenizer.dir.length + 1)), vocabSize: tokenizer.vocabSize },
      maxLength: options.maxLength,
      docStride: options.docStride ?? null,
      labelRule: options.docStride === undefined ? 'seed' : 'whole',
      counts: {
        truncated: sum('truncated'),
        unanswerable: sum('unanswerable'),
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
