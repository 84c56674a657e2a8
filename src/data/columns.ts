/**
 * Flat records → SQuAD rows, with the columns named as `run_qa.py` names them (`--question-column`,
 * `--context-column`, `--answer-column`; here also `--answer-start-column` and `--id-column`). An answer cell may
 * hold `datasets`' struct `{text: [...], answer_start: [...]}` (in a CSV cell: that struct as JSON), a list of
 * strings (or of `{text, answer_start}` objects), or one string; an empty list or string (or null) is no answer
 * (SQuAD 2.0). Answers given without a start are located in their context: the first exact occurrence, counted in
 * code points as Python's `str.find` (an answer that does not occur gets start -1, which the content checks in
 * validate.ts report with the row's line and id).
 */
import { field, opt, QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import { codePointIndex } from '../util/py-string.js';
import type { RecordFile } from './source-records.js';
import { checkImpossibleFlag, describeValue, missingColumnError } from './validate.js';

/** Column names; absent ones take `DEFAULT_COLUMNS` (no start column: answers without a start are located). */
export interface ColumnOptions {
  readonly question?: string;
  readonly context?: string;
  readonly answer?: string;
  readonly answerStart?: string;
  /** Absent and no `id` column in the file: ids are the 0-based row numbers. */
  readonly id?: string;
}

/** run_qa.py's defaults (`question`, `context`, `answers`) and the hub's `id`. */
export const DEFAULT_COLUMNS = { question: 'question', context: 'context', answer: 'answers', id: 'id' } as const;

export interface MappedRows {
  readonly rows: SquadRow[];
  /** Where each row came from (`line 12`, `row 3`), for messages. */
  readonly where: string[];
  /** Answers given without a start, located in their context. */
  readonly located: number;
  /** Of the located answers, those occurring more than once in their context (the first occurrence was used). */
  readonly ambiguous: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

class RowError {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
  ) {}
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new RowError(field, 'a string', v);
  return v;
}

function int(v: unknown, field: string, fromText: boolean): number {
  const n =
    typeof v === 'bigint' ? Number(v) : fromText && typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new RowError(field, 'an integer', v);
  return n;
}

/** A CSV cell that holds JSON (`{"text": …}` or `[…]`), parsed; anything else as it is. */
function jsonCell(v: unknown, textCells: boolean): unknown {
  if (!textCells || typeof v !== 'string' || !/^\s*[[{]/.test(v)) return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) || (isObject(parsed) && 'text' in parsed) ? parsed : v;
  } catch {
    return v; // an answer that merely starts with a bracket
  }
}

function asArray(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v !== null && typeof v === 'object' && Symbol.iterator in v && typeof v !== 'string')
    return Array.from(v as Iterable<unknown>);
  return undefined;
}

/** An answer cell → texts and their starts (undefined where none is given). */
function parseAnswers(
  cell: unknown,
  field: string,
  textCells: boolean,
): { texts: string[]; starts: (number | undefined)[] } {
  const v = jsonCell(cell, textCells);
  if (v === null || v === undefined) return { texts: [], starts: [] };
  if (typeof v === 'string') return v === '' ? { texts: [], starts: [] } : { texts: [v], starts: [undefined] };
  const list = asArray(v);
  if (list) {
    const texts: string[] = [];
    const starts: (number | undefined)[] = [];
    list.forEach((a, k) => {
      if (isObject(a)) {
        texts.push(text(a.text, `${field}[${k}].text`));
        starts.push(
          a.answer_start === undefined || a.answer_start === null
            ? undefined
            : int(a.answer_start, `${field}[${k}].answer_start`, false),
        );
      } else {
        texts.push(text(a, `${field}[${k}]`));
        starts.push(undefined);
      }
    });
    return { texts, starts };
  }
  if (isObject(v)) {
    const t = v.text;
    const texts = typeof t === 'string' ? [t] : asArray(t)?.map((x, k) => text(x, `${field}.text[${k}]`));
    if (texts === undefined) throw new RowError(`${field}.text`, 'a list of strings', t);
    const s = v.answer_start;
    if (s === undefined || s === null) return { texts, starts: texts.map(() => undefined) };
    const starts =
      typeof s === 'number' || typeof s === 'bigint'
        ? [int(s, `${field}.answer_start`, false)]
        : asArray(s)?.map((x, k) => int(x, `${field}.answer_start[${k}]`, false));
    if (starts === undefined) throw new RowError(`${field}.answer_start`, 'a list of integers', s);
    if (starts.length !== texts.length)
      throw new RowError(
        `${field}.answer_start`,
        `${texts.length} integer${texts.length === 1 ? '' : 's'} (one per answer text)`,
        s,
      );
    return { texts, starts };
  }
  throw new RowError(field, 'a struct {text, answer_start}, a list of strings or a string', v);
}

/** The `answerStart` column's cell: an integer, a list of them (or, in a CSV cell, its text); empty = none. */
function parseStarts(cell: unknown, field: string, textCells: boolean): number[] | undefined {
  const v = jsonCell(cell, textCells);
  if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) return undefined;
  const list = asArray(v);
  if (list) return list.map((x, k) => int(x, `${field}[${k}]`, textCells));
  return [int(v, field, textCells)];
}

/** The first occurrence of `answer` in `context` as a code-point offset (-1: none), and whether it occurs again. */
function locate(context: string, answer: string): { start: number; again: boolean } {
  const i = context.indexOf(answer);
  if (i < 0 || answer === '') return { start: -1, again: false };
  return { start: codePointIndex(context, i), again: context.indexOf(answer, i + 1) >= 0 };
}

/**
 * The rows of a file's records, columns picked by name. A missing column is an error listing the file's columns; a
 * field of the wrong type is an error naming the record's line or row and id.
 */
export function recordsToRows(source: RecordFile, file: string, options: ColumnOptions = {}): MappedRows {
  const col = {
    question: options.question ?? DEFAULT_COLUMNS.question,
    context: options.context ?? DEFAULT_COLUMNS.context,
    answer: options.answer ?? DEFAULT_COLUMNS.answer,
    answerStart: options.answerStart,
    id: options.id ?? DEFAULT_COLUMNS.id,
  };
  const present = source.columns;
  const need: (keyof ColumnOptions)[] = ['question', 'context', 'answer'];
  if (options.answerStart !== undefined) need.push('answerStart');
  if (options.id !== undefined) need.push('id');
  for (const k of need) {
    const name = col[k];
    if (name !== undefined && !present.includes(name))
      throw missingColumnError(file, name, present, opt`name the file's column with ${field(`columns.${k}`)}`);
  }
  const hasId = present.includes(col.id);
  const rows: SquadRow[] = [];
  const where: string[] = [];
  let located = 0;
  let ambiguous = 0;
  source.records.forEach((record, index) => {
    const v = record.values;
    let id = String(index);
    try {
      if (hasId) {
        const raw = v[col.id];
        id = typeof raw === 'number' || typeof raw === 'bigint' ? String(raw) : text(raw, col.id);
      }
      const context = text(v[col.context], col.context);
      const question = text(v[col.question], col.question);
      const { texts, starts } = parseAnswers(v[col.answer], col.answer, source.textCells);
      if (col.answerStart !== undefined) {
        const given = parseStarts(v[col.answerStart], col.answerStart, source.textCells);
        if (given !== undefined) {
          if (given.length !== texts.length)
            throw new RowError(
              col.answerStart,
              `${texts.length} start${texts.length === 1 ? '' : 's'} (one per answer)`,
              v[col.answerStart],
            );
          given.forEach((s, k) => {
            starts[k] = s;
          });
        }
      }
      const answerStart = texts.map((t, k) => {
        const s = starts[k];
        if (s !== undefined) return s;
        const found = locate(context, t);
        if (found.start >= 0) located++;
        if (found.again) ambiguous++;
        return found.start;
      });
      checkImpossibleFlag(v.is_impossible, texts.length, file, record.where, id);
      const title = v.title;
      rows.push({
        id,
        title: typeof title === 'string' ? title : '',
        context,
        question,
        answers: { text: texts, answer_start: answerStart },
      });
      where.push(record.where);
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      const which =
        hasId || e.field === col.id
          ? typeof v[col.id] === 'string'
            ? ` (id ${String(v[col.id])})`
            : ''
          : ` (id ${id})`;
      throw new QaFtError(
        'BAD_DATA',
        `${file}: ${record.where}${which}: field '${e.field}' must be ${e.expected}, got ${describeValue(e.got)}`,
      );
    }
  });
  return { rows, where, located, ambiguous };
}
