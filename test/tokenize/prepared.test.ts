import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkPreparedTarget, preparedLockPath, readPrepared, writePrepared } from '../../src/tokenize/prepared.js';
import type { SquadRow } from '../../src/records.js';
import type { Feature } from '../../src/records.js';
import { makeTempDir } from '../helpers/cli.js';

const row = (id: string, context: string, text: string, start: number): SquadRow => ({
  id,
  title: 'T',
  context,
  question: `q ${id}?`,
  answers: { text: [text], answer_start: [start] },
});
const feature = (exampleId: string, n: number, start: number): Feature => ({
  exampleId,
  inputIds: Array.from({ length: n }, (_, i) => 100 + i),
  offsets: Array.from({ length: n }, (_, i) => (i >= 3 && i < n - 1 ? ([i * 2, i * 2 + 1] as [number, number]) : null)),
  startPosition: start,
  endPosition: start + 1,
});
const manifest = {
  source: { path: 'in.parquet', format: 'parquet', rows: 3 },
  split: 'train[:3]',
  testSize: 0.34,
  seed: 42,
  sizes: { train: { rows: 2, features: 3 }, test: { rows: 1, features: 1 } },
  tokenizer: { dir: '/tok', files: ['tokenizer.json'], vocabSize: 30522 },
  maxLength: 384,
  docStride: 128,
  labelRule: 'whole',
  counts: { truncated: 1, unanswerable: 1, skippedLongQuestion: 0, skippedInvalid: 0 },
  createdAt: '2026-01-01T00:00:00.000Z',
};
const train = {
  rows: [row('a', 'I 😀 Paris.', 'Paris', 4), row('b', 'Café au lait.', 'lait', 8)],
  features: [feature('a', 9, 4), feature('a', 6, 0), feature('b', 12, 7)],
};
const testSplit = { rows: [row('c', '中文 text', 'text', 3)], features: [feature('c', 7, 4)] };

test('writePrepared → readPrepared gives back the rows, features (null offsets included) and manifest', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const out = join(dir, 'data');
    const written = await writePrepared(out, { manifest, train, test: testSplit });
    assert.deepEqual((await readdir(out)).sort(), [
      'manifest.json',
      'test.arrow',
      'test.features.arrow',
      'train.arrow',
      'train.features.arrow',
    ]);
    const back = await readPrepared(out);
    assert.deepEqual(back.train, train);
    assert.deepEqual(back.test, testSplit);
    assert.deepEqual(back.manifest, written);
    assert.equal(back.manifest.format, 'qa-ft-prepared');
    assert.deepEqual(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')), written);
  } finally {
    await cleanup();
  }
});

test('a write that fails midway leaves no directory and no temporary files; an old directory survives', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const broken = { rows: train.rows, features: [{ ...feature('a', 3, 0), inputIds: null as unknown as number[] }] };
    await assert.rejects(writePrepared(join(dir, 'data'), { manifest, train: broken, test: testSplit }));
    assert.deepEqual(await readdir(dir), []);
    await mkdir(join(dir, 'old'));
    await writeFile(join(dir, 'old', 'keep.txt'), 'x');
    await assert.rejects(writePrepared(join(dir, 'old'), { manifest, train: broken, test: testSplit }));
    assert.deepEqual(await readdir(dir), ['old']);
    assert.deepEqual(await readdir(join(dir, 'old')), ['keep.txt']);
  } finally {
    await cleanup();
  }
});

test('readPrepared of a directory without a manifest, or of another version, is a one-line user error', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await assert.rejects(readPrepared(dir), { code: 'FILE_NOT_FOUND', message: /not a prepared-data directory/ });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ format: 'qa-ft-prepared', version: 99 }));
    await assert.rejects(readPrepared(dir), { code: 'BAD_FORMAT', message: /version 99/ });
  } finally {
    await cleanup();
  }
});

test('a prepare locks beside --out, and a lock file inside --out does not make it non-empty', async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-prepared-lock-');
  try {
    assert.equal(await preparedLockPath(join(dir, 'out')), join(dir, '.out.qa-ft.lock'));
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'out', '.qa-ft.lock'), '{}');
    assert.equal(await checkPreparedTarget(join(dir, 'out')), 'empty');
  } finally {
    await cleanup();
  }
});

test('token type ids survive writePrepared → readPrepared; older manifests without tokenizer.tokenTypeIds still read', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const typed = {
      ...train,
      features: train.features.map((f) => ({ ...f, tokenTypeIds: f.inputIds.map((_, i) => (i < 3 ? 0 : 1)) })),
    };
    const typedTest = {
      ...testSplit,
      features: testSplit.features.map((f) => ({ ...f, tokenTypeIds: f.inputIds.map(() => 0) })),
    };
    const typedManifest = { ...manifest, tokenizer: { ...manifest.tokenizer, tokenTypeIds: true } };
    await writePrepared(join(dir, 'typed'), { manifest: typedManifest, train: typed, test: typedTest });
    const back = await readPrepared(join(dir, 'typed'));
    assert.deepEqual(back.train, typed);
    assert.deepEqual(back.test, typedTest);
    assert.equal(back.manifest.tokenizer.tokenTypeIds, true);
    // the manifest above has no tokenizer.tokenTypeIds, as older qa-ft wrote it: read, features without type ids
    await writePrepared(join(dir, 'old'), { manifest, train, test: testSplit });
    const old = await readPrepared(join(dir, 'old'));
    assert.equal(old.manifest.tokenizer.tokenTypeIds, undefined);
    assert.equal(
      old.train.features.some((f) => f.tokenTypeIds !== undefined),
      false,
    );
  } finally {
    await cleanup();
  }
});
