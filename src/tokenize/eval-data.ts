/**
 * The examples an evaluation scores, and their windows: a prepared directory's split (tokenized already), or rows from
 * local data files in any format `prepare` reads, columns by name (one file sliced by a split spec, or a hub dataset's
 * files), cut into windows with the model's tokenizer; either way checked to fit the model. Hub ids are resolved by the
 * caller (the command); this takes local paths.
 */
import { statSync } from 'node:fs';
import { field, OptionError, opt, QaFtError } from '../errors.js';
import type { Feature, SquadRow } from '../records.js';
import { readSquad, type FileReadOptions } from '../data/read.js';
import { applySplit, parseSplit } from '../data/split.js';
import { defaultDocStride, defaultMaxLength } from '../defaults.js';
import { prepareFeatures } from './features.js';
import { checkDataFitsModel, type ModelLimits } from './model-fit.js';
import { readPreparedSplit } from './prepared.js';
import type { QaTokenizer } from './tokenizer.js';

export interface EvalExamples {
  readonly rows: SquadRow[];
  /** Already-tokenized windows (a prepared directory), or null to tokenize with the model's tokenizer. */
  readonly features: Feature[] | null;
  /** What was read, for messages and results: `DIR (test)`, a file, `DATASET (validation)`. */
  readonly source: string;
  /** A caveat for the user about the data (e.g. contexts cut off when it was prepared). */
  readonly notice?: string;
  /** SQuAD 2.0: asked for, or recorded in the prepared directory's manifest (unanswerable rows are then valid). */
  readonly versionTwoWithNegative: boolean;
}

type EvalSource =
  /** A prepared directory (its `test` split, or `train`) or a data file (sliced by `split`, e.g. `train[:500]`). */
  | { readonly path: string; readonly split?: string }
  /**
   * The local files of a hub dataset's split, read in order; `split` is its name and slice, e.g. `validation[:100]`.
   */
  | { readonly dataset: string; readonly files: readonly string[]; readonly split: string };

/**
 * The examples of `source`, only the first `limit` of them (and their windows) when a limit is given. Files with
 * unanswerable rows are refused unless `versionTwoWithNegative` (a prepared directory's manifest says for itself).
 */
export async function readEvalExamples(
  source: EvalSource,
  limit?: number,
  options: { versionTwoWithNegative?: boolean; read?: FileReadOptions } = {},
): Promise<EvalExamples> {
  let loaded: EvalExamples;
  const versionTwoWithNegative = options.versionTwoWithNegative ?? false;
  const read = options.read ?? {};
  if ('dataset' in source) {
    const rows: SquadRow[] = [];
    for (const f of source.files) rows.push(...(await readSquad(f, { ...read, versionTwoWithNegative })).rows);
    loaded = {
      rows: applySplit(rows, parseSplit(source.split)),
      features: null,
      source: `${source.dataset} (${source.split})`,
      versionTwoWithNegative,
    };
  } else if (statSync(source.path, { throwIfNoEntry: false })?.isDirectory()) {
    loaded = await readPreparedExamples(source.path, source.split ?? 'test', versionTwoWithNegative);
  } else {
    const split = source.split === undefined ? {} : { split: parseSplit(source.split) };
    const { rows } = await readSquad(source.path, { ...read, ...split, versionTwoWithNegative });
    loaded = { rows, features: null, source: source.path, versionTwoWithNegative };
  }
  if (loaded.rows.length === 0) throw new QaFtError('BAD_DATA', `${loaded.source} holds no examples`);
  if (limit === undefined || limit >= loaded.rows.length) return checkUniqueIds(loaded);
  const rows = checkUniqueIds({ ...loaded, rows: loaded.rows.slice(0, limit) }).rows;
  const keep = new Set(rows.map((r) => r.id));
  return { ...loaded, rows, features: loaded.features?.filter((f) => keep.has(f.exampleId)) ?? null };
}

/**
 * Refuses examples that share an id. Predictions are keyed by id, so two questions under one id cannot both be
 * answered, and the yardsticks disagree on scoring them: the official v1.1 script counts each against the one
 * prediction, the 2.0 script keeps one, run_qa.py pools their windows into one example. SQuAD ids are unique; a
 * duplicate is a data error (a file concatenated twice, a bad conversion), so it is named rather than guessed at.
 */
function checkUniqueIds(examples: EvalExamples): EvalExamples {
  const seen = new Map<string, number>();
  for (const r of examples.rows) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  if (seen.size === examples.rows.length) return examples;
  const dups = [...seen].filter(([, n]) => n > 1);
  const shown = dups
    .slice(0, 3)
    .map(([id, n]) => `'${id}' (${n} questions)`)
    .join(', ');
  throw new QaFtError(
    'BAD_DATA',
    `${examples.source}: ${dups.length} id(s) name more than one question: ${shown}${dups.length > 3 ? ', …' : ''}`,
    {
      hint: 'give each question its own id: predictions are keyed by id, so duplicates cannot be scored apart',
    },
  );
}

async function readPreparedExamples(
  dir: string,
  which: string,
  versionTwoWithNegative: boolean,
): Promise<EvalExamples> {
  if (which !== 'test' && which !== 'train') {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('split')} for a prepared directory is 'test' or 'train', got '${which}'`,
    );
  }
  const { manifest: m, split } = await readPreparedSplit(dir, which);
  const notice =
    m.docStride === null && m.counts.truncated > 0
      ? `note: ${dir} was prepared without a doc stride and ${m.counts.truncated} contexts were cut at ${m.maxLength} tokens; answers past the cut cannot be found (evaluate the source file instead for full windows)`
      : undefined;
  return {
    ...split,
    source: `${dir} (${which})`,
    ...(notice === undefined ? {} : { notice }),
    versionTwoWithNegative: versionTwoWithNegative || m.versionTwoWithNegative,
  };
}

interface EvalWindowOptions {
  /** Tokens per window, special tokens included (default 384, or the model's positions if fewer). */
  readonly maxLength?: number;
  /** Tokens shared by consecutive windows (default 128, at most half a window). */
  readonly docStride?: number;
}

/**
 * The examples' windows, checked to fit the model: the prepared ones, or the rows cut with `tokenizer` (which
 * reports `onProgress` in rows done / total). `options` apply to cutting only.
 */
export async function evalFeatures(
  examples: Pick<EvalExamples, 'rows' | 'features'>,
  tokenizer: QaTokenizer,
  model: ModelLimits,
  options: EvalWindowOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<Feature[]> {
  let features = examples.features;
  if (features === null) {
    const maxLength = options.maxLength ?? defaultMaxLength(model.maxPositionEmbeddings);
    const docStride = options.docStride ?? defaultDocStride(maxLength);
    ({ features } = await prepareFeatures(examples.rows, tokenizer, { maxLength, docStride }, onProgress));
  }
  checkDataFitsModel({ features }, model);
  return features;
}
