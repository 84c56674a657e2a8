import assert from 'node:assert/strict';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { halfToFloat, readSafetensors, SafetensorsFile, writeSafetensors } from '../../src/model/safetensors.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const fixtureDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');

/** A safetensors file from a header object and raw data bytes (header length written as given, or computed). */
function build(header: unknown, data: Uint8Array, headerLength?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length), 0);
  return Buffer.concat([len, json, data]);
}

/** Asserts a one-line BAD_FORMAT error that names the file and mentions `pattern`. */
async function rejectsOneLine(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readSafetensors(path), (e: unknown) => {
    assert.ok(e instanceof QaFtError, `expected QaFtError, got ${String(e)}`);
    assert.equal(e.code, 'BAD_FORMAT');
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(e.message.includes(path), `names the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('safetensors', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(async () => cleanup());

  test('the PyTorch-written fixture reads with its names, shapes and metadata', async () => {
    const t = await readSafetensors(join(fixtureDir, 'model.safetensors'));
    assert.equal(t.size, 38); // embeddings 4 + 2 layers × 16 + qa_outputs 2
    const w = t.get('distilbert.embeddings.word_embeddings.weight');
    assert.deepEqual(w?.shape, [120, 32]);
    assert.deepEqual(t.get('qa_outputs.weight')?.shape, [2, 32]);
    assert.deepEqual(t.metadata, { format: 'pt' });
  });

  test('write → read round trip is bit-exact, names sorted, metadata kept, header 8-byte aligned', async () => {
    const path = join(dir, 'rt.safetensors');
    const a = new Float32Array([1.5, -0, Number.MIN_VALUE, 3.4028234663852886e38, -7.25, 1e-30]);
    const b = new Float32Array([42]);
    await writeSafetensors(
      path,
      new Map([
        ['z.a', { shape: [2, 3], data: a }],
        ['b', { shape: [], data: async () => b }],
      ]),
      { format: 'pt' },
    );
    const back = await readSafetensors(path);
    assert.deepEqual([...back.keys()], ['b', 'z.a']);
    assert.deepEqual(back.get('z.a')?.shape, [2, 3]);
    assert.deepEqual(new Uint32Array(back.get('z.a')!.data.buffer), new Uint32Array(a.buffer));
    assert.deepEqual(back.get('b')?.shape, []);
    assert.equal(back.get('b')?.data[0], 42);
    assert.deepEqual(back.metadata, { format: 'pt' });
    const raw = await readFile(path);
    assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file left',
    );
  });

  test('F16 and BF16 are upcast to float32 exactly (hand-worked bit patterns)', async () => {
    const path = join(dir, 'half.safetensors');
    // F16: 0x3C00 = 1, 0xC000 = -2, 0x3555 ≈ 0.333251953125, 0x0001 = 2^-24, 0x7C00 = +inf
    // BF16: 0x3F80 = 1, 0xC0A0 = -5, 0x3EAB = 0.333984375
    const data = Buffer.alloc(16);
    [0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00].forEach((h, i) => data.writeUInt16LE(h, i * 2));
    [0x3f80, 0xc0a0, 0x3eab].forEach((h, i) => data.writeUInt16LE(h, 10 + i * 2));
    const header = {
      h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
      b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] },
    };
    await writeFile(path, build(header, data));
    const t = await readSafetensors(path);
    assert.deepEqual([...t.get('h')!.data], [1, -2, 0.333251953125, 2 ** -24, Infinity]);
    assert.deepEqual([...t.get('b')!.data], [1, -5, 0.333984375]);
    assert.equal(halfToFloat(0x7bff), 65504);
  });

  test('truncated file → one-line error', async () => {
    const path = join(dir, 'truncated.safetensors');
    const full = await readFile(join(fixtureDir, 'model.safetensors'));
    await writeFile(path, full.subarray(0, full.length - 100));
    await rejectsOneLine(path, /outside the \d+-byte data section/);
  });

  test('file shorter than the 8-byte length → one-line error', async () => {
    const path = join(dir, 'tiny.safetensors');
    await writeFile(path, Buffer.from([1, 2, 3]));
    await rejectsOneLine(path, /3 bytes, shorter than/);
  });

  test('header length past the end of the file → one-line error', async () => {
    const path = join(dir, 'past-eof.safetensors');
    await writeFile(path, build({}, new Uint8Array(0), 5000n));
    await rejectsOneLine(path, /header length 5000 runs past the end/);
  });

  test('2^63 header length → one-line error, nothing allocated from it', async () => {
    const path = join(dir, 'huge.safetensors');
    await writeFile(path, build({}, new Uint8Array(0), 2n ** 63n));
    await rejectsOneLine(path, /header length 9223372036854775808 exceeds/);
  });

  test('overlapping byte ranges → one-line error naming both tensors', async () => {
    const path = join(dir, 'overlap.safetensors');
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    await writeFile(path, build(header, new Uint8Array(12)));
    await rejectsOneLine(path, /tensors a \[0, 8\) and b \[4, 12\) overlap/);
  });

  test('byte size ≠ product(shape) × dtype size → one-line error', async () => {
    const path = join(dir, 'size.safetensors');
    await writeFile(path, build({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20)));
    await rejectsOneLine(path, /tensor a: 20 bytes, but F32 shape \[2, 3\] needs 24/);
  });

  test('unknown dtype → one-line error', async () => {
    const path = join(dir, 'dtype.safetensors');
    await writeFile(path, build({ a: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await rejectsOneLine(path, /unknown dtype "F31"/);
  });

  test('header that is not JSON, and offsets that are not integers → one-line errors', async () => {
    const path = join(dir, 'json.safetensors');
    const junk = Buffer.from('{"a": ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(junk.length), 0);
    await writeFile(path, Buffer.concat([len, junk]));
    await rejectsOneLine(path, /header is not valid JSON/);
    await writeFile(path, build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, new Uint8Array(8)));
    await rejectsOneLine(path, /data_offsets \[0,4.5\] is not a pair/);
  });

  test('integer tensors pass validation but cannot be read as weights', async () => {
    const path = join(dir, 'int.safetensors');
    await writeFile(path, build({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    const f = await SafetensorsFile.open(path);
    try {
      assert.deepEqual(f.entries.get('ids')?.shape, [2]);
      await assert.rejects(f.read('ids'), /dtype I64; only F32, F16, BF16 and F64/);
    } finally {
      await f.close();
    }
  });

  test('missing file → FILE_NOT_FOUND', async () => {
    await assert.rejects(
      readSafetensors(join(dir, 'nope.safetensors')),
      (e: unknown) => e instanceof QaFtError && e.code === 'FILE_NOT_FOUND',
    );
  });
});
