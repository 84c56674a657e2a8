/** src/train/checkpoint.ts on its own: which checkpoints count, how a run is identified, what a run may sweep. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Feature } from '../../src/records.js';
import { dataFingerprint, findResumeCheckpoint, isTrainOutput, listCheckpoints, type RunIdentity } from '../../src/train/checkpoint.js';
import { makeTempDir } from '../helpers/cli.js';

const feature = (id: string, ids: number[], start = 1): Feature => ({ exampleId: id, inputIds: ids, offsets: [], startPosition: start, endPosition: start });
const run: RunIdentity = {
  data: 'd1', seed: 42, batchSize: 16, gradientAccumulationSteps: 1, totalSteps: 30, learningRate: 2e-5, weightDecay: 0.01,
  warmupRatio: 0, maxGradNorm: 1, padToMaxLength: false,
};

async function writeCheckpoint(outDir: string, epoch: number, identity: Partial<RunIdentity> | undefined): Promise<void> {
  const dir = join(outDir, `checkpoint-epoch-${epoch}`);
  await mkdir(dir, { recursive: true });
  if (identity === undefined) return; // no trainer_state.json: incomplete
  const state = { format: 'qa-ft-trainer-state/1', epoch, global_step: epoch * 10, micro_step: epoch * 10, run: identity, log_history: [] };
  await writeFile(join(dir, 'trainer_state.json'), JSON.stringify(state));
}

test('only checkpoint directories with a trainer_state.json count, newest epoch first', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 2, run);
    await writeCheckpoint(dir, 10, run);
    await writeCheckpoint(dir, 11, undefined);
    await mkdir(join(dir, 'checkpoint-epoch-x'));
    assert.deepEqual((await listCheckpoints(dir)).map((c) => c.epoch), [10, 2]);
    assert.deepEqual(await listCheckpoints(join(dir, 'missing')), []);
  } finally {
    await cleanup();
  }
});

test("the resume checkpoint is the newest of this run; with none, the error is the same-data checkpoint's difference", async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 1, run);
    await writeCheckpoint(dir, 3, { ...run, data: 'd2' });
    const skipped: string[] = [];
    const found = await findResumeCheckpoint(dir, run, (d) => skipped.push(d));
    assert.equal(found.dir, join(dir, 'checkpoint-epoch-1'));
    assert.deepEqual(skipped, [join(dir, 'checkpoint-epoch-3')]);

    const changed = { ...run, learningRate: 3e-5 };
    await assert.rejects(findResumeCheckpoint(dir, changed, () => assert.fail('nothing is skipped when nothing resumes')), {
      code: 'BAD_ARGUMENT',
      message: `${join(dir, 'checkpoint-epoch-1')} was trained with --lr = 0.00002, this run has 0.00003`,
    });
  } finally {
    await cleanup();
  }
});

test('a checkpoint of an older qa-ft without the newer identity fields is not resumed silently', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const { data: _data, weightDecay: _wd, warmupRatio: _wr, maxGradNorm: _mg, ...older } = run;
    await writeCheckpoint(dir, 1, older);
    await assert.rejects(findResumeCheckpoint(dir, run, () => {}), /trained on other data \(features an unrecorded value \(an older qa-ft\); this run's --data has d1\)/);
  } finally {
    await cleanup();
  }
});

test('the data fingerprint changes with any token, label or example id, and not otherwise', () => {
  const train = [feature('a', [1, 2, 3]), feature('b', [4, 5])];
  const test = [feature('c', [6])];
  const base = dataFingerprint(train, test);
  assert.match(base, /^[0-9a-f]{16}$/);
  assert.equal(dataFingerprint(train.map((f) => ({ ...f, inputIds: [...f.inputIds] })), test), base);
  assert.notEqual(dataFingerprint([feature('a', [1, 2, 4]), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([feature('a', [1, 2, 3], 2), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([feature('z', [1, 2, 3]), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([...train, ...test], []), base, 'the split between train and test matters');
  assert.notEqual(dataFingerprint([feature('a', [1, 2]), feature('b', [3, 4, 5])], test), base, 'token boundaries matter');
});

test("a run sweeps only its own outputs' temporary names", () => {
  for (const name of ['checkpoint-epoch-3', 'final', 'training-curves.svg']) assert.equal(isTrainOutput(name), true, name);
  for (const name of ['notes.txt', 'model.safetensors', 'data']) assert.equal(isTrainOutput(name), false, name);
});
