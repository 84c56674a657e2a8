import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { loadTokenizer, type QaTokenizer, type TextEncoding } from '../../src/tokenize/tokenizer.js';
import { cutWindows, encodeWindows, validateWindowOptions } from '../../src/tokenize/windows.js';
import { sharedDir } from '../helpers/cli.js';

const modelDir = join(sharedDir, 'models', 'distilbert-base-uncased');
const template = { prefix: [101], middle: [102], suffix: [102] };
/** A fake encoding: token i has id 1000+i and offsets [2i, 2i+1). */
const fake = (n: number): TextEncoding => ({
  ids: Array.from({ length: n }, (_, i) => 1000 + i),
  offsets: Array.from({ length: n }, (_, i) => [2 * i, 2 * i + 1] as [number, number]),
});

let tok: QaTokenizer;
before(async () => {
  tok = await loadTokenizer(modelDir);
});

test('a pair that fits is one window with every context token', () => {
  const r = cutWindows(template, fake(2), fake(5), { maxLength: 10, docStride: 2 });
  assert.ok(r.ok);
  assert.equal(r.truncated, false);
  assert.deepEqual(r.windows[0]?.inputIds, [101, 1000, 1001, 102, 1000, 1001, 1002, 1003, 1004, 102]);
});

test('without a stride the context is cut to max_length - 3 - len(question) tokens', () => {
  const r = cutWindows(template, fake(2), fake(20), { maxLength: 10 });
  assert.ok(r.ok);
  assert.equal(r.truncated, true);
  assert.equal(r.windows.length, 1);
  assert.deepEqual(r.windows[0]?.inputIds, [101, 1000, 1001, 102, 1000, 1001, 1002, 1003, 1004, 102]);
  assert.equal(r.windows[0]?.contextStart, 4);
  assert.equal(r.windows[0]?.contextEnd, 8);
});

test('doc stride: windows start every room - stride tokens and the last one reaches the end', () => {
  // room = 10 - 3 - 2 = 5, stride 2 → starts 0, 3, 6, 9, 12 over 15 context tokens (stop after reaching 15)
  const r = cutWindows(template, fake(2), fake(15), { maxLength: 10, docStride: 2 });
  assert.ok(r.ok);
  const ctx = r.windows.map((w) => w.inputIds.slice(w.contextStart, w.contextEnd + 1).map((id) => id - 1000));
  assert.deepEqual(ctx, [
    [0, 1, 2, 3, 4],
    [3, 4, 5, 6, 7],
    [6, 7, 8, 9, 10],
    [9, 10, 11, 12, 13],
    [12, 13, 14],
  ]);
  // offsets follow their tokens; question and special tokens have none
  const last = r.windows[4];
  assert.deepEqual(last?.offsets, [null, null, null, null, [24, 25], [26, 27], [28, 29], null]);
});

test('doc stride: a context ending exactly on a window boundary gives no empty extra window', () => {
  // room 5, step 3: [0,5) [3,8) — 8 tokens end at the second window
  const r = cutWindows(template, fake(2), fake(8), { maxLength: 10, docStride: 2 });
  assert.ok(r.ok);
  assert.equal(r.windows.length, 2);
});

test('a question that leaves no room for context is reported, not cut', () => {
  const r = cutWindows(template, fake(7), fake(20), { maxLength: 10 });
  assert.deepEqual(r, { ok: false, room: 0 });
  // with a stride, room must exceed the stride (Rust asserts stride < max_len)
  const s = cutWindows(template, fake(5), fake(20), { maxLength: 10, docStride: 2 });
  assert.deepEqual(s, { ok: false, room: 2 });
});

test('bad window options are rejected with the allowed range', () => {
  assert.throws(() => validateWindowOptions(template, { maxLength: 4 }), {
    code: 'BAD_ARGUMENT',
    message: /max length/,
  });
  assert.throws(() => validateWindowOptions(template, { maxLength: 10, docStride: 6 }), {
    code: 'BAD_ARGUMENT',
    message: /doc stride/,
  });
  assert.throws(() => validateWindowOptions(template, { maxLength: 10, docStride: -1 }), { code: 'BAD_ARGUMENT' });
});

test('real tokenizer: windows with stride 128 cover a long context and match the library on the windows it keeps', async () => {
  const sentence = 'The committee met in Geneva in 1864 to draft the first convention. ';
  const context = sentence.repeat(80); // ≈ 1100 tokens
  const question = 'Where did the committee meet?';
  const windows = await encodeWindows(tok, question, context, { maxLength: 384, docStride: 128 });
  const q = await tok.encodeText(question);
  const c = await tok.encodeText(context);
  const room = 384 - 3 - q.ids.length;
  const step = room - 128;
  assert.equal(windows.length, Math.ceil((c.ids.length - room) / step) + 1);
  windows.forEach((w, k) => {
    assert.ok(w.inputIds.length <= 384);
    assert.deepEqual(w.inputIds.slice(w.contextStart, w.contextEnd + 1), c.ids.slice(k * step, k * step + room));
  });
  // The library's own truncation agrees on the main window, but (tokenizers 0.23, issue #2091) returns a single,
  // shortened overflow window: it starts where our second window starts, then stops early.
  const lib = Tokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  lib.setTruncation(384, { strategy: 'OnlySecond' as never, stride: 128 });
  const enc = await lib.encode(question, context);
  assert.deepEqual(enc.getIds(), windows[0]?.inputIds);
  const overflow = enc.getOverflowing()[0]?.getIds() ?? [];
  assert.deepEqual(overflow.slice(0, 100), windows[1]?.inputIds.slice(0, 100));
  assert.ok(enc.getOverflowing().length < windows.length - 1, 'upstream bug fixed? then the hand cut may be dropped');
});

test('encodeWindows on a question too long for any context is a user error', async () => {
  await assert.rejects(encodeWindows(tok, 'why '.repeat(50), 'Because.', { maxLength: 40 }), {
    code: 'BAD_ARGUMENT',
    message: /no context fits/,
  });
});
