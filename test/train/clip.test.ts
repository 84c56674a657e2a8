import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { clipCoefficient, globalNorm } from '../../src/train/clip.js';

test('global norm of [3] and [[4, 0]] is 5 and leaves no tensor behind', async () => {
  await tf.setBackend('cpu');
  const a = tf.tensor1d([3]);
  const b = tf.tensor2d([[4, 0]]);
  const before = tf.memory().numTensors;
  assert.equal(await globalNorm([a, b]), 5);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b]);
});

test('norm 5 with max 1 → coefficient 1/(5 + 1e-6), as torch clip_grad_norm_', () => {
  assert.equal(clipCoefficient(5, 1), 1 / (5 + 1e-6));
});

test('norm below the maximum → coefficient exactly 1 (gradients untouched)', () => {
  assert.equal(clipCoefficient(0.5, 1), 1);
});

test('norm exactly at the maximum is still scaled by 1/(1 + 1e-6), as torch does', () => {
  assert.equal(clipCoefficient(1, 1), 1 / (1 + 1e-6));
});
