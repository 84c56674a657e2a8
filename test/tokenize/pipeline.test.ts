import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareDataset, type PrepareOptions } from '../../src/tokenize/pipeline.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
const row = {
  id: 'a',
  title: 't',
  context: 'The capital is Paris.',
  question: 'Capital?',
  answers: { text: ['Paris'], answer_start: [15] },
};
const base = (dir: string, input: string): PrepareOptions => ({
  inputs: [input],
  split: 'train',
  testSize: 0,
  seed: 42,
  maxLength: 384,
  tokenizerDir: tokenizer,
  outDir: join(dir, 'out'),
});

test('the tokenizer is resolved only after the input has been read and checked', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    let asked = 0;
    const tokenizerDir = async (): Promise<string> => {
      asked++;
      return tokenizer;
    };
    await assert.rejects(prepareDataset({ ...base(dir, join(dir, 'missing.json')), tokenizerDir }), {
      code: 'FILE_NOT_FOUND',
    });
    assert.equal(asked, 0);
    const input = join(dir, 'rows.jsonl');
    await writeFile(input, JSON.stringify(row));
    const { manifest } = await prepareDataset({ ...base(dir, input), tokenizerDir });
    assert.equal(asked, 1);
    assert.deepEqual(manifest.sizes.train, { rows: 1, features: 1 });
  } finally {
    await cleanup();
  }
});

test("a max length above the model's positions (tokenizer_config model_max_length 512) is refused, nothing written", async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const input = join(dir, 'rows.jsonl');
    await writeFile(input, JSON.stringify(row));
    await assert.rejects(prepareDataset({ ...base(dir, input), maxLength: 600 }), {
      code: 'BAD_ARGUMENT',
      message: /maxLength 600 exceeds the model's 512 positions/,
    });
    assert.equal(existsSync(join(dir, 'out')), false);
  } finally {
    await cleanup();
  }
});
