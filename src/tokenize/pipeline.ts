/**
 * The whole of `qa-ft prepare` as a library call: read data file(s) in any format qa-ft reads (columns by name),
 * slice, check, split (at random, or a validation file as the test split), tokenize and label, write the
 * prepared-data directory (and `rejected.jsonl` of the rows `skipInvalid` dropped). Hub names are resolved by the
 * caller (the command); this takes local paths.
 */
import { field, OptionError, opt, type OptionText, QaFtError } from '../errors.js';
import { checkPreparedTarget, preparedLockPath, writePrepared, type PreparedManifest } from './prepared.js';
import { readSquadRows, type FileReadOptions, type SourceFormat } from '../data/read.js';
import { parseSplit, splitRange, trainTestSplit, type SplitSpec } from '../data/split.js';
import { isUnanswerable, type SquadRow } from '../records.js';
import { checkRows, type RejectedRow } from '../data/validate.js';
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
  /** How to read the inputs (and validation inputs): the format (default: guessed per file) and column names. */
  readonly read?: FileReadOptions;
  /**
   * Local files of the test split, used as they are (sliced by `validationSplit` only): no random split, so
   * `testSize` must be 0. A hub dataset's validation split, or the user's `--validation-file`.
   */
  readonly validationInputs?: readonly string[];
  /** The slice of the validation inputs (default: all of them), e.g. `validation[:500]`. */
  readonly validationSplit?: string;
  /** Fraction of the input held out for test at random (0 with `validationInputs`). */
  readonly testSize: number;
  /** run_qa.py's `--max_train_samples`: the first N train examples only (after the split). */
  readonly maxTrainSamples?: number;
  /** run_qa.py's `--max_eval_samples`: the first N test examples only. */
  readonly maxEvalSamples?: number;
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

export async function prepareDataset(
  options: PrepareOptions,
  onProgress?: (p: PrepareProgress) => void,
): Promise<PrepareResult> {
  const started = performance.now();
  // Cheap checks first, so a bad option or outDir fails before any file is read.
  checkPrepareOptions(options);
  const spec = parseSplit(options.split);
  if (options.inputs.length === 0)
    throw new OptionError('BAD_ARGUMENT', opt`no input file`, { hint: opt`pass ${field('inputs')} FILE` });
  if (options.validationInputs !== undefined && options.testSize !== 0) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('testSize')} draws the test split from the input at random; with a validation file (or split) the test split is that data`,
      {
        hint: opt`drop ${field('testSize')}, or drop ${field('validationInputs')} / ${field('validationSplit')}`,
      },
    );
  }
  for (const [option, n] of [
    ['maxTrainSamples', options.maxTrainSamples],
    ['maxEvalSamples', options.maxEvalSamples],
  ] as const) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1))
      throw new OptionError('BAD_ARGUMENT', opt`${field(option)} must be an integer ≥ 1, got ${n}`);
  }
  // one prepare per outDir at a time
  const lock = await acquireDirLock(await preparedLockPath(options.outDir), {
    what: opt`${field('outDir')} ${options.outDir}`,
    onNotice: options.onNotice,
  });
  try {
    await checkPreparedTarget(options.outDir);
    return await prepareInto(options, spec, started, onProgress);
  } finally {
    await lock.release();
  }
}

/** Reads, splits, tokenizes and writes, with `options.outDir` locked and checked. */
async function prepareInto(
  options: PrepareOptions,
  spec: SplitSpec,
  started: number,
  onProgress?: (p: PrepareProgress) => void,
): Promise<PrepareResult> {
  const versionTwoWithNegative = options.versionTwoWithNegative ?? false;
  const input = await readChecked(
    options.inputs,
    { spec, named: opt`${field('split')} '${options.split}'` },
    options,
    onProgress,
  );
  const validationSplit = options.validationSplit ?? 'validation';
  const validation =
    options.validationInputs === undefined
      ? undefined
      : await readChecked(
          options.validationInputs,
          {
            spec: parseSplit(validationSplit, 'validationSplit'),
            named: opt`${field('validationSplit')} '${validationSplit}'`,
          },
          options,
        );

  const tokenizer = await loadTokenizerFor(options);
  const drawn =
    validation === undefined
      ? trainTestSplit(input.rows, { testSize: options.testSize, seed: options.seed })
      : { train: input.rows, test: validation.rows };
  const train = options.maxTrainSamples === undefined ? drawn.train : drawn.train.slice(0, options.maxTrainSamples);
  const test = options.maxEvalSamples === undefined ? drawn.test : drawn.test.slice(0, options.maxEvalSamples);
  const windowOptions = {
    maxLength: options.maxLength,
    docStride: options.docStride,
    contextCache: new Map<string, TextEncoding>(),
  }; // test rows mostly share contexts with train rows
  const trainPrep = await prepareFeatures(train, tokenizer, windowOptions, (done, total) =>
    onProgress?.({ phase: 'tokenize-train', done, total }),
  );
  const testPrep = await prepareFeatures(test, tokenizer, windowOptions, (done, total) =>
    onProgress?.({ phase: 'tokenize-test', done, total }),
  );
  if (trainPrep.features.length === 0) {
    throw new OptionError(
      'BAD_DATA',
      [`${input.label}: no row fits max length ${options.maxLength}: every question leaves no room for context`],
      {
        hint: opt`raise ${field('maxLength')}`,
      },
    );
  }
  // Rows whose question leaves no room for context have no feature; drop them from the row tables too.
  const trainRows = withoutIds(train, trainPrep.skippedExampleIds);
  const testRows = withoutIds(test, testPrep.skippedExampleIds);
  const sum = (k: keyof FeatureStats): number => trainPrep.stats[k] + testPrep.stats[k];
  const rejected = [...input.rejected, ...(validation?.rejected ?? [])];

  onProgress?.({ phase: 'write', done: 0, total: 1 });
  const manifest = await writePrepared(options.outDir, {
    manifest: {
      source: {
        path: input.label,
        ...(options.dataset ? { dataset: options.dataset } : {}),
        format: input.formats.join('+'),
        rows: input.total,
      },
      split: options.split,
      ...(validation === undefined
        ? {}
        : {
            validation: {
              path: validation.label,
              ...(options.dataset ? { dataset: options.dataset } : {}),
              ...(options.validationSplit === undefined ? {} : { split: options.validationSplit }),
              format: validation.formats.join('+'),
              rows: validation.total,
            },
          }),
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
        skippedInvalid: rejected.length,
        locatedAnswers: input.located + (validation?.located ?? 0),
        ambiguousAnswers: input.ambiguous + (validation?.ambiguous ?? 0),
      },
      createdAt: new Date().toISOString(),
    },
    train: { rows: trainRows, features: trainPrep.features },
    test: { rows: testRows, features: testPrep.features },
    extras: {
      [REJECTED_FILE]: options.skipInvalid
        ? rejected.map((r) => `${JSON.stringify(rejectedLine(r))}\n`).join('')
        : null,
    },
  });
  onProgress?.({ phase: 'write', done: 1, total: 1 });
  return { manifest, seconds: (performance.now() - started) / 1000 };
}

/** Where `prepare` writes the rows `skipInvalid` dropped, one JSON object a line. */
export const REJECTED_FILE = 'rejected.jsonl';

/** A rejected row as a line of rejected.jsonl: the row in the SQuAD columns (fix it and read it again), and why. */
function rejectedLine(r: RejectedRow): Record<string, unknown> {
  return { ...r.row, reason: r.reason, file: r.file, where: r.where };
}

/**
 * Every file's rows, concatenated in order (hub datasets come in shards), sliced by `spec` and checked, with a label
 * for messages.
 */
async function readChecked(
  paths: readonly string[],
  slice: { spec: SplitSpec; named: OptionText },
  options: PrepareOptions,
  onProgress?: (p: PrepareProgress) => void,
) {
  onProgress?.({ phase: 'read', done: 0, total: paths.length });
  const rows: SquadRow[] = [];
  const where: string[] = [];
  const formats = new Set<SourceFormat>();
  let located = 0;
  let ambiguous = 0;
  for (const [i, path] of paths.entries()) {
    const file = await readSquadRows(path, options.read);
    for (const [k, r] of file.rows.entries()) {
      rows.push(r);
      where.push(paths.length === 1 ? (file.where[k] ?? '') : `${path} ${file.where[k] ?? ''}`);
    }
    formats.add(file.format);
    located += file.located;
    ambiguous += file.ambiguous;
    onProgress?.({ phase: 'read', done: i + 1, total: paths.length });
  }
  const label = paths.length === 1 ? String(paths[0]) : `${paths.length} files (${paths[0]}, …)`;
  const range = splitRange(slice.spec, rows.length);
  if (range.to <= range.from)
    throw new OptionError('BAD_ARGUMENT', [...slice.named, ` selects no rows of ${label} (${rows.length} rows)`]);
  const checked = checkRows(rows.slice(range.from, range.to), label, {
    skipInvalid: options.skipInvalid,
    where: where.slice(range.from, range.to),
    versionTwoWithNegative: options.versionTwoWithNegative ?? false,
  });
  if (checked.rows.length === 0) throw new QaFtError('BAD_DATA', `${label}: every selected row is invalid`);
  return {
    rows: checked.rows,
    rejected: checked.rejected,
    formats: [...formats],
    label,
    total: rows.length,
    located,
    ambiguous,
  };
}

/** The tokenizer, checked against the window options (resolved only now, after the data was read and checked). */
async function loadTokenizerFor(options: PrepareOptions) {
  const tokenizer = await loadTokenizer(
    typeof options.tokenizerDir === 'string' ? options.tokenizerDir : await options.tokenizerDir(),
  );
  validateWindowOptions(tokenizer.pairTemplate, { maxLength: options.maxLength, docStride: options.docStride });
  if (tokenizer.modelMaxLength !== undefined && options.maxLength > tokenizer.modelMaxLength) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('maxLength')} ${options.maxLength} exceeds the model's ${tokenizer.modelMaxLength} positions (${tokenizer.dir})`,
      {
        hint: opt`use at most ${tokenizer.modelMaxLength}`,
      },
    );
  }
  return tokenizer;
}

function withoutIds(rows: SquadRow[], ids: readonly string[]): SquadRow[] {
  if (ids.length === 0) return rows;
  const drop = new Set(ids);
  return rows.filter((r) => !drop.has(r.id));
}
