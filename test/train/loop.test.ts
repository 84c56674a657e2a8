/**
 * The epoch loop on a stand-in model (loss ½‖W − T‖², known gradient) and a stand-in evaluator: what it batches,
 * when it evaluates and logs, what a divergence leaves on disk. The real model's end-to-end runs are in
 * learning.test.ts and resume.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { isQaFtError } from '../../src/errors.js';
import type { SquadRow } from '../../src/records.js';
import { writeSafetensors } from '../../src/model/safetensors.js';
import type { QaModel } from '../../src/model/types.js';
import type { QaBatch } from '../../src/records.js';
import type { Feature } from '../../src/records.js';
import { trainLoop, type Split, type TrainEvent, type TrainLoopOptions } from '../../src/train/loop.js';
import { makeTempDir } from '../helpers/cli.js';

interface StandIn extends QaModel {
  widths: number[];
  calls: number;
}

/** `nanAtCall`: the 1-based lossAndGradients call that returns a NaN loss. */
function standInModel(nanAtCall = Infinity): StandIn {
  const params = new Map<string, tf.Variable>([['w.weight', tf.variable(tf.zeros([1, 3]))]]);
  const model: StandIn = {
    widths: [],
    calls: 0,
    config: { padTokenId: 0 } as QaModel['config'],
    backend: 'cpu',
    params,
    forward: () => Promise.reject(new Error('unused')),
    logits: () => {
      throw new Error('unused');
    },
    lossAndGradients(batch: QaBatch) {
      model.calls += 1;
      model.widths.push(...batch.inputIds.map((r) => r.length));
      const w = params.get('w.weight') as tf.Variable;
      const diff = tf.tidy(() => tf.sub(w, tf.tensor2d([[1, 2, 3]]))); // [1, 3]
      const loss = tf.tidy(
        () => (model.calls === nanAtCall ? tf.scalar(NaN) : tf.mul(tf.sum(tf.square(diff)), 0.5)) as tf.Scalar,
      );
      return { loss, grads: new Map<string, tf.Tensor>([['w.weight', diff]]) };
    },
    async save(dir: string) {
      const data = (await w().data()) as Float32Array;
      await writeSafetensors(join(dir, 'model.safetensors'), new Map([['w.weight', { shape: [1, 3], data }]]));
    },
    dispose: () => w().dispose(),
  };
  const w = (): tf.Variable => params.get('w.weight') as tf.Variable;
  return model;
}

/** `n` features of lengths 3, 4, … cycling up to 9, with their rows. */
function split(n: number): Split {
  const features: Feature[] = [];
  const rows: SquadRow[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + (i % 7);
    features.push({
      exampleId: `e${i}`,
      inputIds: Array.from({ length: len }, (_, t) => t + 1),
      offsets: [],
      startPosition: 1,
      endPosition: 1,
    });
    rows.push({ id: `e${i}`, title: '', context: 'c', question: 'q', answers: { text: ['c'], answer_start: [0] } });
  }
  return { rows, features };
}

function options(outDir: string, over: Partial<TrainLoopOptions> = {}): TrainLoopOptions & { evals: number[] } {
  const evals: number[] = [];
  return {
    outDir,
    epochs: 2,
    batchSize: 4,
    learningRate: 0.1,
    weightDecay: 0,
    warmupRatio: 0,
    maxGradNorm: 1,
    gradientAccumulationSteps: 1,
    seed: 1,
    padToMaxLength: false,
    maxLength: 12,
    padTokenId: 0,
    evalEvery: 'epoch',
    loggingSteps: 1,
    resume: false,
    tokenizerFiles: [],
    evaluate: async (_m, s) => {
      evals.push(s.features.length);
      return { evalLoss: 0.5, exactMatch: 40 + evals.length, f1: 50 + evals.length, count: s.rows.length };
    },
    evals,
    ...over,
  };
}

test('NaN loss in epoch 2 → TRAINING_DIVERGED naming step and the kept end-of-epoch-1 checkpoint; nothing of epoch 2 saved', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel(5 + 2); // 20 features / batch 4 = 5 steps per epoch: call 7 is step 2 of epoch 2
  try {
    await assert.rejects(trainLoop(model, { train: split(20), test: split(4) }, options(dir)), (e) => {
      assert.ok(isQaFtError(e) && e.code === 'TRAINING_DIVERGED');
      assert.match(e.message, /epoch 2: loss is NaN at optimizer step 7; the last good checkpoint is .*checkpoint-5/);
      return true;
    });
    assert.ok(existsSync(join(dir, 'checkpoint-5', 'qa-ft-state.json')));
    assert.ok(existsSync(join(dir, 'checkpoint-5', 'trainer_state.json')));
    assert.ok(existsSync(join(dir, 'checkpoint-5', 'optimizer.pt')));
    assert.ok(existsSync(join(dir, 'checkpoint-5', 'optimizer.safetensors')));
    assert.ok(!existsSync(join(dir, 'checkpoint-10')));
    assert.ok(!existsSync(join(dir, 'model.safetensors')), 'no final model from a diverged run');
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('--eval-every 3 evaluates at steps 3, 6, 9 (not per epoch); metrics.jsonl has a line per step and per eval', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const o = options(dir, { evalEvery: 3, epochs: 2 });
    const result = await trainLoop(model, { train: split(20), test: split(4) }, o); // 10 steps
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    assert.deepEqual(
      lines.filter((l) => 'eval_f1' in l).map((l) => l.step),
      [3, 6, 9],
    );
    assert.deepEqual(
      lines.filter((l) => 'loss' in l).map((l) => l.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(o.evals.length, 3);
    assert.equal(result.bestMetric, 53);
    const state = JSON.parse(await readFile(join(dir, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(state.global_step, 10);
    assert.equal((state.log_history as unknown[]).length, lines.length);
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('gradient accumulation 2 over 5 batches → 3 optimizer steps per epoch (the short tail is applied)', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const result = await trainLoop(
      model,
      { train: split(20), test: split(4) },
      options(dir, { gradientAccumulationSteps: 2 }),
    );
    assert.equal(result.globalStep, 6);
    assert.equal(model.calls, 10);
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('dynamic padding pads each batch to its longest member; --pad-to-max-length pads every row to max length', async () => {
  await tf.setBackend('cpu');
  for (const padToMaxLength of [false, true]) {
    const { dir, cleanup } = await makeTempDir();
    const model = standInModel();
    try {
      await trainLoop(model, { train: split(28), test: split(4) }, options(dir, { padToMaxLength, epochs: 1 }));
      if (padToMaxLength) assert.deepEqual(new Set(model.widths), new Set([12]));
      else {
        assert.ok(
          Math.max(...model.widths) === 9 && Math.min(...model.widths) < 9,
          `widths ${[...new Set(model.widths)]}`,
        );
      }
    } finally {
      model.dispose();
      await cleanup();
    }
  }
});

test('an empty test split (prepared with --test-size 0) → trains and saves without evaluating', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const o = options(dir, { epochs: 1 });
    const result = await trainLoop(model, { train: split(8), test: split(0) }, o);
    assert.equal(o.evals.length, 0);
    assert.equal(result.bestMetric, null);
    assert.ok(existsSync(join(dir, 'model.safetensors')));
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('resume with no complete checkpoint in the output directory → FILE_NOT_FOUND naming it', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    await assert.rejects(trainLoop(model, { train: split(8), test: split(0) }, options(dir, { resume: true })), (e) => {
      assert.ok(isQaFtError(e) && e.code === 'FILE_NOT_FOUND');
      assert.equal(e.message, `resume: no complete, valid checkpoint-STEP in ${dir}`);
      return true;
    });
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('resume with different run settings (another --seed) → BAD_ARGUMENT naming the setting', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    await trainLoop(model, { train: split(8), test: split(0) }, options(dir, { epochs: 1 }));
    await assert.rejects(
      trainLoop(model, { train: split(8), test: split(0) }, options(dir, { epochs: 1, resume: true, seed: 2 })),
      (e) => {
        assert.ok(isQaFtError(e) && e.code === 'BAD_ARGUMENT');
        assert.match(e.message, /checkpoint-2 was trained with seed = 1, this run has 2/);
        return true;
      },
    );
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('resume refuses every change that alters the trajectory, naming the option and both values, and other data', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  const data = { train: split(8), test: split(4) };
  try {
    await trainLoop(model, data, options(dir, { epochs: 1 }));
    const changes: [Partial<TrainLoopOptions>, RegExp][] = [
      [{ batchSize: 2 }, /batchSize = 4, this run has 2/],
      [{ gradientAccumulationSteps: 2 }, /gradientAccumulationSteps = 1, this run has 2/],
      [{ epochs: 2 }, /the total steps \(maxSteps, or epochs × steps per epoch\) = 2, this run has 4/],
      [{ maxSteps: 3 }, /the total steps .* = 2, this run has 3/],
      [{ lrSchedulerType: 'cosine' }, /lrSchedulerType = linear, this run has cosine/],
      [{ learningRate: 0.2 }, /learningRate = 0\.1, this run has 0\.2/],
      [{ weightDecay: 0.01 }, /weightDecay = 0, this run has 0\.01/],
      [{ warmupRatio: 0.5 }, /the warm-up steps \(warmupSteps or warmupRatio\) = 0, this run has 1/],
      [{ warmupSteps: 2 }, /the warm-up steps .* = 0, this run has 2/],
      [{ maxGradNorm: 0 }, /maxGradNorm = 1, this run has 0/],
      [{ padToMaxLength: true }, /padToMaxLength = false, this run has true/],
    ];
    for (const [change, message] of changes) {
      await assert.rejects(trainLoop(model, data, options(dir, { epochs: 1, resume: true, ...change })), (e) => {
        assert.ok(isQaFtError(e) && e.code === 'BAD_ARGUMENT', String(e));
        assert.match(e.message, message);
        assert.match(e.message, /checkpoint-2 was trained with/);
        return true;
      });
    }
    const bf16 = Object.assign(standInModel(), { precision: 'bf16' as const });
    await assert.rejects(
      trainLoop(bf16, data, options(dir, { epochs: 1, resume: true })),
      /the precision \(precision\) = fp32, this run has bf16/,
    );
    bf16.dispose();
    const other = { train: split(9), test: split(4) };
    await assert.rejects(trainLoop(model, other, options(dir, { epochs: 1, resume: true })), (e) => {
      assert.ok(isQaFtError(e) && e.code === 'BAD_ARGUMENT');
      assert.match(
        e.message,
        /checkpoint-2 was trained on other data \(features [0-9a-f]{16}; this run's dataDir has [0-9a-f]{16}\)/,
      );
      return true;
    });
    const relabelled = {
      train: data.train,
      test: { ...data.test, features: data.test.features.map((f) => ({ ...f, startPosition: 2 })) },
    };
    await assert.rejects(
      trainLoop(model, relabelled, options(dir, { epochs: 1, resume: true })),
      /trained on other data/,
    );
  } finally {
    model.dispose();
    await cleanup();
  }
});

test("resume skips a newer checkpoint of another run in the same directory and continues this run's", async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    await trainLoop(model, { train: split(8), test: split(0) }, options(dir, { epochs: 2, seed: 1 })); // an old, finished run: checkpoints 2, 4
    const events: TrainEvent[] = [];
    const mine = { train: split(12), test: split(0) };
    // this run's first checkpoint (3 steps per epoch), as if it had been killed right after writing it
    await trainLoop(model, mine, options(join(dir, 'elsewhere'), { epochs: 2 }));
    await rename(join(dir, 'elsewhere', 'checkpoint-3'), join(dir, 'checkpoint-3'));
    const r = await trainLoop(model, mine, options(dir, { epochs: 2, resume: true, onEvent: (e) => events.push(e) }));
    assert.equal(r.globalStep, 6);
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.message] : []));
    assert.equal(notices.length, 1);
    assert.match(notices[0] as string, /^Skipping .*checkpoint-4, another run's: .* was trained on other data/);
    assert.ok(events.some((e) => e.type === 'resumed' && e.checkpoint === join(dir, 'checkpoint-3')));
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('divergence before the first checkpoint says none was written, and does not claim one is intact', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel(2);
  try {
    await assert.rejects(trainLoop(model, { train: split(8), test: split(0) }, options(dir)), (e) => {
      assert.ok(isQaFtError(e) && e.code === 'TRAINING_DIVERGED');
      assert.match(e.message, /epoch 1: loss is NaN at optimizer step 2; no checkpoint was written yet$/);
      assert.doesNotMatch(`${e.message} ${e.hint}`, /intact/);
      return true;
    });
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('a run removes the temporary directories of killed runs in --out, and only those', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  const deadPid = 4_194_304 + 3; // above Linux's largest pid: never running
  try {
    const stale = [
      `.checkpoint-1.tmp-${deadPid}-a1`,
      `.final.tmp-${deadPid}-a2`,
      `.training-curves.svg.tmp-${deadPid}-a3`,
    ];
    for (const name of stale) await mkdir(join(dir, name));
    await writeFile(join(dir, `.notes.txt.tmp-${deadPid}-a4`), 'not a training output');
    const events: TrainEvent[] = [];
    await trainLoop(
      model,
      { train: split(8), test: split(0) },
      options(dir, { epochs: 1, onEvent: (e) => events.push(e) }),
    );
    const left = (await readdir(dir)).filter((n) => n.startsWith('.'));
    assert.deepEqual(left, [`.notes.txt.tmp-${deadPid}-a4`]);
    assert.ok(events.some((e) => e.type === 'notice' && /Removed what killed runs left/.test(e.message)));
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('a logged loss is the mean over the steps since the previous log, restarting each epoch', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  const stepLoss = new Map<number, number>();
  try {
    const o = options(dir, {
      loggingSteps: 2,
      onEvent: (e) => (e.type === 'step' ? void stepLoss.set(e.step, e.loss) : undefined),
    });
    const result = await trainLoop(model, { train: split(20), test: split(0) }, o); // 5 steps per epoch
    const logged = result.history.map((r) => [r.step, 'loss' in r ? r.loss : NaN]);
    const mean = (...steps: number[]) => steps.reduce((a, s) => a + (stepLoss.get(s) as number), 0) / steps.length;
    // steps 2 and 4 in epoch 1 (step 5 is left over), then 6 alone (epoch 2 starts a new window), 8, 10
    assert.deepEqual(logged, [
      [2, mean(1, 2)],
      [4, mean(3, 4)],
      [6, mean(6)],
      [8, mean(7, 8)],
      [10, mean(9, 10)],
    ]);
  } finally {
    model.dispose();
    await cleanup();
  }
});

/** An evaluator that reports `f1s[i]` (and `losses[i]`) at its i-th call. */
function scripted(f1s: number[], losses: number[] = f1s.map(() => 1)): TrainLoopOptions['evaluate'] {
  let i = 0;
  return async () => {
    const r = { evalLoss: losses[i] as number, exactMatch: 0, f1: f1s[i] as number, count: 1 };
    i += 1;
    return r;
  };
}

test("early stopping stops where HF's EarlyStoppingCallback would: patience 2, threshold 0.5 over F1 50, 52, 52.3, 51 → step 4", async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const events: TrainEvent[] = [];
    // 52.3 beats 52 by only 0.3 (≤ threshold): no improvement for the callback (1), though it is the new best;
    // 51 does not beat 52.3 (2) → stop. The best checkpoint is step 3's.
    const r = await trainLoop(
      model,
      { train: split(20), test: split(4) },
      options(dir, {
        epochs: 2,
        evalEvery: 1,
        evaluate: scripted([50, 52, 52.3, 51, 60, 70]),
        metricForBestModel: 'f1',
        earlyStopping: { patience: 2, threshold: 0.5 },
        loadBestModelAtEnd: true,
        onEvent: (e) => events.push(e),
      }),
    );
    assert.equal(r.globalStep, 4);
    assert.equal(r.bestMetric, 52.3);
    assert.equal(r.bestCheckpoint, join(dir, 'checkpoint-3'));
    assert.deepEqual(
      events.filter((e) => e.type === 'early-stop').map((e) => (e as { step: number }).step),
      [4],
    );
    const best = events.find((e) => e.type === 'best-loaded');
    assert.ok(
      best && best.type === 'best-loaded' && best.dir === join(dir, 'checkpoint-3') && best.metric === 'eval_f1',
    );
    assert.deepEqual(
      await readFile(join(dir, 'model.safetensors')),
      await readFile(join(dir, 'checkpoint-3', 'model.safetensors')),
    );
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('with eval_loss as the metric, lower is better: losses 3, 2, 2.5, 2.2 → best at step 2, patience 2 stops at step 4', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const r = await trainLoop(
      model,
      { train: split(20), test: split(4) },
      options(dir, {
        epochs: 2,
        evalEvery: 1,
        evaluate: scripted([1, 1, 1, 1, 1], [3, 2, 2.5, 2.2, 1]),
        metricForBestModel: 'eval_loss',
        earlyStopping: { patience: 2 },
      }),
    );
    assert.equal(r.globalStep, 4);
    assert.equal(r.bestMetric, 2);
    assert.equal(r.bestCheckpoint, join(dir, 'checkpoint-2'));
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('--max-steps 7 overrides --epochs: 5 steps in epoch 1, 2 in epoch 2, the schedule decays over 7 steps', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    const steps: { step: number; learningRate: number }[] = [];
    const r = await trainLoop(
      model,
      { train: split(20), test: split(0) },
      options(dir, {
        epochs: 9,
        maxSteps: 7,
        onEvent: (e) => e.type === 'step' && steps.push({ step: e.step, learningRate: e.learningRate }),
      }),
    );
    assert.equal(r.globalStep, 7);
    assert.deepEqual(
      steps.map((s) => s.step),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.ok(
      Math.abs((steps[6] as { learningRate: number }).learningRate - 0.1 / 7) < 1e-12,
      'the last step runs at lr·1/7',
    );
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('checkpoint-')).sort(), [
      'checkpoint-5',
      'checkpoint-7',
    ]);
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('a stop request finishes the step, saves checkpoint-STEP and returns interrupted; --resume continues to the same weights', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const straightDir = join(dir, 'straight');
  const model = standInModel();
  const evaluate = scripted([50, 60], [1, 0.5]); // by call: the straight run's; each run below gets its own
  try {
    const data = { train: split(20), test: split(4) };
    await trainLoop(model, data, options(straightDir, { epochs: 2, evaluate }));
    const expected = await readFile(join(straightDir, 'model.safetensors'));

    const stopped = standInModel();
    const stop = new AbortController();
    const out = join(dir, 'stopped');
    const r = await trainLoop(
      stopped,
      data,
      options(out, {
        epochs: 2,
        stopSignal: stop.signal,
        evaluate: scripted([50]),
        onEvent: (e) => e.type === 'step' && e.step === 7 && stop.abort(),
      }),
    );
    stopped.dispose();
    assert.deepEqual(r.interrupted, { checkpoint: join(out, 'checkpoint-7') });
    assert.equal(r.globalStep, 7);
    assert.ok(!existsSync(join(out, 'model.safetensors')), 'no final model: the run is not finished');

    const resumed = standInModel();
    const events: TrainEvent[] = [];
    await trainLoop(
      resumed,
      data,
      options(out, { epochs: 2, resume: true, evaluate: scripted([60], [0.5]), onEvent: (e) => events.push(e) }),
    );
    resumed.dispose();
    assert.ok(
      events.some((e) => e.type === 'epoch-start' && e.epoch === 2 && e.skipped === 2),
      'resumes mid-epoch 2, after its first 2 batches',
    );
    assert.deepEqual(await readFile(join(out, 'model.safetensors')), expected);
    assert.equal(
      await readFile(join(out, 'metrics.jsonl'), 'utf8'),
      await readFile(join(straightDir, 'metrics.jsonl'), 'utf8'),
    );
  } finally {
    model.dispose();
    await cleanup();
  }
});

test('--metric-for-best-model HasAns_f1 on an evaluation without SQuAD 2.0 figures → BAD_ARGUMENT naming the metrics there are', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = await makeTempDir();
  const model = standInModel();
  try {
    await assert.rejects(
      trainLoop(
        model,
        { train: split(8), test: split(4) },
        options(dir, { epochs: 1, metricForBestModel: 'HasAns_f1' }),
      ),
      (e) => {
        assert.ok(isQaFtError(e) && e.code === 'BAD_ARGUMENT');
        assert.equal(
          e.message,
          "metricForBestModel eval_HasAns_f1 is not among this evaluation's metrics (eval_loss, eval_exact_match, eval_f1)",
        );
        return true;
      },
    );
  } finally {
    model.dispose();
    await cleanup();
  }
});
