import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AdamW, decaySummary, isDecayed } from '../../src/train/optimizer.js';
import { isQaFtError } from '../../src/errors.js';
import { adamwReference } from '../engine/adamw-reference.js';

const close = (actual: number, expected: number, rel = 1e-6): void =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${actual} vs ${expected}`);

test('reference AdamW, hand-worked: p=1, g=0.5, lr 0.1, wd 0.01 → 0.899; then g=−0.25 → 0.8714673', () => {
  // step 1: p·(1−0.001)=0.999; m=0.05, v=0.00025; m̂=0.5, √v̂=0.5 → moves by lr·1: p = 0.999 − 0.1
  const s1 = adamwReference({ param: [1], m: [0], v: [0] }, [0.5], { lr: 0.1, weightDecay: 0.01, step: 1 });
  close(s1.param[0] ?? NaN, 0.899);
  close(s1.m[0] ?? NaN, 0.05);
  close(s1.v[0] ?? NaN, 0.00025);
  // step 2: p=0.898101; m=0.02, v=0.00031225; 0.1/0.19 · 0.02/(√0.00031225/√0.001999) = 0.026634
  const s2 = adamwReference(s1, [-0.25], { lr: 0.1, weightDecay: 0.01, step: 2 });
  close(s2.param[0] ?? NaN, 0.8714673, 1e-7);
  close(s2.m[0] ?? NaN, 0.02);
  close(s2.v[0] ?? NaN, 0.00031225);
});

test('decay only on ≥2-D weights: not biases, not LayerNorm, not 1-D', () => {
  assert.equal(isDecayed('distilbert.transformer.layer.0.attention.q_lin.weight', [32, 32]), true);
  assert.equal(isDecayed('distilbert.embeddings.word_embeddings.weight', [120, 32]), true);
  assert.equal(isDecayed('distilbert.transformer.layer.0.attention.q_lin.bias', [32]), false);
  assert.equal(isDecayed('distilbert.embeddings.LayerNorm.weight', [32]), false);
  assert.equal(isDecayed('distilbert.transformer.layer.0.sa_layer_norm.weight', [32]), false);
});

test('TF.js AdamW matches the reference over 3 steps, weight decay on the matrix only', async () => {
  await tf.setBackend('cpu');
  const w0 = [0.5, -1.2, 2.0, 0.03];
  const b0 = [0.1, -0.2];
  const params = new Map<string, tf.Variable>([
    ['layer.weight', tf.variable(tf.tensor2d(w0, [2, 2]))],
    ['layer.bias', tf.variable(tf.tensor1d(b0))],
  ]);
  assert.deepEqual(decaySummary(params), {
    decayed: { tensors: 1, parameters: 4 },
    notDecayed: { tensors: 1, parameters: 2 },
  });
  const opt = new AdamW(params, { weightDecay: 0.1 });
  const gradsW = [
    [0.3, -0.1, 0.0, 2.0],
    [-0.2, 0.4, 1.0, -1.0],
    [0.05, 0.05, -3.0, 0.5],
  ];
  const gradsB = [
    [1.0, -0.5],
    [0.25, 0.25],
    [-2.0, 0.0],
  ];
  const scales = [1, 0.5, 1];
  const lrs = [0.01, 0.005, 0.001];
  let refW = { param: w0, m: [0, 0, 0, 0], v: [0, 0, 0, 0] };
  let refB = { param: b0, m: [0, 0], v: [0, 0] };
  for (let k = 0; k < 3; k++) {
    const gW = tf.tensor2d(gradsW[k] as number[], [2, 2]);
    const gB = tf.tensor1d(gradsB[k] as number[]);
    opt.apply(
      new Map<string, tf.Tensor>([
        ['layer.weight', gW],
        ['layer.bias', gB],
      ]),
      { learningRate: lrs[k] as number, gradScale: scales[k] },
    );
    tf.dispose([gW, gB]);
    const scaled = (g: number[]): number[] => g.map((x) => x * (scales[k] as number));
    refW = adamwReference(refW, scaled(gradsW[k] as number[]), { lr: lrs[k] as number, weightDecay: 0.1, step: k + 1 });
    refB = adamwReference(refB, scaled(gradsB[k] as number[]), { lr: lrs[k] as number, weightDecay: 0, step: k + 1 });
  }
  const w = Array.from(await (params.get('layer.weight') as tf.Variable).data());
  const b = Array.from(await (params.get('layer.bias') as tf.Variable).data());
  w.forEach((x, i) => close(x, refW.param[i] as number, 1e-6));
  b.forEach((x, i) => close(x, refB.param[i] as number, 1e-6));
  opt.dispose();
  for (const p of params.values()) p.dispose();
});

test('state export → import by name restores the same next update; tensors stay flat', async () => {
  await tf.setBackend('cpu');
  const make = (): Map<string, tf.Variable> => new Map([['a.weight', tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]))]]);
  const g = new Map([['a.weight', tf.tensor2d([0.1, -0.2, 0.3, -0.4], [2, 2])]]);
  const p1 = make();
  const o1 = new AdamW(p1, { weightDecay: 0.01 });
  o1.apply(g, { learningRate: 0.1 });
  const state = await o1.exportState();
  assert.deepEqual([...state.tensors.keys()], ['a.weight.exp_avg', 'a.weight.exp_avg_sq']);
  const p2 = new Map([['a.weight', tf.variable(p1.get('a.weight') as tf.Variable)]]);
  const o2 = new AdamW(p2, { weightDecay: 0.01 });
  o2.importState(state);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    o1.apply(g, { learningRate: 0.05 });
    o2.apply(g, { learningRate: 0.05 });
  }
  assert.equal(tf.memory().numTensors, before, 'updates leave no tensor behind');
  assert.deepEqual(await (p2.get('a.weight') as tf.Variable).data(), await (p1.get('a.weight') as tf.Variable).data());
  assert.equal(o2.step, 6);
  tf.dispose([...g.values(), ...p1.values(), ...p2.values()]);
  o1.dispose();
  o2.dispose();
});

test('importing state for an unknown parameter or a wrong shape → BAD_WEIGHTS naming the tensor', () => {
  const params = new Map([['a.weight', tf.variable(tf.zeros([2, 2]))]]);
  const opt = new AdamW(params, { weightDecay: 0 });
  const bad = (key: string, shape: number[]) => ({
    step: 1,
    tensors: new Map([[key, { shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)) }]]),
  });
  assert.throws(
    () => opt.importState(bad('b.weight.exp_avg', [2, 2])),
    (e) => isQaFtError(e) && /b\.weight\.exp_avg/.test(e.message),
  );
  assert.throws(
    () => opt.importState(bad('a.weight.exp_avg', [4])),
    (e) => isQaFtError(e) && /\[4\]/.test(e.message),
  );
  opt.dispose();
  tf.dispose([...params.values()]);
});
