/**
 * A reader of `torch.save` files for tests, independent of the writer (src/train/torch-save.ts): the zip's central
 * directory, then the pickle run on a small stack machine over the opcodes Python's pickler emits for state dicts
 * (memo included). Values come back as plain comparable objects: dict → Map, list → array, tuple → `{ tuple }`,
 * int → `{ int }`, float → number, tensor → `{ tensor }` with its storage's floats.
 */
import { readFile } from 'node:fs/promises';

export type Loaded =
  | null
  | boolean
  | number
  | string
  | Loaded[]
  | Map<unknown, Loaded>
  | { int: number }
  | { tuple: Loaded[] }
  | { tensor: { storage: string; offset: number; shape: number[]; stride: number[]; data: number[] } }
  | { global: string }
  | { persistent: Loaded }
  | { call: string; args: Loaded };

export interface ZipRecord {
  readonly name: string;
  readonly dataOffset: number;
  readonly data: Buffer;
  readonly method: number;
}

export function zipRecords(bytes: Buffer): ZipRecord[] {
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip');
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  const out: ZipRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (bytes.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = bytes.readUInt16LE(at + 10);
    const size = bytes.readUInt32LE(at + 20);
    const nameLen = bytes.readUInt16LE(at + 28);
    const extraLen = bytes.readUInt16LE(at + 30);
    const commentLen = bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    if (bytes.readUInt32LE(local) !== 0x04034b50) throw new Error('bad local header');
    const dataOffset = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    out.push({ name, dataOffset, data: bytes.subarray(dataOffset, dataOffset + size), method });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Runs the pickle; `storage(key)` gives a persistent storage's bytes. */
export function unpickle(p: Buffer, storage: (key: string) => Buffer): Loaded {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let i = 0;
  const popMark = (): unknown[] => stack.splice(marks.pop() as number);
  const line = (): string => {
    const end = p.indexOf(0x0a, i);
    const s = p.subarray(i, end).toString('utf8');
    i = end + 1;
    return s;
  };
  for (;;) {
    const op = p[i++] as number;
    switch (op) {
      case 0x80:
        i++;
        break; // PROTO
      case 0x2e:
        return stack.pop() as Loaded; // STOP
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push({ tuple: [] });
        break; // EMPTY_TUPLE
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x71:
        memo.set(p[i++] as number, stack[stack.length - 1]);
        break; // BINPUT
      case 0x72:
        memo.set(p.readUInt32LE(i), stack[stack.length - 1]);
        i += 4;
        break; // LONG_BINPUT
      case 0x68:
        stack.push(memo.get(p[i++] as number));
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(p.readUInt32LE(i)));
        i += 4;
        break; // LONG_BINGET
      case 0x58: {
        const n = p.readUInt32LE(i);
        stack.push(p.subarray(i + 4, i + 4 + n).toString('utf8'));
        i += 4 + n;
        break;
      } // BINUNICODE
      case 0x8c: {
        const n = p[i] as number;
        stack.push(p.subarray(i + 1, i + 1 + n).toString('utf8'));
        i += 1 + n;
        break;
      } // SHORT_BINUNICODE
      case 0x4b:
        stack.push({ int: p[i++] as number });
        break; // BININT1
      case 0x4d:
        stack.push({ int: p.readUInt16LE(i) });
        i += 2;
        break; // BININT2
      case 0x4a:
        stack.push({ int: p.readInt32LE(i) });
        i += 4;
        break; // BININT
      case 0x8a: {
        // LONG1
        const n = p[i++] as number;
        let v = 0n;
        for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(p[i + k] as number);
        if (n > 0 && (p[i + n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
        stack.push({ int: Number(v) });
        i += n;
        break;
      }
      case 0x47:
        stack.push(p.readDoubleBE(i));
        i += 8;
        break; // BINFLOAT
      case 0x63: {
        const module = line();
        const name = line();
        stack.push({ global: `${module}.${name}` });
        break;
      } // GLOBAL
      case 0x74:
        stack.push({ tuple: popMark() });
        break; // TUPLE
      case 0x85:
        stack.push({ tuple: stack.splice(-1) });
        break;
      case 0x86:
        stack.push({ tuple: stack.splice(-2) });
        break;
      case 0x87:
        stack.push({ tuple: stack.splice(-3) });
        break;
      case 0x61: {
        const v = stack.pop();
        (stack[stack.length - 1] as unknown[]).push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      } // APPENDS
      case 0x73: {
        const v = stack.pop();
        const k = stack.pop();
        (stack[stack.length - 1] as Map<unknown, unknown>).set(key(k), v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = stack[stack.length - 1] as Map<unknown, unknown>;
        for (let k = 0; k < items.length; k += 2) d.set(key(items[k]), items[k + 1]);
        break;
      }
      case 0x51:
        stack.push({ persistent: stack.pop() });
        break; // BINPERSID
      case 0x52: {
        // REDUCE
        const args = stack.pop() as { tuple: unknown[] };
        const fn = (stack.pop() as { global: string }).global;
        stack.push(reduce(fn, args.tuple, storage));
        break;
      }
      default:
        throw new Error(`unpickle: opcode 0x${op.toString(16)} at ${i - 1}`);
    }
  }
}

/** Dict keys: an int key as its number, a string as itself (both kinds never collide in these state dicts). */
function key(k: unknown): unknown {
  return typeof k === 'object' && k !== null && 'int' in k ? (k as { int: number }).int : k;
}

function reduce(fn: string, args: unknown[], storage: (key: string) => Buffer): Loaded {
  if (fn === 'collections.OrderedDict') return new Map();
  if (fn === 'torch._utils._rebuild_tensor_v2') {
    const pid = (args[0] as { persistent: { tuple: unknown[] } }).persistent.tuple;
    const [tag, type, storageKey, location, numel] = pid as [
      string,
      { global: string },
      string,
      string,
      { int: number },
    ];
    if (tag !== 'storage' || type.global !== 'torch.FloatStorage' || location !== 'cpu')
      throw new Error(`unexpected storage ${JSON.stringify(pid)}`);
    const bytes = storage(storageKey);
    if (bytes.length !== numel.int * 4)
      throw new Error(`storage ${storageKey}: ${bytes.length} bytes for ${numel.int} floats`);
    const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const ints = (t: unknown) => (t as { tuple: { int: number }[] }).tuple.map((x) => x.int);
    const shape = ints(args[2]);
    return {
      tensor: {
        storage: storageKey,
        offset: (args[1] as { int: number }).int,
        shape,
        stride: ints(args[3]),
        data: [...floats],
      },
    };
  }
  return { call: fn, args: { tuple: args as Loaded[] } };
}

/** `torch.load(path)`: the value, and the zip's records. */
export async function torchLoad(path: string): Promise<{ value: Loaded; records: ZipRecord[]; prefix: string }> {
  const records = zipRecords(await readFile(path));
  const pkl = records.find((r) => r.name.endsWith('/data.pkl'));
  if (!pkl) throw new Error('no data.pkl');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(records.map((r) => [r.name, r.data]));
  const value = unpickle(pkl.data, (k) => {
    const b = byName.get(`${prefix}data/${k}`);
    if (!b) throw new Error(`no record data/${k}`);
    return b;
  });
  return { value, records, prefix };
}
