/**
 * Features ↔ Arrow tables in the `datasets` layout: example_id, input_ids list<int32>, token_type_ids list<int32>
 * (only for tokenizers that give them), offset_mapping list<[2]int32 | null>, start_positions, end_positions.
 * Columns are built from and read into typed buffers directly: apache-arrow's builders and `Vector.get` are tens
 * of times slower at this size.
 */
import {
  Field,
  FixedSizeList,
  Int32,
  List,
  Table,
  Utf8,
  makeData,
  makeVector,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import { missingColumnError } from '../data/validate.js';
import { QaFtError } from '../errors.js';
import type { Feature } from '../records.js';
import { zip } from '../util/checked-index.js';

/** list<int32> column from per-row arrays, built straight from typed buffers (builders are slow at this size). */
function int32ListVector(lists: readonly (readonly number[])[]): Vector {
  let total = 0;
  for (const l of lists) total += l.length;
  const values = new Int32Array(total);
  const valueOffsets = new Int32Array(lists.length + 1);
  let end = 0;
  for (const [i, l] of lists.entries()) {
    values.set(l, end);
    end += l.length;
    valueOffsets[i + 1] = end;
  }
  const child = makeData({ type: new Int32(), length: values.length, data: values });
  const type = new List(new Field('item', new Int32(), true));
  return makeVector(makeData({ type, length: lists.length, nullCount: 0, valueOffsets, child }));
}

/** list<fixed_size_list<2, int32> (nullable)> column: per-token offsets, null outside the context. */
function offsetsVector(features: readonly Feature[]): Vector {
  const valueOffsets = new Int32Array(features.length + 1);
  let n = 0;
  for (const [i, f] of features.entries()) {
    n += f.offsets.length;
    valueOffsets[i + 1] = n;
  }
  const pairs = new Int32Array(2 * n);
  const validity = new Uint8Array(Math.ceil(n / 8));
  let k = 0;
  let nulls = 0;
  let bits = 0; // validity bits of the byte k is in, written out when it is full and at the end
  for (const f of features) {
    for (const o of f.offsets) {
      if (o) {
        pairs[2 * k] = o[0];
        pairs[2 * k + 1] = o[1];
        bits |= 1 << (k & 7);
      } else nulls++;
      k++;
      if ((k & 7) === 0) {
        validity[(k >> 3) - 1] = bits;
        bits = 0;
      }
    }
  }
  if ((k & 7) !== 0) validity[k >> 3] = bits;
  const pairType = new FixedSizeList(2, new Field('item', new Int32(), false));
  const pairData = makeData({
    type: pairType,
    length: n,
    nullCount: nulls,
    nullBitmap: validity,
    child: makeData({ type: new Int32(), length: 2 * n, data: pairs }),
  });
  const type = new List(new Field('item', pairType, true));
  return makeVector(makeData({ type, length: features.length, nullCount: 0, valueOffsets, child: pairData }));
}

export function featuresToTable(features: readonly Feature[]): Table {
  const withTypes = features.filter((f) => f.tokenTypeIds !== undefined).length;
  if (withTypes !== 0 && withTypes !== features.length) {
    throw new Error(
      `${withTypes} of ${features.length} features carry token type ids: one tokenizer gives them to all or none`,
    );
  }
  return new Table({
    example_id: vectorFromArray(
      features.map((f) => f.exampleId),
      new Utf8(),
    ),
    input_ids: int32ListVector(features.map((f) => f.inputIds)),
    // as `datasets` stores a tokenizer's token_type_ids; only for tokenizers whose pair template gives them
    ...(withTypes > 0 ? { token_type_ids: int32ListVector(features.map((f) => f.tokenTypeIds ?? [])) } : {}),
    offset_mapping: offsetsVector(features),
    start_positions: makeVector(Int32Array.from(features, (f) => f.startPosition)),
    end_positions: makeVector(Int32Array.from(features, (f) => f.endPosition)),
  });
}

type IntValues =
  | Int32Array
  | BigInt64Array
  | Int8Array
  | Int16Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Per-row integer lists of a list<int> column, read straight from its buffers (Vector.get is ~50× slower). */
function readIntLists(vector: Vector, file: string, column: string): number[][] {
  const out: number[][] = [];
  for (const d of vector.data) {
    const child = d.children[0];
    if (!(d.type instanceof List) || !child || !d.valueOffsets) {
      throw new QaFtError('BAD_FORMAT', `${file}: column '${column}' must be a list of integers (found ${d.type})`);
    }
    const values = child.values as IntValues;
    for (let i = 0; i < d.length; i++) {
      const start = d.valueOffsets[d.offset + i];
      const end = d.valueOffsets[d.offset + i + 1];
      if (start === undefined || end === undefined || end + child.offset > values.length) {
        throw new QaFtError('BAD_FORMAT', `${file}: column '${column}' is damaged (its offsets run past its data)`);
      }
      const from = start + child.offset;
      const to = end + child.offset;
      const row = new Array<number>(to - from);
      for (let k = from; k < to; k++) row[k - from] = Number(values[k]);
      out.push(row);
    }
  }
  return out;
}

/** Per-row token offsets of an offset_mapping column: list<[2]int | null> (ours) or list<list<int> | null>. */
function readOffsetLists(vector: Vector, file: string): ([number, number] | null)[][] {
  const out: ([number, number] | null)[][] = [];
  const bad = (t: unknown): QaFtError =>
    new QaFtError('BAD_FORMAT', `${file}: column 'offset_mapping' must be a list of [start, end] pairs (found ${t})`);
  const damaged = (): QaFtError =>
    new QaFtError('BAD_FORMAT', `${file}: column 'offset_mapping' is damaged (its offsets run past its data)`);
  for (const d of vector.data) {
    const pairs = d.children[0];
    const ints = pairs?.children[0];
    if (!(d.type instanceof List) || !d.valueOffsets || !pairs || !ints) throw bad(d.type);
    const fixed = pairs.type instanceof FixedSizeList;
    if (!fixed && !(pairs.type instanceof List)) throw bad(d.type);
    const values = ints.values as IntValues;
    const validity = pairs.nullCount > 0 ? pairs.nullBitmap : undefined;
    for (let i = 0; i < d.length; i++) {
      const start = d.valueOffsets[d.offset + i];
      const end = d.valueOffsets[d.offset + i + 1];
      if (start === undefined || end === undefined) throw damaged();
      const from = start + pairs.offset;
      const to = end + pairs.offset;
      const row: ([number, number] | null)[] = new Array(to - from);
      for (let k = from; k < to; k++) {
        if (validity) {
          const byte = validity[k >> 3];
          if (byte === undefined) throw damaged();
          if ((byte & (1 << (k & 7))) === 0) {
            row[k - from] = null;
            continue;
          }
        }
        const pair = fixed ? 2 * k : pairs.valueOffsets[k];
        if (pair === undefined) throw damaged();
        const at = pair + ints.offset;
        row[k - from] = [Number(values[at]), Number(values[at + 1])];
      }
      out.push(row);
    }
  }
  return out;
}

/** Reads a features table written by `featuresToTable` (or by `datasets` with the same columns). */
export function tableToFeatures(table: Table, file: string): Feature[] {
  const names = table.schema.fields.map((f) => f.name);
  for (const c of ['example_id', 'input_ids', 'offset_mapping', 'start_positions', 'end_positions']) {
    if (!names.includes(c)) throw missingColumnError(file, c, names);
  }
  const ids = (table.getChild('example_id') as Vector).toArray() as unknown[];
  const inputIds = readIntLists(table.getChild('input_ids') as Vector, file, 'input_ids');
  const offsets = readOffsetLists(table.getChild('offset_mapping') as Vector, file);
  const starts = (table.getChild('start_positions') as Vector).toArray() as ArrayLike<number | bigint>;
  const ends = (table.getChild('end_positions') as Vector).toArray() as ArrayLike<number | bigint>;
  const types = names.includes('token_type_ids')
    ? readIntLists(table.getChild('token_type_ids') as Vector, file, 'token_type_ids')
    : undefined;
  return zip(inputIds, offsets).map(([rowIds, rowOffsets], i) => {
    const rowTypes = types?.[i];
    if (types !== undefined && rowTypes?.length !== rowIds.length) {
      throw new QaFtError(
        'BAD_FORMAT',
        `${file}: row ${i} has ${rowTypes?.length ?? 0} token_type_ids for ${rowIds.length} input_ids`,
      );
    }
    return {
      exampleId: String(ids[i]),
      inputIds: rowIds,
      offsets: rowOffsets,
      ...(rowTypes === undefined ? {} : { tokenTypeIds: rowTypes }),
      startPosition: Number(starts[i]),
      endPosition: Number(ends[i]),
    };
  });
}
