/**
 * Safetensors reader and writer (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}`, then the
 * raw little-endian tensor bytes. Hand-written because no maintained npm package reads safetensors into typed
 * arrays tensor by tensor; huggingface.js only parses the header and does not check offsets against the file.
 *
 * Everything in the header is validated against the file before anything is allocated from it, and tensors are
 * read one at a time through a file handle, so loading a 265 MB checkpoint never holds two copies of it.
 */
import { constants as bufferConstants } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { QaFtError } from '../errors.js';
import { writeFileAtomicWith } from '../util/atomic.js';

/** A tensor on the host: row-major float32 values and their shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** What `readSafetensors` returns: tensors by name, plus the header's `__metadata__` strings. */
export type SafetensorsContents = Map<string, HostTensor> & { metadata: Record<string, string> };

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range inside the data section. */
  readonly begin: number;
  readonly end: number;
}

/** The most values one tensor can hold here: one typed array's (V8's `TypedArray::kMaxLength`, Node's Buffer limit). */
export const MAX_TENSOR_ELEMENTS = bufferConstants.MAX_LENGTH;

/** The largest header accepted (the Rust reference implementation uses the same bound). */
const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of the dtypes the format defines. Only the floating ones can be read into float32. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};
const READABLE = new Set(['F32', 'F16', 'BF16', 'F64']);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An open safetensors file with a validated header; read tensors by name, then `close()`. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly dataStart: number,
    readonly entries: ReadonlyMap<string, SafetensorsEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new QaFtError(
        'FILE_NOT_FOUND',
        `${path}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`}`,
      );
    }
    try {
      const { size } = await fh.stat();
      if (size < 8) throw bad(path, `file is ${size} bytes, shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      await readExactly(fh, lenBuf, 0, path);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        throw bad(path, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      }
      const n = Number(headerLen);
      if (8 + n > size) throw bad(path, `header length ${n} runs past the end of the ${size}-byte file`);
      const headerBuf = Buffer.alloc(n);
      await readExactly(fh, headerBuf, 8, path);
      const dataSize = size - 8 - n;
      const { entries, metadata } = parseHeader(headerBuf, dataSize, path);
      return new SafetensorsFile(path, fh, 8 + n, entries, metadata);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The tensor's values as float32 (F16/BF16/F64 are converted). */
  async read(name: string): Promise<HostTensor> {
    const e = this.entries.get(name);
    if (!e) throw new QaFtError('BAD_WEIGHTS', `${this.path}: no tensor named ${name}`);
    if (!READABLE.has(e.dtype)) {
      throw bad(this.path, `tensor ${name} has dtype ${e.dtype}; only F32, F16, BF16 and F64 can be loaded`);
    }
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (count > MAX_TENSOR_ELEMENTS) {
      throw new QaFtError(
        'BAD_WEIGHTS',
        `${this.path}: tensor ${name} [${e.shape.join(', ')}] has ${count.toLocaleString('en-US')} values, more than the ${MAX_TENSOR_ELEMENTS.toLocaleString('en-US')} one array can hold`,
      );
    }
    const out = new Float32Array(count);
    if (e.dtype === 'F32' && LITTLE_ENDIAN) {
      // Straight into the result's memory: no intermediate copy.
      await readExactly(this.fh, new Uint8Array(out.buffer), this.dataStart + e.begin, this.path);
    } else {
      const raw = Buffer.alloc(e.end - e.begin);
      await readExactly(this.fh, raw, this.dataStart + e.begin, this.path);
      decodeInto(out, raw, e.dtype);
    }
    return { shape: [...e.shape], data: out };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Reads every tensor of a file into float32 host arrays. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  const file = await SafetensorsFile.open(path);
  try {
    const out = new Map<string, HostTensor>() as SafetensorsContents;
    out.metadata = file.metadata;
    for (const name of file.entries.keys()) out.set(name, await file.read(name));
    return out;
  } finally {
    await file.close();
  }
}

/** A tensor to write: its data, or a function producing it (called once, just before its bytes are written). */
export interface TensorSource {
  shape: readonly number[];
  data: Float32Array | (() => Promise<Float32Array>);
}

/**
 * Writes F32 tensors (names sorted) and optional `__metadata__` to `path` atomically: a temporary sibling is
 * filled tensor by tensor, then renamed into place.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorSource>,
  metadata?: Record<string, string>,
): Promise<void> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name) as TensorSource;
    if (name === '__metadata__')
      throw new QaFtError('BAD_ARGUMENT', `${path}: "__metadata__" is not a valid tensor name`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8; // spaces to an 8-byte boundary, as the Rust writer does
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length), 0);

  await writeFileAtomicWith(
    path,
    async (fh) => {
      await fh.write(len);
      await fh.write(json);
      for (const name of names) {
        const t = tensors.get(name) as TensorSource;
        const data = typeof t.data === 'function' ? await t.data() : t.data;
        const expected = t.shape.reduce((a, b) => a * b, 1);
        if (data.length !== expected) {
          throw new QaFtError(
            'INTERNAL',
            `${path}: tensor ${name} has ${data.length} values, shape [${t.shape.join(', ')}] needs ${expected}`,
          );
        }
        await fh.write(encodeF32(data));
      }
    },
    { bytes: len.length + json.length + offset },
  );
}

function parseHeader(
  buf: Buffer,
  dataSize: number,
  path: string,
): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw bad(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(path, 'header is not a JSON object');
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, path);
      continue;
    }
    entries.set(name, parseEntry(name, value, dataSize, path));
  }
  // No two tensors may share bytes.
  const sorted = [...entries.values()].filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (const [i, cur] of sorted.entries()) {
    const prev = sorted[i - 1];
    if (prev !== undefined && cur.begin < prev.end) {
      throw bad(
        path,
        `tensors ${prev.name} [${prev.begin}, ${prev.end}) and ${cur.name} [${cur.begin}, ${cur.end}) overlap`,
      );
    }
  }
  return { entries, metadata };
}

function parseEntry(name: string, value: unknown, dataSize: number, path: string): SafetensorsEntry {
  if (typeof value !== 'object' || value === null) throw bad(path, `tensor ${name}: header entry is not an object`);
  const v = value as Record<string, unknown>;
  const dtype = v.dtype;
  const dtypeBytes = typeof dtype === 'string' && Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined;
  if (typeof dtype !== 'string' || dtypeBytes === undefined) {
    throw bad(
      path,
      `tensor ${name}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`,
    );
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad(path, `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const offsets = v.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o): o is number => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw bad(path, `tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw bad(path, `tensor ${name}: byte range [${begin}, ${end}) lies outside the ${dataSize}-byte data section`);
  }
  // Product in floating point is exact while below 2^53; anything larger cannot match `end - begin` anyway.
  const byteSize = shape.reduce((a, b) => a * b, 1) * dtypeBytes;
  if (byteSize !== end - begin) {
    throw bad(path, `tensor ${name}: ${end - begin} bytes, but ${dtype} shape [${shape.join(', ')}] needs ${byteSize}`);
  }
  return { name, dtype, shape, begin, end };
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(path, '__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw bad(path, `__metadata__.${k} is ${JSON.stringify(v)}, expected a string`);
    out[k] = v;
  }
  return out;
}

async function readExactly(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw bad(path, `file ends early (wanted ${into.length} bytes at offset ${position})`);
    done += bytesRead;
  }
}

function decodeInto(out: Float32Array, raw: Buffer, dtype: string): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = out.length;
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F64') for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  else if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const word = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < n; i++) {
      word.setUint32(0, view.getUint16(i * 2, true) << 16);
      out[i] = word.getFloat32(0);
    }
  } else for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
}

/** IEEE 754 binary16 → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function encodeF32(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 4);
  for (const [i, x] of data.entries()) out.writeFloatLE(x, i * 4);
  return out;
}

function bad(path: string, what: string): QaFtError {
  return new QaFtError('BAD_FORMAT', `${path}: ${what}`, {
    hint: 'the safetensors file is damaged or not a safetensors file',
  });
}
