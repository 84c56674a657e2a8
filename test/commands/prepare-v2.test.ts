// `qa-ft prepare --version-2-with-negative`: SQuAD 2.0 data keeps its unanswerable questions, labelled at [CLS],
// and the manifest records the flag; without the flag such data is refused in one line.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readPrepared } from '../../src/tokenize/prepared.js';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';

const parquet = new URL('../data/fixtures/squad-v2-sample.parquet', import.meta.url).pathname;
const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir();
});
after(() => tmp.cleanup());

test('prepare --version-2-with-negative keeps unanswerable rows at [CLS] and records the flag', async () => {
  const out = join(tmp.dir, 'v2');
  const r = await runCli([
    'prepare',
    '--input',
    parquet,
    '--split',
    'train',
    '--test-size',
    '0.5',
    '--tokenizer',
    tokenizer,
    '--out',
    out,
    '--version-2-with-negative',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /SQuAD 2\.0: 2 questions have no answer \(labelled at \[CLS\]\)/);
  const data = await readPrepared(out);
  assert.equal(data.manifest.versionTwoWithNegative, true);
  assert.equal(data.manifest.counts.noAnswerRows, 2);
  const rows = [...data.train.rows, ...data.test.rows];
  const features = [...data.train.features, ...data.test.features];
  assert.equal(rows.length, 4);
  for (const id of ['u1', 'u2']) {
    const f = features.filter((x) => x.exampleId === id);
    assert.equal(f.length, 1);
    assert.deepEqual([f[0]?.startPosition, f[0]?.endPosition], [0, 0]);
  }
  for (const id of ['a1', 'a2']) assert.ok((features.find((x) => x.exampleId === id)?.startPosition ?? 0) > 0, id);
});

test('prepare without the flag refuses SQuAD 2.0 data in one line naming the flag, and writes nothing', async () => {
  const out = join(tmp.dir, 'v1');
  const r = await runCli(['prepare', '--input', parquet, '--split', 'train', '--tokenizer', tokenizer, '--out', out]);
  assert.equal(r.code, 1);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft: error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.match(
    errors[0] ?? '',
    /^qa-ft: error: .*2 of 4 rows have no answer \(SQuAD 2\.0 unanswerable questions; first: row 1, id u1\); pass --version-2-with-negative/,
  );
  assert.equal(existsSync(out), false);
});
