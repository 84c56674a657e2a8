/**
 * Arrow IPC (file and stream format, as the Hugging Face `datasets` cache stores them) → records of any columns,
 * and ↔ SQuAD rows (the prepared-data directory's tables). Written
 * tables use the `datasets` layout: id/title/context/question/answers{text[], answer_start[]}. (Features have
 * their table in tokenize/feature-table.ts.)
 */
import {
  Field,
  Int32,
  List,
  Struct,
  Table,
  Utf8,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  Vector,
} from 'apache-arrow';
import { QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import type { SourceRecord } from './source-records.js';
import { REQUIRED_COLUMNS, coerceRow, missingColumnError } from './validate.js';

export function parseArrow(bytes: Uint8Array, file: string): Table {
  try {
    return tableFromIPC(bytes);
  } catch (e) {
    throw new QaFtError(
      'BAD_FORMAT',
      `${file}: unreadable Arrow IPC data: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    );
  }
}

/** Rows of an Arrow table in the SQuAD schema (checked column by column, then row by row). */
export function arrowToRows(table: Table, file: string): SquadRow[] {
  const names = table.schema.fields.map((f) => f.name);
  for (const c of REQUIRED_COLUMNS) if (!names.includes(c)) throw missingColumnError(file, c, names);
  const col = (name: string): Vector | null => table.getChild(name);
  const answers = col('answers') as Vector;
  const answerNames = answers.type instanceof Struct ? answers.type.children.map((f: Field) => f.name) : [];
  for (const c of ['text', 'answer_start']) {
    if (!answerNames.includes(c)) {
      throw new QaFtError(
        'BAD_FORMAT',
        `${file}: column 'answers' must be a struct with fields text and answer_start (found ${answers.type})`,
      );
    }
  }
  const text = answers.getChild('text') as Vector;
  const starts = answers.getChild('answer_start') as Vector;
  const id = col('id') as Vector;
  const title = col('title');
  const context = col('context') as Vector;
  const question = col('question') as Vector;
  const impossible = col('is_impossible'); // SQuAD 2.0 sources that keep the flag
  const rows: SquadRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const t: unknown = text.get(i);
    const s: unknown = starts.get(i);
    rows[i] = coerceRow(
      {
        id: id.get(i),
        title: title ? title.get(i) : undefined,
        context: context.get(i),
        question: question.get(i),
        is_impossible: impossible ? impossible.get(i) : undefined,
        answers: answers.isValid(i)
          ? { text: t === null ? t : toList(t), answer_start: s === null ? s : toList(s) }
          : null,
      },
      file,
      i,
    );
  }
  return rows;
}

/** Every column of every row as plain values (structs as objects, lists as arrays), each named `row N`. */
export function arrowRecords(table: Table): { records: SourceRecord[]; columns: string[] } {
  const columns = table.schema.fields.map((f) => f.name);
  const vectors = columns.map((c) => table.getChild(c));
  const records: SourceRecord[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const values: Record<string, unknown> = {};
    columns.forEach((c, k) => {
      values[c] = plain(vectors[k]?.get(i));
    });
    records[i] = { values, where: `row ${i}` };
  }
  return { records, columns };
}

/** An Arrow cell as plain JS: vectors and typed arrays → arrays, struct rows → objects. */
function plain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Vector)
    return Array.from(v as Iterable<unknown>, plain);
  const json = (v as { toJSON?: () => unknown }).toJSON?.();
  if (json !== null && typeof json === 'object' && json !== v) {
    return Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function toList(v: unknown): unknown {
  return v !== null && typeof v === 'object' && Symbol.iterator in v ? Array.from(v as Iterable<unknown>) : v;
}

const answersType = new Struct([
  new Field('text', new List(new Field('item', new Utf8(), true)), true),
  new Field('answer_start', new List(new Field('item', new Int32(), true)), true),
]);

export function rowsToTable(rows: readonly SquadRow[]): Table {
  return new Table({
    id: vectorFromArray(
      rows.map((r) => r.id),
      new Utf8(),
    ),
    title: vectorFromArray(
      rows.map((r) => r.title),
      new Utf8(),
    ),
    context: vectorFromArray(
      rows.map((r) => r.context),
      new Utf8(),
    ),
    question: vectorFromArray(
      rows.map((r) => r.question),
      new Utf8(),
    ),
    answers: vectorFromArray(
      rows.map((r) => ({ text: [...r.answers.text], answer_start: [...r.answers.answer_start] })),
      answersType,
    ),
  });
}

/** Arrow IPC bytes: `stream` (what `datasets` writes to its cache) or `file`. */
export function tableToBytes(table: Table, format: 'stream' | 'file' = 'stream'): Uint8Array {
  return tableToIPC(table, format);
}
