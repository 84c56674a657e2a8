import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { sumOfSquares } from '../../src/engine/ops.js';

const skip = skipReason ?? false;

/** Σx² of `tensors` on the active backend, with the kernels it ran. */
async function run(tensors: tf.Tensor[]): Promise<{ value: number; kernels: string[] }> {
  let value = NaN;
  const info = await tf.profile(() => {
    const s = sumOfSquares(tensors);
    value = s.arraySync();
    s.dispose();
  });
  return { value, kernels: info.kernels.map((k) => k.name) };
}

describe('the sum-of-squares op on native: the threaded kernel', { skip }, () => {
  test('sum of squares: 1² + 2² + … + 100² = 338350', async () => {
    await tf.setBackend('native');
    const t = tf.range(1, 101, 1, 'float32');
    assert.equal((await run([t])).value, 338350);
    t.dispose();
  });

  test('several tensors: one kernel call sums them all (3² + 4² + 12² = 169)', async () => {
    await tf.setBackend('native');
    const a = tf.tensor1d([3]),
      b = tf.tensor2d([
        [4, 0],
        [0, 12],
      ]);
    assert.deepEqual(await run([a, b]), { value: 169, kernels: ['QaftSumOfSquares'] });
    tf.dispose([a, b]);
  });
});

describe('the sum-of-squares op elsewhere: TF.js ops', () => {
  test('on cpu (no QaftSumOfSquares kernel) the same sums, and 0 for no tensors', async () => {
    await tf.setBackend('cpu');
    const t = tf.range(1, 101, 1, 'float32');
    const a = tf.tensor1d([3]),
      b = tf.tensor2d([
        [4, 0],
        [0, 12],
      ]);
    const before = tf.memory().numTensors;
    assert.equal((await run([t])).value, 338350);
    const both = await run([a, b]);
    assert.equal(both.value, 169);
    assert.ok(!both.kernels.includes('QaftSumOfSquares'));
    assert.equal((await run([])).value, 0);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([t, a, b]);
  });
});
