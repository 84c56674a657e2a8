/**
 * CSV and TSV (RFC 4180: quoted fields holding the delimiter, doubled quotes and newlines; `\r\n` or `\n`; a UTF-8
 * BOM) through csv-parse, the first line naming the columns, as `datasets.load_dataset("csv")` reads them. Each
 * record is named by the line it starts on, as an editor shows it (a quoted field with newlines spans lines).
 *
 * The line is counted here from the byte offset where csv-parse says the previous record ended: its own `lines`
 * counter counts a `\r\n` inside a quoted field as two lines.
 */
import { parse } from 'csv-parse/sync';
import { firstLine, QaFtError } from '../errors.js';
import type { SourceRecord } from './source-records.js';

const CR = 0x0d;
const LF = 0x0a;

export function readCsvRecords(
  bytes: Uint8Array,
  file: string,
  delimiter: ',' | '\t',
): { records: SourceRecord[]; columns: string[] } {
  const kind = delimiter === ',' ? 'CSV' : 'TSV';
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      bom: true,
      delimiter,
      info: true,
      // a quote inside an unquoted field is a character, as Python's csv module (and so pandas, datasets) reads it
      relax_quotes: true,
      skip_empty_lines: true,
    }) as unknown as typeof parsed;
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: not valid ${kind}: ${firstLine(e)}`, {
      hint: 'a field holding the delimiter, a quote or a newline must be in double quotes, with quotes doubled ("")',
    });
  }
  const [header, ...body] = parsed;
  if (header === undefined) throw new QaFtError('BAD_FORMAT', `${file}: empty ${kind} file (no header line)`);
  const columns = header.record;
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw new QaFtError('BAD_FORMAT', `${file}: the header names column '${dup}' twice`);

  let line = 1; // the line at byte `pos`
  let pos = 0;
  const advance = (to: number): void => {
    for (; pos < to; pos++) {
      const b = bytes[pos];
      if (b === LF || (b === CR && bytes[pos + 1] !== LF)) line++;
    }
  };
  let end = header.info.bytes;
  const records = body.map(({ record, info }) => {
    advance(end);
    while (bytes[pos] === CR || bytes[pos] === LF) advance(pos + 1); // empty lines skipped before the record
    const values: Record<string, string> = {};
    columns.forEach((c, i) => {
      values[c] = record[i] ?? '';
    });
    end = info.bytes;
    return { values, where: `line ${line}` };
  });
  return { records, columns };
}
