import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { adamwReference } from './adamw-reference.js';
import { adamwUpdate } from '../../src/engine/ops.js';
import { at } from '../../src/util/checked-index.js';

const skip = skipReason ?? false;
const HYPER = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/**
 * Two updates of a [7, 143] parameter (decay, then a clipping scale of 0.5) on `backend`, against the float64
 * reference; returns the kernels each update ran.
 */
async function twoSteps(backend: string): Promise<string[][]> {
  await tf.setBackend(backend);
  const n = 1001;
  const p0 = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
  const grads = [1, 2].map((s) => Array.from({ length: n }, (_, i) => Math.cos(i * s) * 0.01 * s));
  const [param, m, v] = tf.tidy(() => [
    tf.variable(tf.tensor(p0, [7, 143])),
    tf.variable(tf.zeros([7, 143])),
    tf.variable(tf.zeros([7, 143])),
  ]);
  let ref = { param: p0, m: new Array<number>(n).fill(0), v: new Array<number>(n).fill(0) };
  const kernels: string[][] = [];
  for (const [i, g] of grads.entries()) {
    const scale = i === 0 ? 1 : 0.5;
    const grad = tf.tensor(g, [7, 143]);
    const info = await tf.profile(() => adamwUpdate(param, grad, m, v, { ...HYPER, step: i + 1, gradScale: scale }));
    kernels.push(info.kernels.map((k) => k.name));
    grad.dispose();
    ref = adamwReference(
      ref,
      g.map((x) => x * scale),
      { ...HYPER, step: i + 1 },
    );
  }
  for (const [got, want] of [
    [param, ref.param],
    [m, ref.m],
    [v, ref.v],
  ] as const) {
    const data = got.dataSync();
    want.forEach((w, i) => {
      const g = at(data, i);
      assert.ok(Math.abs(g - w) <= 1e-6 * Math.max(Math.abs(w), 1e-3), `${i}: ${g} vs ${w}`);
    });
  }
  tf.dispose([param, m, v]);
  return kernels;
}

describe('the AdamW op on native: the fused kernel', { skip }, () => {
  test('AdamW update in place matches the float64 reference over two steps, decay and clipping scale', async () => {
    const kernels = await twoSteps('native');
    assert.deepEqual(kernels, [['QaftAdamW'], ['QaftAdamW']], 'one kernel call per parameter update, nothing else');
  });

  test('AdamW leaves a tensor that shares the variable storage untouched', async () => {
    await tf.setBackend('native');
    const init = tf.tensor([1, 2, 3]);
    const param = tf.variable(init); // shares init's storage
    const m = tf.variable(tf.zeros([3])),
      v = tf.variable(tf.zeros([3]));
    const grad = tf.tensor([0.1, 0.1, 0.1]);
    adamwUpdate(param, grad, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
    assert.deepEqual(Array.from(init.dataSync()), [1, 2, 3]);
    assert.ok(Math.abs(at(param.dataSync(), 0) - 0.9) < 1e-6); // Adam's first step moves by lr·sign(g)
    tf.dispose([init, param, m, v, grad]);
  });
});

describe('the AdamW op elsewhere: TF.js ops', () => {
  test('on cpu (no QaftAdamW kernel) the same two updates match the reference, leaving no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const kernels = await twoSteps('cpu');
    for (const names of kernels) {
      assert.ok(!names.includes('QaftAdamW'));
      assert.ok(names.includes('Sqrt'), names.join(', '));
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
