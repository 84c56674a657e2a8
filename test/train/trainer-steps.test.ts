/**
 * The trainer's step logic on a stand-in model whose gradient is known in closed form:
 * loss = ½·Σ(W − T)², dL/dW = W − T, with the target T read from the batch's first input row.
 * (The PyTorch parity of the real model lives in trainer-fixture.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { isQaFtError } from '../../src/errors.js';
import type { QaModel } from '../../src/model/types.js';
import type { QaBatch } from '../../src/records.js';
import { createTrainer, dropoutSeedFor } from '../../src/train/trainer.js';
import { adamwReference } from '../engine/adamw-reference.js';

function quadraticModel(w0: number[]): QaModel & { seeds: (number | undefined)[] } {
  const params = new Map<string, tf.Variable>([['w.weight', tf.variable(tf.tensor2d(w0, [1, w0.length]))]]);
  const seeds: (number | undefined)[] = [];
  const model = {
    config: {} as QaModel['config'],
    backend: 'cpu',
    params,
    seeds,
    forward: () => Promise.reject(new Error('unused')),
    logits: () => {
      throw new Error('unused');
    },
    lossAndGradients(batch: QaBatch, options: { training: boolean; dropoutSeed?: number }) {
      seeds.push(options.dropoutSeed);
      const w = params.get('w.weight') as tf.Variable;
      const diff = tf.tidy(() => tf.sub(w, tf.tensor2d(batch.inputIds[0] as number[], [1, w0.length]))); // [1, n]
      const loss = tf.tidy(() => tf.mul(tf.sum(tf.square(diff)), 0.5) as tf.Scalar); // []
      return { loss, grads: new Map<string, tf.Tensor>([['w.weight', diff]]) };
    },
    save: () => Promise.resolve(),
    dispose: () => params.forEach((p) => p.dispose()),
  };
  return model;
}

const batchOf = (target: number[]): QaBatch => ({ inputIds: [target], attentionMask: [target.map(() => 1)] });

test('one step: loss and pre-clip norm of the batch, lr of step 0, update = AdamW on the clipped gradient', async () => {
  await tf.setBackend('cpu');
  const model = quadraticModel([0, 0]);
  const trainer = createTrainer(model, { learningRate: 0.1, weightDecay: 0.5, maxGradNorm: 1, totalSteps: 2 });
  const r1 = await trainer.step(batchOf([3, 4])); // grad = (−3, −4), norm 5, loss 12.5
  assert.equal(r1.loss, 12.5);
  assert.equal(r1.gradNorm, 5);
  assert.equal(r1.learningRate, 0.1);
  const r2 = await trainer.step(batchOf([3, 4]));
  assert.equal(r2.learningRate, 0.05);
  let ref = { param: [0, 0], m: [0, 0], v: [0, 0] };
  for (const [k, lr] of [0.1, 0.05].entries()) {
    const w = k === 0 ? [0, 0] : ref.param;
    const g = w.map((x, i) => x - [3, 4][i]!);
    const norm = Math.hypot(...g);
    const coef = Math.min(1, 1 / (norm + 1e-6));
    ref = adamwReference(
      ref,
      g.map((x) => x * coef),
      { lr, weightDecay: 0.5, step: k + 1 },
    );
  }
  const w = await (model.params.get('w.weight') as tf.Variable).data();
  assert.ok(Math.abs(w[0]! - ref.param[0]!) < 1e-6 && Math.abs(w[1]! - ref.param[1]!) < 1e-6, `${w} vs ${ref.param}`);
  trainer.dispose();
  model.dispose();
});

test('NaN loss → TRAINING_DIVERGED naming the step, weights untouched', async () => {
  await tf.setBackend('cpu');
  const model = quadraticModel([1, 1]);
  const trainer = createTrainer(model, { learningRate: 0.1, weightDecay: 0, maxGradNorm: 1, totalSteps: 5 });
  await trainer.step(batchOf([0, 0]));
  const before = Array.from(await (model.params.get('w.weight') as tf.Variable).data());
  await assert.rejects(
    trainer.step(batchOf([NaN, 0])),
    (e) => isQaFtError(e) && e.code === 'TRAINING_DIVERGED' && /step 2\b/.test(e.message),
  );
  assert.deepEqual(Array.from(await (model.params.get('w.weight') as tf.Variable).data()), before);
  trainer.dispose();
  model.dispose();
});

test('accumulating 2 micro-batches = one step on their mean gradient; reported loss is their mean', async () => {
  await tf.setBackend('cpu');
  const a = quadraticModel([0.5, -0.5]);
  const b = quadraticModel([0.5, -0.5]);
  const accumulating = createTrainer(a, {
    learningRate: 0.1,
    weightDecay: 0.01,
    maxGradNorm: 1,
    totalSteps: 1,
    gradientAccumulationSteps: 2,
  });
  const single = createTrainer(b, { learningRate: 0.1, weightDecay: 0.01, maxGradNorm: 1, totalSteps: 1 });
  const first = await accumulating.step(batchOf([1, 1]));
  assert.equal(first.updated, false);
  const second = await accumulating.step(batchOf([3, -1]));
  assert.equal(second.updated, true);
  assert.equal(second.optimizerStep, 1);
  // losses ½(0.25+2.25)=1.25 and ½(6.25+0.25)=3.25 → mean 2.25; mean gradient = gradient at the mean target (2, 0)
  assert.equal(second.loss, 2.25);
  const ref = await single.step(batchOf([2, 0]));
  assert.ok(Math.abs(second.gradNorm - ref.gradNorm) < 1e-6);
  const wa = await (a.params.get('w.weight') as tf.Variable).data();
  const wb = await (b.params.get('w.weight') as tf.Variable).data();
  assert.ok(Math.abs(wa[0]! - wb[0]!) < 1e-6 && Math.abs(wa[1]! - wb[1]!) < 1e-6);
  for (const t of [accumulating, single]) t.dispose();
  a.dispose();
  b.dispose();
});

test('dropout seeds depend only on (seed, micro-step): a restored trainer draws the next seed of the original', async () => {
  await tf.setBackend('cpu');
  const model = quadraticModel([0, 0]);
  const trainer = createTrainer(model, { learningRate: 0.1, weightDecay: 0, maxGradNorm: 1, totalSteps: 4, seed: 7 });
  await trainer.step(batchOf([1, 1]));
  await trainer.step(batchOf([1, 1]));
  const state = await trainer.exportState();
  const other = createTrainer(model, { learningRate: 0.1, weightDecay: 0, maxGradNorm: 1, totalSteps: 4, seed: 7 });
  other.importState(state);
  await other.step(batchOf([1, 1]));
  assert.deepEqual(model.seeds, [dropoutSeedFor(7, 0), dropoutSeedFor(7, 1), dropoutSeedFor(7, 2)]);
  assert.equal(new Set(model.seeds).size, 3);
  assert.equal(other.optimizerStep, 3);
  trainer.dispose();
  other.dispose();
  model.dispose();
});
