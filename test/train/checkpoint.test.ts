/** src/train/checkpoint.ts on its own: which checkpoints count, which a run resumes, rotation, what a run may sweep. */
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Feature } from '../../src/records.js';
import {
  dataFingerprint,
  isTrainOutput,
  listCheckpoints,
  resumeFromCheckpoint,
  rotateCheckpoints,
  type RunIdentity,
} from '../../src/train/checkpoint.js';
import { QaFtError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/cli.js';

const feature = (id: string, ids: number[], start = 1): Feature => ({
  exampleId: id,
  inputIds: ids,
  offsets: [],
  startPosition: start,
  endPosition: start,
});
const run: RunIdentity = {
  data: 'd1',
  seed: 42,
  batchSize: 16,
  gradientAccumulationSteps: 1,
  totalSteps: 30,
  learningRate: 2e-5,
  lrSchedulerType: 'linear',
  weightDecay: 0.01,
  warmupSteps: 0,
  maxGradNorm: 1,
  padToMaxLength: false,
  precision: 'fp32',
};
const noReports = { onDamaged: () => assert.fail('nothing is damaged'), onOtherRun: () => {} };
const restoreNothing = async (): Promise<void> => {};

async function writeCheckpoint(
  outDir: string,
  step: number,
  identity: Partial<RunIdentity> | undefined,
  stateText?: string,
): Promise<void> {
  const dir = join(outDir, `checkpoint-${step}`);
  await mkdir(dir, { recursive: true });
  if (identity === undefined && stateText === undefined) return; // no trainer_state.json: incomplete
  const state = {
    format: 'qa-ft-trainer-state/2',
    epoch: step / 10,
    global_step: step,
    micro_step: step,
    run: identity,
    loss_sums: { epochSum: 0, epochCount: 0, windowSum: 0, windowCount: 0 },
    log_history: [],
  };
  await writeFile(join(dir, 'trainer_state.json'), stateText ?? JSON.stringify(state));
}

test('only checkpoint directories with a trainer_state.json count, newest step first', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 20, run);
    await writeCheckpoint(dir, 100, run);
    await writeCheckpoint(dir, 110, undefined);
    await mkdir(join(dir, 'checkpoint-x'));
    assert.deepEqual(
      (await listCheckpoints(dir)).map((c) => c.step),
      [100, 20],
    );
    assert.deepEqual(await listCheckpoints(join(dir, 'missing')), []);
  } finally {
    await cleanup();
  }
});

test("the resume checkpoint is the newest of this run; with none, the error is the same-data checkpoint's difference", async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 10, run);
    await writeCheckpoint(dir, 30, { ...run, data: 'd2' });
    const skipped: string[] = [];
    const found = await resumeFromCheckpoint(dir, run, restoreNothing, {
      ...noReports,
      onOtherRun: (d) => skipped.push(d),
    });
    assert.equal(found.dir, join(dir, 'checkpoint-10'));
    assert.deepEqual(skipped, [join(dir, 'checkpoint-30')]);

    const changed = { ...run, learningRate: 3e-5 };
    await assert.rejects(
      resumeFromCheckpoint(dir, changed, restoreNothing, {
        ...noReports,
        onOtherRun: () => assert.fail('nothing is skipped when nothing resumes'),
      }),
      {
        code: 'BAD_ARGUMENT',
        message: `${join(dir, 'checkpoint-10')} was trained with learningRate = 0.00002, this run has 0.00003`,
      },
    );
  } finally {
    await cleanup();
  }
});

test('a damaged newest checkpoint (garbage state, or weights that fail to load) is reported, skipped and kept; the previous one resumes', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 10, run);
    await writeCheckpoint(dir, 20, run); // its weights fail to load below
    await writeCheckpoint(dir, 30, undefined, '{"format": "qa-ft-trainer-st');
    const damaged: string[] = [];
    const restore = async (d: string): Promise<void> => {
      if (d.endsWith('checkpoint-20')) throw new QaFtError('BAD_FORMAT', `${d}/model.safetensors: truncated`);
    };
    const found = await resumeFromCheckpoint(dir, run, restore, {
      onDamaged: (d, why) => damaged.push(`${d}: ${why}`),
      onOtherRun: () => {},
    });
    assert.equal(found.dir, join(dir, 'checkpoint-10'));
    assert.equal(damaged.length, 2);
    assert.match(damaged[0] as string, /checkpoint-30: .*trainer_state\.json is not valid JSON/);
    assert.match(damaged[1] as string, /checkpoint-20: .*model\.safetensors: truncated/);
    assert.deepEqual((await readdir(dir)).sort(), ['checkpoint-10', 'checkpoint-20', 'checkpoint-30']);
  } finally {
    await cleanup();
  }
});

test('a bug while restoring is not mistaken for damage: it propagates', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 10, run);
    const bug = async (): Promise<void> => {
      throw new TypeError('x is undefined');
    };
    await assert.rejects(resumeFromCheckpoint(dir, run, bug, noReports), TypeError);
  } finally {
    await cleanup();
  }
});

test('with only damaged checkpoints, --resume says there is no valid one', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeCheckpoint(dir, 10, undefined, 'null');
    await assert.rejects(
      resumeFromCheckpoint(dir, run, restoreNothing, { onDamaged: () => {}, onOtherRun: () => {} }),
      {
        code: 'FILE_NOT_FOUND',
        message: `resume: no complete, valid checkpoint-STEP in ${dir}`,
      },
    );
  } finally {
    await cleanup();
  }
});

test('a checkpoint of an older qa-ft without the newer identity fields is not resumed silently', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const { data: _data, weightDecay: _wd, warmupSteps: _ws, maxGradNorm: _mg, ...older } = run;
    await writeCheckpoint(dir, 10, older);
    await assert.rejects(
      resumeFromCheckpoint(dir, run, restoreNothing, noReports),
      /trained on other data \(features an unrecorded value \(an older qa-ft\); this run's dataDir has d1\)/,
    );
  } finally {
    await cleanup();
  }
});

test('rotation keeps the newest K (HF save_total_limit), and the best beside them even when K is 1', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    for (const step of [4, 8, 12, 16]) await writeCheckpoint(dir, step, run);
    const deleted = await rotateCheckpoints(dir, 2, null);
    assert.deepEqual(deleted, [join(dir, 'checkpoint-4'), join(dir, 'checkpoint-8')]);
    assert.deepEqual(
      (await listCheckpoints(dir)).map((c) => c.step),
      [16, 12],
    );

    await rotateCheckpoints(dir, 1, `${dir}/./checkpoint-12`); // the best, recorded under another spelling of the directory
    assert.deepEqual(
      (await listCheckpoints(dir)).map((c) => c.step),
      [16, 12],
    );
    await rotateCheckpoints(dir, 1, null);
    assert.deepEqual(await readdir(dir), ['checkpoint-16'], 'nothing left aside');
  } finally {
    await cleanup();
  }
});

test('the data fingerprint changes with any token, label or example id, and not otherwise', () => {
  const train = [feature('a', [1, 2, 3]), feature('b', [4, 5])];
  const test = [feature('c', [6])];
  const base = dataFingerprint(train, test);
  assert.match(base, /^[0-9a-f]{16}$/);
  assert.equal(
    dataFingerprint(
      train.map((f) => ({ ...f, inputIds: [...f.inputIds] })),
      test,
    ),
    base,
  );
  assert.notEqual(dataFingerprint([feature('a', [1, 2, 4]), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([feature('a', [1, 2, 3], 2), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([feature('z', [1, 2, 3]), feature('b', [4, 5])], test), base);
  assert.notEqual(dataFingerprint([...train, ...test], []), base, 'the split between train and test matters');
  assert.notEqual(
    dataFingerprint([feature('a', [1, 2]), feature('b', [3, 4, 5])], test),
    base,
    'token boundaries matter',
  );
});

test("a run sweeps only its own outputs' temporary names", () => {
  for (const name of ['checkpoint-12', 'checkpoint-epoch-3', 'final', 'training-curves.svg'])
    assert.equal(isTrainOutput(name), true, name);
  for (const name of ['notes.txt', 'model.safetensors', 'data']) assert.equal(isTrainOutput(name), false, name);
});
