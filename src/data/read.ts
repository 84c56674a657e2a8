/**
 * `readSquad(path)`: SQuAD rows from Parquet, Arrow IPC (file or stream format) or SQuAD (v1.1 or 2.0) JSON / JSON Lines,
 * recognised by content (magic bytes), not by file name; then the `--split` slice and the content checks.
 * JSON must be valid UTF-8 (an invalid byte is an error naming its offset, as Python's `json.load` refuses it).
 */
import { QaFtError } from '../errors.js';
import { arrowToRows, parseArrow } from './arrow.js';
import { readParquetRows } from './parquet.js';
import { applySplit, splitRange, type SplitSpec } from './split.js';
import { readJsonRows } from './squad-json.js';
import { decodeText, readFileBytes, utf16Bom } from '../util/text-file.js';
import type { SquadRow } from '../records.js';
import { checkRows } from './validate.js';

export type SourceFormat = 'parquet' | 'arrow-file' | 'arrow-stream' | 'json';

export interface ReadOptions {
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
  readonly format: SourceFormat;
  /** Rows in the file before slicing. */
  readonly totalRows: number;
}

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/**
 * The format by the leading magic bytes alone: a damaged (truncated) Parquet or Arrow file is still recognised as
 * one, so that reading it can say it is damaged rather than that it is something else.
 */
export function detectFormat(bytes: Uint8Array): SourceFormat | null {
  const n = bytes.length;
  if (n >= 4 && ascii(bytes, 0, 4) === 'PAR1') return 'parquet';
  if (n >= 6 && ascii(bytes, 0, 6) === 'ARROW1') return 'arrow-file';
  // stream format: messages start with the 0xFFFFFFFF continuation marker (pre-0.15 writers: the length directly)
  if (n >= 8 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff) return 'arrow-stream';
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < n && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b /* { */) return 'json';
  return null;
}

const INPUT_HINT = 'pass --input with a Parquet, Arrow or SQuAD JSON file';
const UTF8_HINT = 'SQuAD JSON must be UTF-8; convert it, e.g. iconv -f latin1 -t utf-8 IN > OUT';
const UTF16_HINT = 'it starts with a UTF-16 byte-order mark, but SQuAD JSON must be UTF-8; convert it, e.g. iconv -f utf-16 -t utf-8 IN > OUT';

export async function readSquadRows(path: string): Promise<{ rows: SquadRow[]; format: SourceFormat }> {
  const bytes = await readFileBytes(path, `input file ${path}`, { expected: 'a Parquet, Arrow IPC or SQuAD JSON file', hint: INPUT_HINT });
  const format = detectFormat(bytes);
  switch (format) {
    case 'parquet':
      return { rows: await readParquetRows(bytes, path), format };
    case 'arrow-file':
      // the file format ends with the magic too (after the footer); without it the file was cut short
      if (bytes.length < 12 || ascii(bytes, bytes.length - 6, bytes.length) !== 'ARROW1') {
        throw new QaFtError('BAD_FORMAT', `${path}: damaged Arrow IPC file (${bytes.length} bytes, no closing 'ARROW1' magic: truncated?)`, {
          hint: 'copy or download the file again',
        });
      }
      return { rows: arrowToRows(parseArrow(bytes, path), path), format };
    case 'arrow-stream':
      return { rows: arrowToRows(parseArrow(bytes, path), path), format };
    case 'json':
      return { rows: readJsonRows(decodeText(bytes, path, { hint: UTF8_HINT }), path), format };
    default:
      throw new QaFtError('BAD_FORMAT', `${path} is not Parquet, Arrow IPC or SQuAD JSON`, {
        hint: utf16Bom(bytes) ? UTF16_HINT : 'expected a .parquet file, a datasets .arrow file, or SQuAD v1.1 JSON',
      });
  }
}

/** Reads a SQuAD file, applies the split slice, and checks the selected rows. */
export async function readSquad(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const { rows: all, format } = await readSquadRows(path);
  const selected = options.split ? applySplit(all, options.split) : all;
  const firstRow = options.split ? splitRange(options.split, all.length).from : 0;
  const checked = checkRows(selected, path, { skipInvalid: options.skipInvalid, firstRow, versionTwoWithNegative: options.versionTwoWithNegative });
  return { rows: checked.rows, skippedInvalid: checked.skippedInvalid, format, totalRows: all.length };
}
