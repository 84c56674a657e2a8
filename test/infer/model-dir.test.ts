// trainedOnSquadV2: a model directory's trainer_state.json tells whether it was trained and evaluated as SQuAD 2.0.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainedOnSquadV2 } from '../../src/infer/model-dir.js';
import { makeTempDir } from '../helpers/cli.js';

test('a training log with eval_NoAns_*/eval_HasAns_* figures means SQuAD 2.0; v1.1 logs, no file or a bad file do not', async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-model-dir-');
  try {
    const state = (history: unknown): Promise<void> =>
      writeFile(join(dir, 'trainer_state.json'), JSON.stringify({ log_history: history }));
    assert.equal(trainedOnSquadV2(dir), false); // no file
    await state([
      { step: 5, loss: 1 },
      { step: 10, eval_loss: 0.5, eval_exact_match: 90, eval_f1: 91 },
    ]);
    assert.equal(trainedOnSquadV2(dir), false);
    await state([
      { step: 10, eval_loss: 0.5, eval_exact_match: 90, eval_f1: 91, eval_HasAns_f1: 92, eval_NoAns_f1: 90 },
    ]);
    assert.equal(trainedOnSquadV2(dir), true);
    await writeFile(join(dir, 'trainer_state.json'), '{not json');
    assert.equal(trainedOnSquadV2(dir), false);
  } finally {
    await cleanup();
  }
});
