/**
 * What every reader of a data file gives before columns are mapped: flat records (column name → value, as the
 * file holds them) and where each came from, for messages (`line 12` of JSON Lines or CSV, as an editor numbers
 * it; `row 3` of Parquet, Arrow or a JSON array, 0-based as `datasets` indexes them).
 */

export interface SourceRecord {
  readonly values: Readonly<Record<string, unknown>>;
  readonly where: string;
}

/** The formats `--format` names (Arrow covers the IPC file and stream layouts). */
export const INPUT_FORMATS = ['jsonl', 'json', 'squad-json', 'csv', 'tsv', 'parquet', 'arrow'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** A file's records, its column names (in file order) and the format it was read as. */
export interface RecordFile {
  readonly records: SourceRecord[];
  readonly columns: readonly string[];
  readonly format: InputFormat;
  /** Cells are text that may hold JSON (CSV/TSV): an answer column's `{"text": [...]}` is parsed there. */
  readonly textCells: boolean;
}

/** Column names in first-seen order over all records (JSON records may differ in their keys). */
export function columnsOf(records: readonly SourceRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.values)) seen.add(k);
  return [...seen];
}
