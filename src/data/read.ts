/**
 * `readSquad(path)`: SQuAD rows from any data file a user has — JSON Lines, a JSON array of records, SQuAD v1.1/2.0
 * JSON, CSV, TSV, Parquet, Arrow IPC (file or stream) — with the columns picked by name (./columns.ts); then the
 * `--split` slice and the content checks. Parquet and Arrow are recognised by their magic bytes; text formats by the
 * file's extension and first character; `--format` overrides the guess. Text must be valid UTF-8 (an invalid byte
 * is an error naming its offset, as Python's `json.load` refuses it); a UTF-8 BOM is dropped.
 */
import { extname } from 'node:path';
import { field, OptionError, opt, QaFtError } from '../errors.js';
import { arrowRecords, parseArrow } from './arrow.js';
import { recordsToRows, type ColumnOptions } from './columns.js';
import { readCsvRecords } from './csv.js';
import { readParquetRecords } from './parquet.js';
import { columnsOf, INPUT_FORMATS, type InputFormat, type RecordFile } from './source-records.js';
import { applySplit, splitRange, type SplitSpec } from './split.js';
import { isSquadJson, readJsonArrayRecords, readJsonLinesRecords, readSquadJsonRecords } from './squad-json.js';
import { decodeText, readFileBytes, utf16Bom } from '../util/text-file.js';
import type { SquadRow } from '../records.js';
import { checkRows, type RejectedRow } from './validate.js';

/** What a file was read as (recorded in the prepared manifest): an input format, Arrow's two layouts told apart. */
export type SourceFormat = Exclude<InputFormat, 'arrow'> | 'arrow-file' | 'arrow-stream';

/** How to read a file: its format (default: guessed) and column names (default: the SQuAD ones). */
export interface FileReadOptions {
  readonly format?: InputFormat;
  readonly columns?: ColumnOptions;
}

export interface ReadOptions extends FileReadOptions {
  /** Slice applied before the content checks (`datasets` slices the split first, too). */
  readonly split?: SplitSpec;
  /** Drop rows whose answer does not match the context, or whose context/question is empty, instead of failing. */
  readonly skipInvalid?: boolean;
  /** SQuAD 2.0: rows without an answer are valid (without it they are refused, see validate.ts). */
  readonly versionTwoWithNegative?: boolean;
}

export interface ReadResult {
  readonly rows: SquadRow[];
  readonly skippedInvalid: number;
  readonly rejected: RejectedRow[];
  readonly format: SourceFormat;
  /** Rows in the file before slicing. */
  readonly totalRows: number;
  /** Answers without a start that were located in their context, and of those how many occur more than once. */
  readonly located: number;
  readonly ambiguous: number;
}

/** The rows of one file, where each came from, and how answers were located. */
export interface FileRows {
  readonly rows: SquadRow[];
  readonly where: string[];
  readonly format: SourceFormat;
  readonly located: number;
  readonly ambiguous: number;
}

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/**
 * The binary format by the leading magic bytes alone (a damaged, truncated Parquet or Arrow file is still
 * recognised as one, so that reading it can say it is damaged), else `json` for text starting with `{` or `[`.
 */
export function detectFormat(bytes: Uint8Array): 'parquet' | 'arrow-file' | 'arrow-stream' | 'json' | null {
  const n = bytes.length;
  if (n >= 4 && ascii(bytes, 0, 4) === 'PAR1') return 'parquet';
  if (n >= 6 && ascii(bytes, 0, 6) === 'ARROW1') return 'arrow-file';
  // stream format: messages start with the 0xFFFFFFFF continuation marker (pre-0.15 writers: the length directly)
  if (n >= 8 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff) return 'arrow-stream';
  const c = firstTextByte(bytes);
  return c === 0x7b /* { */ || c === 0x5b /* [ */ ? 'json' : null;
}

function firstTextByte(bytes: Uint8Array): number | undefined {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i];
}

const EXTENSIONS: Record<string, InputFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.parquet': 'parquet',
  '.arrow': 'arrow',
};

export const FORMAT_LIST = 'JSON Lines, a JSON array of records, SQuAD JSON, CSV, TSV, Parquet or Arrow';
const INPUT_HINT = 'pass --input FILE';
const UTF8_HINT = 'text data must be UTF-8; convert it, e.g. iconv -f latin1 -t utf-8 IN > OUT';
const UTF16_HINT =
  'it starts with a UTF-16 byte-order mark, but text data must be UTF-8; convert it, e.g. iconv -f utf-16 -t utf-8 IN > OUT';

/**
 * The format to read `bytes` of `path` as: `--format`, else magic bytes, else the extension, else the first character.
 */
function chooseFormat(bytes: Uint8Array, path: string, given?: InputFormat): InputFormat {
  if (given !== undefined) return given;
  const magic = detectFormat(bytes);
  if (magic === 'parquet') return 'parquet';
  if (magic === 'arrow-file' || magic === 'arrow-stream') return 'arrow';
  const byName = EXTENSIONS[extname(path).toLowerCase()];
  if (byName !== undefined) return byName;
  const c = firstTextByte(bytes);
  if (c === 0x5b) return 'json';
  if (c === 0x7b) return 'squad-json'; // or JSON Lines: told apart once parsed
  throw new OptionError('BAD_FORMAT', opt`${path} is not ${FORMAT_LIST} (by its name and first bytes)`, {
    hint: utf16Bom(bytes) ? opt`${UTF16_HINT}` : opt`pass ${field('format')} ${INPUT_FORMATS.join('|')}`,
  });
}

/** A data file's records and columns, in the format given or guessed. */
export async function readRecordFile(
  path: string,
  format?: InputFormat,
): Promise<RecordFile & { sourceFormat: SourceFormat }> {
  const bytes = await readFileBytes(path, `input file ${path}`, {
    expected: `a data file (${FORMAT_LIST})`,
    hint: INPUT_HINT,
  });
  const chosen = chooseFormat(bytes, path, format);
  const text = (): string => decodeText(bytes, path, { hint: utf16Bom(bytes) ? UTF16_HINT : UTF8_HINT });
  switch (chosen) {
    case 'parquet':
      return { ...(await readParquetRecords(bytes, path)), format: chosen, sourceFormat: chosen, textCells: false };
    case 'arrow': {
      const kind = detectFormat(bytes);
      if (kind === 'arrow-file' && (bytes.length < 12 || ascii(bytes, bytes.length - 6, bytes.length) !== 'ARROW1')) {
        // the file format ends with the magic too (after the footer); without it the file was cut short
        throw new QaFtError(
          'BAD_FORMAT',
          `${path}: damaged Arrow IPC file (${bytes.length} bytes, no closing 'ARROW1' magic: truncated?)`,
          {
            hint: 'copy or download the file again',
          },
        );
      }
      return {
        ...arrowRecords(parseArrow(bytes, path)),
        format: chosen,
        sourceFormat: kind === 'arrow-file' ? 'arrow-file' : 'arrow-stream',
        textCells: false,
      };
    }
    case 'csv':
    case 'tsv':
      text(); // strict UTF-8 first: an invalid byte is named by its offset
      return {
        ...readCsvRecords(bytes, path, chosen === 'csv' ? ',' : '\t'),
        format: chosen,
        sourceFormat: chosen,
        textCells: true,
      };
    case 'json': {
      const records = readJsonArrayRecords(text(), path);
      return { records, columns: columnsOf(records), format: chosen, sourceFormat: chosen, textCells: false };
    }
    case 'jsonl':
    case 'squad-json': {
      const t = text();
      if (chosen === 'squad-json' || format === undefined) {
        // a `{` file: SQuAD JSON when it parses as one object with `data`, else JSON Lines (also a `.json` name)
        let doc: unknown;
        try {
          doc = JSON.parse(t);
        } catch {
          doc = undefined;
        }
        if (isSquadJson(doc) || format === 'squad-json') {
          const records = readSquadJsonRecords(t, path);
          return {
            records,
            columns: ['id', 'title', 'context', 'question', 'answers'],
            format: 'squad-json',
            sourceFormat: 'squad-json',
            textCells: false,
          };
        }
      }
      const records = readJsonLinesRecords(t, path);
      return { records, columns: columnsOf(records), format: 'jsonl', sourceFormat: 'jsonl', textCells: false };
    }
  }
}

/** The SQuAD rows of one file (columns mapped, answers located), unchecked. */
export async function readSquadRows(path: string, options: FileReadOptions = {}): Promise<FileRows> {
  const file = await readRecordFile(path, options.format);
  const mapped = recordsToRows(file, path, options.columns);
  return { ...mapped, format: file.sourceFormat };
}

/** Reads a data file, applies the split slice, and checks the selected rows. */
export async function readSquad(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const { rows: all, where, format, located, ambiguous } = await readSquadRows(path, options);
  const range = options.split ? splitRange(options.split, all.length) : { from: 0, to: all.length };
  const selected = options.split ? applySplit(all, options.split) : all;
  const checked = checkRows(selected, path, {
    skipInvalid: options.skipInvalid,
    where: where.slice(range.from, range.to),
    versionTwoWithNegative: options.versionTwoWithNegative,
  });
  return {
    rows: checked.rows,
    skippedInvalid: checked.skippedInvalid,
    rejected: checked.rejected,
    format,
    totalRows: all.length,
    located,
    ambiguous,
  };
}
