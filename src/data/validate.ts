/**
 * Turning loosely typed records into SquadRows, with one-line errors that name the file, the row and the field,
 * and the content checks of a selected slice (empty text, `answer_start` that does not point at `text`, SQuAD 2.0
 * unanswerable rows without `--version-2-with-negative`).
 *
 * SQuAD 2.0: a question with no answer in its context has empty `answers` lists (the hub's `rajpurkar/squad_v2`
 * layout); the JSON's `is_impossible` flag, where a source has one, must agree with the answers.
 */
import { field, opt, OptionError, type OptionText, QaFtError, userError } from '../errors.js';
import { codePointLength, codePointSlice, pyStrip } from '../util/py-string.js';
import { isUnanswerable, type SquadRow } from '../records.js';

/** The columns a SQuAD source must have (`title` may be absent: it is not used for training). */
export const REQUIRED_COLUMNS = ['id', 'context', 'question', 'answers'] as const;

export function missingColumnError(
  file: string,
  column: string,
  present: readonly string[],
  hint?: string | OptionText,
): QaFtError {
  return userError(
    'BAD_FORMAT',
    `${file}: missing column '${column}' (found: ${present.join(', ') || 'none'})`,
    hint ?? 'expected the SQuAD columns id, title, context, question, answers{text[], answer_start[]}',
  );
}

/** A value as an error message shows it: its type and the start of its text. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing (the field is missing)';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object'
    ? 'a struct'
    : `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)?.slice(0, 40)}`;
}

function fieldError(file: string, row: number, field: string, expected: string, got: unknown): QaFtError {
  return new QaFtError(
    'BAD_DATA',
    `${file}: row ${row}: field '${field}' must be ${expected}, got ${describeValue(got)}`,
  );
}

function asString(v: unknown, file: string, row: number, field: string): string {
  if (typeof v !== 'string') throw fieldError(file, row, field, 'a string', v);
  return v;
}

function asInt(v: unknown, file: string, row: number, field: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw fieldError(file, row, field, 'an integer', v);
  return n;
}

function asList(v: unknown, file: string, row: number, field: string): unknown[] {
  if (Array.isArray(v)) return v;
  // typed arrays and Arrow vectors are iterable
  if (v !== null && typeof v === 'object' && Symbol.iterator in v) return Array.from(v as Iterable<unknown>);
  throw fieldError(file, row, field, 'a list', v);
}

/** One record (a Parquet/Arrow row or a flattened JSON question) → SquadRow; `row` is its index in the file. */
export function coerceRow(raw: Record<string, unknown>, file: string, row: number): SquadRow {
  const answers = raw.answers;
  if (answers === null || typeof answers !== 'object' || Array.isArray(answers)) {
    throw fieldError(file, row, 'answers', 'a struct {text[], answer_start[]}', answers);
  }
  const a = answers as Record<string, unknown>;
  const text = asList(a.text, file, row, 'answers.text').map((t, k) => asString(t, file, row, `answers.text[${k}]`));
  const starts = asList(a.answer_start, file, row, 'answers.answer_start').map((s, k) =>
    asInt(s, file, row, `answers.answer_start[${k}]`),
  );
  if (text.length !== starts.length) {
    throw new QaFtError(
      'BAD_DATA',
      `${file}: row ${row}: answers.text has ${text.length} entries but answers.answer_start has ${starts.length}`,
    );
  }
  const id = asString(raw.id, file, row, 'id');
  checkImpossibleFlag(raw.is_impossible, text.length, file, `row ${row}`, id);
  return {
    id,
    title: raw.title === undefined || raw.title === null ? '' : asString(raw.title, file, row, 'title'),
    context: asString(raw.context, file, row, 'context'),
    question: asString(raw.question, file, row, 'question'),
    answers: { text, answer_start: starts },
  };
}

/**
 * SQuAD 2.0 JSON marks unanswerable questions `is_impossible: true` (their `plausible_answers` are not answers and
 * are dropped, as `datasets`' squad_v2 loader does): such a row must have no answers, and a row marked answerable
 * must have at least one. Absent (SQuAD v1.1, Parquet, Arrow): empty answers alone mean unanswerable.
 */
export function checkImpossibleFlag(flag: unknown, answers: number, file: string, where: string, id: string): void {
  if (flag === undefined || flag === null) return;
  if (typeof flag !== 'boolean') {
    throw new QaFtError(
      'BAD_DATA',
      `${file}: ${where}: field 'is_impossible' must be true or false, got ${describeValue(flag)}`,
    );
  }
  if (flag && answers > 0) {
    throw new QaFtError(
      'BAD_DATA',
      `${file}: ${where} (id ${id}) is marked is_impossible but has ${answers} answer${answers > 1 ? 's' : ''}`,
      {
        hint: 'an unanswerable question must have an empty answers list (its plausible answers go in plausible_answers)',
      },
    );
  }
  if (!flag && answers === 0) {
    throw new QaFtError(
      'BAD_DATA',
      `${file}: ${where} (id ${id}) is answerable (is_impossible false) but has no answers`,
      {
        hint: 'give its answers, or mark it is_impossible: true',
      },
    );
  }
}

/** What is wrong with a row's content, or null. */
function rowProblem(r: SquadRow): { kind: ProblemKind; detail: string } | null {
  if (pyStrip(r.context) === '') return { kind: 'empty', detail: 'context is empty' };
  if (pyStrip(r.question) === '') return { kind: 'empty', detail: 'question is empty' };
  for (const [k, text] of r.answers.text.entries()) {
    const start = r.answers.answer_start[k];
    if (start === undefined) return { kind: 'start', detail: `answers.text[${k}] has no answers.answer_start[${k}]` };
    if (!r.context.includes(text)) {
      return { kind: 'missing', detail: `answer ${JSON.stringify(text.slice(0, 40))} does not occur in the context` };
    }
    const end = start + codePointLength(text);
    const found = start < 0 ? '' : codePointSlice(r.context, start, end);
    if (found !== text) {
      return {
        kind: 'start',
        detail: `answers.text[${k}] ${JSON.stringify(text.slice(0, 40))} is not at answer_start ${start} of the context (found ${JSON.stringify(found.slice(0, 40))})`,
      };
    }
  }
  return null;
}

type ProblemKind = 'start' | 'missing' | 'empty';

const PROBLEM_WORDS: Record<ProblemKind, [string, string]> = {
  start: [
    'has an answer_start that does not match answers.text in the context',
    'have an answer_start that does not match answers.text in the context',
  ],
  missing: ['has an answer that does not occur in its context', 'have an answer that does not occur in their context'],
  empty: ['has an empty context or question', 'have an empty context or question'],
};

/** A row the content checks turned away: where it was, its id and why. */
export interface RejectedRow {
  readonly file: string;
  readonly where: string;
  readonly id: string;
  readonly reason: string;
  readonly row: SquadRow;
}

export interface CheckOptions {
  readonly skipInvalid?: boolean;
  /** File index of rows[0] (rows are named `row N` by it when `where` is absent). */
  readonly firstRow?: number;
  /** Where each row came from (`line 12`, `row 3`), parallel to the rows. */
  readonly where?: readonly string[];
  readonly versionTwoWithNegative?: boolean;
}

/**
 * Checks the content of `rows`. Invalid rows are an error naming how many and the first one (its line or row and
 * id), or with `skipInvalid` are dropped, counted and returned with their reasons.
 */
export function checkRows(
  rows: readonly SquadRow[],
  file: string,
  options: CheckOptions = {},
): { rows: SquadRow[]; skippedInvalid: number; rejected: RejectedRow[]; where: string[] } {
  const good: SquadRow[] = [];
  const goodWhere: string[] = [];
  const rejected: RejectedRow[] = [];
  const counts: Record<ProblemKind, number> = { start: 0, missing: 0, empty: 0 };
  const whereOf = (i: number): string => options.where?.[i] ?? `row ${(options.firstRow ?? 0) + i}`;
  rows.forEach((r, i) => {
    const p = rowProblem(r);
    if (!p) {
      good.push(r);
      goodWhere.push(whereOf(i));
      return;
    }
    counts[p.kind]++;
    rejected.push({ file, where: whereOf(i), id: r.id, reason: p.detail, row: r });
  });
  const first = rejected[0];
  if (first && !options.skipInvalid) {
    const what = (Object.keys(counts) as ProblemKind[])
      .filter((k) => counts[k] > 0)
      .map((k) => `${counts[k]} row${counts[k] > 1 ? 's' : ''} ${PROBLEM_WORDS[k][counts[k] > 1 ? 1 : 0]}`)
      .join(', ');
    throw new OptionError('BAD_DATA', opt`${file}: ${what}; first: ${first.where} (id ${first.id}): ${first.reason}`, {
      hint: opt`fix the data, or pass ${field('skipInvalid')} to drop such rows and list them in rejected.jsonl`,
    });
  }
  if (!options.versionTwoWithNegative) refuseUnanswerable(good, goodWhere, file);
  return { rows: good, skippedInvalid: rejected.length, rejected, where: goodWhere };
}

/**
 * SQuAD v1 processing has no place for a question without an answer (run_qa.py would fail on it, other tools drop
 * or mislabel it silently): data with any is refused in one line unless it is read as SQuAD 2.0.
 */
function refuseUnanswerable(good: readonly SquadRow[], where: readonly string[], file: string): void {
  const none = good.filter(isUnanswerable);
  const [first] = none;
  if (first === undefined) return;
  const v2 = field('versionTwoWithNegative');
  throw new OptionError(
    'BAD_DATA',
    opt`${file}: ${none.length} of ${good.length} rows have no answer (SQuAD 2.0 unanswerable questions; first: ${where[good.indexOf(first)]}, id ${first.id}); pass ${v2} to use them`,
    { hint: opt`with ${v2} they are labelled at [CLS] and scored by the official SQuAD 2.0 metric` },
  );
}
