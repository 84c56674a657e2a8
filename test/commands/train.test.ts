/** `qa-ft train` end to end on a tiny model: what a user reads when training goes wrong. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';
import { prepareSynthetic } from '../train/synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');

test('a run that diverges before its first checkpoint says so in one line, without claiming a checkpoint is intact', {
  timeout: 120_000,
}, async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-diverge-');
  try {
    const { data, config } = await prepareSynthetic(dir, { rows: 40, seed: 7 });
    const r = await runCli([
      'train',
      '--data',
      data,
      '--model',
      TOKENIZER,
      '--init',
      'random',
      '--config',
      config,
      '--out',
      join(dir, 'out'),
      '--epochs',
      '1',
      '--lr',
      '1e10',
      '--batch-size',
      '8',
      '--backend',
      'cpu',
      '--quiet',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft: error'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(
      errors[0] ?? '',
      /training diverged in epoch 1: (loss|gradient norm) is (NaN|-?Infinity) at optimizer step \d+; no checkpoint was written yet \(lower --lr/,
    );
    assert.doesNotMatch(r.stderr, /intact|\n\s+at /);
  } finally {
    await cleanup();
  }
});
