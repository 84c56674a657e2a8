import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { byteLines, decodeText, firstInvalidUtf8, readFileBytes } from '../../src/util/text-file.js';
import { makeTempDir } from '../helpers/cli.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const strictDecodes = (b: Uint8Array): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

test('the first invalid UTF-8 byte is found where Python reports it, with its reason', () => {
  assert.equal(firstInvalidUtf8(new TextEncoder().encode('Café 東京 🎉')), null);
  assert.deepEqual(firstInvalidUtf8(bytes(0x43, 0x61, 0x66, 0xe9, 0x22)), {
    offset: 3,
    byte: 0xe9,
    reason: 'invalid continuation byte',
  });
  assert.deepEqual(firstInvalidUtf8(bytes(0xff, 0xfe, 0x41, 0x00)), {
    offset: 0,
    byte: 0xff,
    reason: 'invalid start byte',
  });
  assert.deepEqual(firstInvalidUtf8(bytes(0x41, 0xe6, 0x9d)), {
    offset: 1,
    byte: 0xe6,
    reason: 'unexpected end of data',
  });
  assert.deepEqual(firstInvalidUtf8(bytes(0xc0, 0x80)), { offset: 0, byte: 0xc0, reason: 'invalid start byte' }); // overlong NUL
  assert.deepEqual(firstInvalidUtf8(bytes(0xe0, 0x80, 0x80)), {
    offset: 0,
    byte: 0xe0,
    reason: 'invalid continuation byte',
  }); // overlong
  assert.deepEqual(firstInvalidUtf8(bytes(0xed, 0xa0, 0x80)), {
    offset: 0,
    byte: 0xed,
    reason: 'invalid continuation byte',
  }); // surrogate
  assert.deepEqual(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80)), {
    offset: 0,
    byte: 0xf4,
    reason: 'invalid continuation byte',
  }); // > U+10FFFF
});

test('the scan agrees with the strict decoder on 20000 random byte strings, and the bytes before the offset decode', () => {
  let state = 12345;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
  for (let t = 0; t < 20000; t++) {
    const n = next() % 12;
    // mostly bytes that start or continue multi-byte sequences, so that both valid and invalid strings are common
    const b = Uint8Array.from({ length: n }, () => (next() % 4 === 0 ? next() % 0x80 : 0x80 + (next() % 0x80)));
    const bad = firstInvalidUtf8(b);
    assert.equal(bad === null, strictDecodes(b), Buffer.from(b).toString('hex'));
    if (bad) assert.ok(strictDecodes(b.subarray(0, bad.offset)), Buffer.from(b).toString('hex'));
  }
});

test('decodeText: a UTF-8 BOM is dropped; invalid UTF-8 names the byte, the line and the hint', () => {
  assert.equal(decodeText(bytes(0xef, 0xbb, 0xbf, 0x7b, 0x7d), 'x.json'), '{}');
  assert.throws(
    () => decodeText(Buffer.from('{"a":\n"Caf\xe9"}', 'latin1'), 'x.json', { hint: 'convert it' }),
    (e: unknown) =>
      e instanceof QaFtError &&
      e.code === 'BAD_FORMAT' &&
      e.message === 'x.json: invalid UTF-8 at byte 10 (line 2, 0xe9: invalid continuation byte)' &&
      e.hint === 'convert it',
  );
  assert.equal(decodeText(Buffer.from('Caf\xe9', 'latin1'), 'x.txt', { encoding: 'latin1' }), 'Café');
});

test('readFileBytes: missing, a directory, and unreadable are told apart', async () => {
  const tmp = await makeTempDir('qa-ft-text-');
  try {
    const opts = { expected: 'a text file' };
    await writeFile(join(tmp.dir, 'ok.txt'), 'ok');
    assert.equal(Buffer.from(await readFileBytes(join(tmp.dir, 'ok.txt'), 'the file', opts)).toString(), 'ok');
    await assert.rejects(readFileBytes(join(tmp.dir, 'none.txt'), 'the file', opts), {
      code: 'FILE_NOT_FOUND',
      message: 'the file does not exist',
    });
    await assert.rejects(readFileBytes(tmp.dir, 'the file', opts), {
      code: 'BAD_ARGUMENT',
      message: 'the file is a directory, expected a text file',
    });
    const loop = join(tmp.dir, 'loop');
    await symlink(loop, loop); // a link to itself: ELOOP (an unreadable file without needing a non-root user)
    await assert.rejects(readFileBytes(loop, 'the file', opts), { message: 'the file cannot be read (ELOOP)' });
  } finally {
    await tmp.cleanup();
  }
});

test('byteLines: lines split across chunks are joined, a long line may span many chunks, CR is kept', async () => {
  const long = 'x'.repeat(1000);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('a\r\nb');
    for (let i = 0; i < long.length; i += 100) yield Buffer.from(long.slice(i, i + 100));
    yield Buffer.from('\n\nlast');
  }
  const groups: string[][] = [];
  for await (const g of byteLines(chunks())) groups.push(g.map((l) => Buffer.from(l).toString()));
  assert.deepEqual(groups, [['a\r'], [`b${long}`, ''], ['last']]);
});
