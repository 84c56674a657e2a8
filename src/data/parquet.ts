/**
 * Parquet in the hub's SQuAD layout (`answers` a struct of two lists, nested as pyarrow writes them) via hyparquet,
 * with the compressors pyarrow uses (snappy, zstd, gzip, brotli, lz4).
 */
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { firstLine, QaFtError } from '../errors.js';
import type { SquadRow } from './types.js';
import { REQUIRED_COLUMNS, coerceRow, missingColumnError } from './validate.js';

export async function readParquetRows(bytes: Uint8Array, file: string): Promise<SquadRow[]> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata;
  try {
    metadata = parquetMetadata(buffer);
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: unreadable Parquet metadata: ${firstLine(e)}`);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  for (const c of REQUIRED_COLUMNS) if (!columns.includes(c)) throw missingColumnError(file, c, columns);
  const wanted = ['id', 'title', 'context', 'question', 'answers'].filter((c) => columns.includes(c));
  let records: Record<string, unknown>[];
  try {
    records = await parquetReadObjects({ file: buffer, metadata, columns: wanted, compressors });
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: unreadable Parquet data: ${firstLine(e)}`);
  }
  return records.map((r, i) => coerceRow(r, file, i));
}
