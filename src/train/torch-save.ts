/**
 * `torch.save` without Python: writes a value of dicts, lists, tuples, strings, numbers, booleans, None and float32
 * tensors in PyTorch's zip format, which `torch.load(path, weights_only=True)` reads (the way transformers' Trainer
 * loads `optimizer.pt` and `scheduler.pt`).
 *
 * The layout is torch 2.x's: an uncompressed zip whose records sit under `NAME/` (the file's base name), holding
 * `data.pkl` (the value as a protocol-2 pickle in which each tensor is a `torch._utils._rebuild_tensor_v2` call on a
 * persistent storage id), one `data/N` record of raw little-endian bytes per tensor, `byteorder`, `version` and
 * torch's `.format_version` / `.storage_alignment` markers; every record's bytes start on a 64-byte boundary (as
 * torch aligns them, padding the local header's extra field), so `torch.load(mmap=True)` works too.
 *
 * Written by hand, both halves: npm has no maintained pickle writer, and no zip writer that aligns records or
 * streams a multi-gigabyte entry from typed arrays; the subset needed is a few opcodes and fixed-layout headers.
 */
import { open } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { endianness } from 'node:os';
import { QaFtError } from '../errors.js';

/** A Python `int` (a JS number alone is written as a Python `float`). */
export class PyInt {
  constructor(readonly value: number) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`PyInt: ${value} is not a safe integer`);
  }
}

/** A Python `tuple`. */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A contiguous float32 `torch.Tensor` on the CPU (`shape` [] for a 0-d tensor such as AdamW's `step`). */
export class FloatTensor {
  constructor(
    readonly shape: readonly number[],
    readonly data: Float32Array,
  ) {
    if (shape.reduce((a, b) => a * b, 1) !== data.length)
      throw new RangeError(`FloatTensor: shape [${shape}] does not hold ${data.length} values`);
  }
}

/** A Python `dict`, in insertion order: a string key is a `str`, a number key an `int`. */
export type PyDict = ReadonlyMap<string | number, PyValue>;

export type PyValue = null | boolean | number | string | PyInt | PyTuple | FloatTensor | PyDict | readonly PyValue[];

/** The int helper: `int(3)` is Python's `3`, where `3` alone would be `3.0`. */
export const int = (value: number): PyInt => new PyInt(value);

// pickle opcodes (Lib/pickle.py)
const PROTO = 0x80;
const STOP = 0x2e;
const MARK = 0x28;
const EMPTY_DICT = 0x7d;
const SETITEMS = 0x75;
const EMPTY_LIST = 0x5d;
const APPENDS = 0x65;
const EMPTY_TUPLE = 0x29;
const TUPLE = 0x74;
const TUPLE1 = 0x85;
const TUPLE2 = 0x86;
const TUPLE3 = 0x87;
const BINUNICODE = 0x58;
const BININT1 = 0x4b;
const BININT2 = 0x4d;
const BININT = 0x4a;
const LONG1 = 0x8a;
const BINFLOAT = 0x47;
const NONE = 0x4e;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const GLOBAL = 0x63;
const REDUCE = 0x52;
const BINPERSID = 0x51;
/**
 * The pickle of `value`, and its tensors in the order their storages were numbered (`data/0`, `data/1`, …). Python's
 * pickler batches SETITEMS/APPENDS by 1000; the unpickler takes any size, so one batch per container.
 */
export function pickle(value: PyValue): { bytes: Buffer; tensors: FloatTensor[] } {
  const chunks: Buffer[] = [];
  const tensors: FloatTensor[] = [];
  const op = (...codes: number[]) => chunks.push(Buffer.from(codes));
  const str = (s: string) => {
    const utf8 = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(utf8.length);
    chunks.push(Buffer.from([BINUNICODE]), len, utf8);
  };
  const integer = (n: number) => {
    if (n >= 0 && n < 0x100) op(BININT1, n);
    else if (n >= 0 && n < 0x10000) op(BININT2, n & 0xff, n >>> 8);
    else if (n >= -0x80000000 && n <= 0x7fffffff) {
      const b = Buffer.alloc(5);
      b[0] = BININT;
      b.writeInt32LE(n, 1);
      chunks.push(b);
    } else {
      const b = Buffer.alloc(8); // LONG1: little-endian two's complement, 8 bytes covers every safe integer
      b.writeBigInt64LE(BigInt(n));
      chunks.push(Buffer.from([LONG1, 8]), b);
    }
  };
  const global = (module: string, name: string) =>
    chunks.push(Buffer.from([GLOBAL]), Buffer.from(`${module}\n${name}\n`, 'utf8'));
  const tuple = (items: readonly (() => void)[]) => {
    if (items.length === 0) return op(EMPTY_TUPLE);
    if (items.length > 3) op(MARK);
    for (const item of items) item();
    op(items.length === 1 ? TUPLE1 : items.length === 2 ? TUPLE2 : items.length === 3 ? TUPLE3 : TUPLE);
  };
  const save = (v: PyValue): void => {
    if (v === null) op(NONE);
    else if (v === true) op(NEWTRUE);
    else if (v === false) op(NEWFALSE);
    else if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = BINFLOAT;
      b.writeDoubleBE(v, 1);
      chunks.push(b);
    } else if (typeof v === 'string') str(v);
    else if (v instanceof PyInt) integer(v.value);
    else if (v instanceof PyTuple) tuple(v.items.map((item) => () => save(item)));
    else if (v instanceof FloatTensor) {
      // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
      const key = String(tensors.length);
      tensors.push(v);
      const stride = v.shape.map((_, i) => v.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      global('torch._utils', '_rebuild_tensor_v2');
      op(MARK);
      tuple([
        () => str('storage'),
        () => global('torch', 'FloatStorage'),
        () => str(key),
        () => str('cpu'),
        () => integer(v.data.length),
      ]);
      op(BINPERSID);
      integer(0);
      tuple(v.shape.map((d) => () => integer(d)));
      tuple(stride.map((s) => () => integer(s)));
      op(NEWFALSE);
      global('collections', 'OrderedDict');
      op(EMPTY_TUPLE, REDUCE);
      op(TUPLE, REDUCE);
    } else if (Array.isArray(v)) {
      op(EMPTY_LIST);
      if (v.length > 0) {
        op(MARK);
        for (const item of v as readonly PyValue[]) save(item);
        op(APPENDS);
      }
    } else {
      const dict = v as PyDict;
      op(EMPTY_DICT);
      if (dict.size > 0) {
        op(MARK);
        for (const [k, item] of dict) {
          if (typeof k === 'number') integer(k);
          else str(k);
          save(item);
        }
        op(SETITEMS);
      }
    }
  };
  op(PROTO, 2);
  save(value);
  op(STOP);
  return { bytes: Buffer.concat(chunks), tensors };
}

/** CRC-32 (zip's), by table: `zlib.crc32` only exists from Node 20.15. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** torch aligns every record's bytes to this (its `.storage_alignment`). */
const ALIGNMENT = 64;
const ZIP_LIMIT = 0xffffffff;

const bytesOf = (t: FloatTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/**
 * Writes `value` to `path` as `torch.save(value, path)` does. The records are streamed to the file; a file past
 * 4 GiB (a zip without ZIP64, an optimizer state of a model over ~500 M parameters) is refused.
 */
export async function torchSave(path: string, value: PyValue): Promise<void> {
  if (endianness() !== 'LE')
    throw new QaFtError('INTERNAL', 'torch.save files are written on little-endian machines only');
  const { bytes: pkl, tensors } = pickle(value);
  const prefix = basename(path, extname(path)) || 'archive';
  const records: { name: string; data: Uint8Array[] }[] = [
    { name: 'data.pkl', data: [pkl] },
    { name: '.format_version', data: [Buffer.from('1')] },
    { name: '.storage_alignment', data: [Buffer.from(String(ALIGNMENT))] },
    { name: 'byteorder', data: [Buffer.from('little')] },
    ...tensors.map((t, i) => ({ name: `data/${i}`, data: [bytesOf(t)] })),
    { name: 'version', data: [Buffer.from('3\n')] },
  ];
  const file = await open(path, 'w');
  try {
    let offset = 0;
    const write = async (b: Uint8Array) => {
      await file.write(b);
      offset += b.byteLength;
    };
    const central: Buffer[] = [];
    for (const record of records) {
      const name = Buffer.from(`${prefix}/${record.name}`, 'utf8');
      const size = record.data.reduce((a, d) => a + d.byteLength, 0);
      const crc = record.data.reduce((c, d) => crc32(d, c), 0);
      const headerEnd = offset + 30 + name.length + 4; // with the extra field's own 4-byte header
      const padding = (ALIGNMENT - (headerEnd % ALIGNMENT)) % ALIGNMENT;
      if (offset + 30 + name.length + 4 + padding + size > ZIP_LIMIT) {
        throw new QaFtError('BAD_ARGUMENT', `${path}: the state is over 4 GiB, past what a zip without ZIP64 holds`);
      }
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4); // version needed: 2.0
      local.writeUInt16LE(0, 6); // flags
      local.writeUInt16LE(0, 8); // stored
      local.writeUInt16LE(0, 10); // time
      local.writeUInt16LE(0, 12); // date (torch writes 0 too)
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(size, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(4 + padding, 28);
      const extra = Buffer.alloc(4 + padding, 'Z'); // torch's padding field: id "FB", then filler
      extra.write('FB', 0, 'latin1');
      extra.writeUInt16LE(padding, 2);
      const at = offset;
      await write(local);
      await write(name);
      await write(extra);
      for (const d of record.data) await write(d);
      const entry = Buffer.alloc(46);
      entry.writeUInt32LE(0x02014b50, 0);
      entry.writeUInt16LE(20, 4); // made by
      entry.writeUInt16LE(20, 6); // needed
      entry.writeUInt32LE(crc, 16);
      entry.writeUInt32LE(size, 20);
      entry.writeUInt32LE(size, 24);
      entry.writeUInt16LE(name.length, 28);
      entry.writeUInt32LE(at, 42);
      central.push(entry, name);
    }
    const centralStart = offset;
    for (const b of central) await write(b);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(records.length, 8);
    end.writeUInt16LE(records.length, 10);
    end.writeUInt32LE(offset - centralStart, 12);
    end.writeUInt32LE(centralStart, 16);
    await write(end);
  } finally {
    await file.close();
  }
}
