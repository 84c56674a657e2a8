/**
 * Parquet with any columns (the hub's SQuAD layout: `answers` a struct of two lists, nested as pyarrow writes them) via
 * hyparquet, with the compressors pyarrow uses (snappy, zstd, gzip, brotli, lz4). The footer and the column chunk
 * offsets are checked against the file's size first, so a truncated file is reported as damaged.
 */
import { parquetMetadata, parquetReadObjects, parquetSchema, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { firstLine, QaFtError } from '../errors.js';
import type { SourceRecord } from './source-records.js';

const damaged = (file: string, why: string): QaFtError =>
  new QaFtError('BAD_FORMAT', `${file}: damaged Parquet file (${why})`, { hint: 'copy or download the file again' });

/**
 * A file that starts with `PAR1` must end with `<metadata length: u32 LE> PAR1`, the length fitting the file.
 * Returns where the metadata starts (the end of the column data).
 */
function checkFooter(bytes: Uint8Array, file: string): number {
  const n = bytes.length;
  const tail = n >= 12 ? String.fromCharCode(...bytes.subarray(n - 4)) : '';
  if (tail !== 'PAR1') throw damaged(file, `${n} bytes, no closing 'PAR1' magic: truncated?`);
  const metadataLength = new DataView(bytes.buffer, bytes.byteOffset + n - 8, 4).getUint32(0, true);
  if (metadataLength > n - 12)
    throw damaged(file, `the footer gives ${metadataLength} bytes of metadata but the file has ${n}`);
  return n - 8 - metadataLength;
}

/** Every column chunk must lie between the leading magic and the metadata: a file cut in the middle fails here. */
function checkChunks(metadata: FileMetaData, dataEnd: number, file: string): void {
  metadata.row_groups.forEach((group, g) => {
    for (const { meta_data: meta } of group.columns) {
      if (!meta) continue;
      const dictionary = Number(meta.dictionary_page_offset ?? 0);
      const start =
        dictionary > 0 ? Math.min(dictionary, Number(meta.data_page_offset)) : Number(meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      if (start < 4 || end > dataEnd) {
        const column = meta.path_in_schema.join('.');
        throw damaged(
          file,
          `column '${column}' of row group ${g} spans bytes ${start}–${end}, but the data ends at byte ${dataEnd}`,
        );
      }
    }
  });
}

/** Every column of every row, as plain values (structs as objects, lists as arrays), each named `row N`. */
export async function readParquetRecords(
  bytes: Uint8Array,
  file: string,
): Promise<{ records: SourceRecord[]; columns: string[] }> {
  const dataEnd = checkFooter(bytes, file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata;
  try {
    metadata = parquetMetadata(buffer);
  } catch (e) {
    throw damaged(file, `unreadable metadata: ${firstLine(e)}`);
  }
  checkChunks(metadata, dataEnd, file);
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer, metadata, columns, compressors });
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: unreadable Parquet data: ${firstLine(e)}`);
  }
  return { records: rows.map((values, i) => ({ values, where: `row ${i}` })), columns };
}
