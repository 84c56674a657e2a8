/**
 * `readSquad(path)`: SQuAD rows from Parquet, Arrow IPC (file or stream format) or SQuAD JSON / JSON Lines,
 * recognised by content (magic bytes), not by file name; then the `--split` slice and the content checks.
 */
import { readFile, stat } from 'node:fs/promises';
import { QaFtError } from '../errors.js';
import { arrowToRows, parseArrow } from './arrow.js';
import { readParquetRows } from './parquet.js';
import { applySplit, splitRange, type SplitSpec } from './split.js';
import { readJsonRows } from './squad-json.js';
import type { SquadRow } from './types.js';
import { checkRows } from './validate.js';

export type SourceFormat = 'parquet' | 'arrow-file' | 'arrow-stream' | 'json';

export interface ReadOptions {
  /** Slice applied before the content checks (`datasets` slices the split first, too). */
  readonly split?: SplitSpec;
  /** Drop rows whose answer does not match the context, or whose context/question is empty, instead of failing. */
  readonly skipInvalid?: boolean;
}

export interface ReadResult {
  readonly rows: SquadRow[];
  readonly skippedInvalid: number;
  readonly format: SourceFormat;
  /** Rows in the file before slicing. */
  readonly totalRows: number;
}

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

export function detectFormat(bytes: Uint8Array): SourceFormat | null {
  const n = bytes.length;
  if (n >= 8 && ascii(bytes, 0, 4) === 'PAR1' && ascii(bytes, n - 4, n) === 'PAR1') return 'parquet';
  if (n >= 6 && ascii(bytes, 0, 6) === 'ARROW1') return 'arrow-file';
  // stream format: messages start with the 0xFFFFFFFF continuation marker (pre-0.15 writers: the length directly)
  if (n >= 8 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff) return 'arrow-stream';
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < n && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b /* { */) return 'json';
  return null;
}

export async function readSquadRows(path: string): Promise<{ rows: SquadRow[]; format: SourceFormat }> {
  let bytes: Uint8Array;
  try {
    if (!(await stat(path)).isFile()) throw new QaFtError('FILE_NOT_FOUND', `${path} is not a file`);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof QaFtError) throw e;
    throw new QaFtError('FILE_NOT_FOUND', `input file ${path} does not exist or cannot be read`, {
      hint: 'pass --input with a Parquet, Arrow or SQuAD JSON file',
    });
  }
  const format = detectFormat(bytes);
  switch (format) {
    case 'parquet':
      return { rows: await readParquetRows(bytes, path), format };
    case 'arrow-file':
    case 'arrow-stream':
      return { rows: arrowToRows(parseArrow(bytes, path), path), format };
    case 'json':
      return { rows: readJsonRows(new TextDecoder().decode(bytes), path), format };
    default:
      throw new QaFtError('BAD_FORMAT', `${path} is not Parquet, Arrow IPC or SQuAD JSON`, {
        hint: 'expected a .parquet file, a datasets .arrow file, or SQuAD v1.1 JSON',
      });
  }
}

/** Reads a SQuAD file, applies the split slice, and checks the selected rows. */
export async function readSquad(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const { rows: all, format } = await readSquadRows(path);
  const selected = options.split ? applySplit(all, options.split) : all;
  const firstRow = options.split ? splitRange(options.split, all.length).from : 0;
  const checked = checkRows(selected, path, { skipInvalid: options.skipInvalid, firstRow });
  return { rows: checked.rows, skippedInvalid: checked.skippedInvalid, format, totalRows: all.length };
}
