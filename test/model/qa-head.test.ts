/** The QA loss rule, worked by hand: the tensor form (training) and the host form (the ONNX engine) give the same numbers. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { lossTargets, lossWeights, qaLoss, qaLossOfRows } from '../../src/model/qa-head.js';

const L3 = Math.log(3);
// T = 2, B = 2. Start: row 0 targets 1 (CE ln 4 − ln 3), row 1's position 5 clamps to T (ignored).
// End: row 0 targets 0 (CE ln 2), row 1's position −1 clamps to 0 (CE ln 4 − ln 3).
const START = [
  [0, L3],
  [0, 0],
];
const END = [
  [0, 0],
  [L3, 0],
];
const STARTS = [1, 5];
const ENDS = [0, -1];
const WANT = (Math.log(4 / 3) + (Math.log(2) + Math.log(4 / 3)) / 2) / 2;

function tensorLoss(start: number[][], end: number[][], starts: number[], ends: number[]): number {
  const targets = lossTargets(starts, ends, 2);
  try {
    return tf.tidy(() => qaLoss(tf.tensor2d(start), tf.tensor2d(end), targets).dataSync()[0] as number);
  } finally {
    tf.dispose([targets.startWeights, targets.endWeights]);
  }
}

before(async () => {
  await tf.setBackend('cpu');
});

test('positions clamp to [0, T], T is ignored, each side is the mean over its kept rows, the loss the mean of the sides', () => {
  assert.deepEqual([...lossWeights(STARTS, 2)], [0, 0.5, 0, 0]);
  assert.deepEqual([...lossWeights(ENDS, 2)], [0.25, 0, 0.25, 0]);
  const tensors = tf.memory().numTensors;
  assert.ok(Math.abs(tensorLoss(START, END, STARTS, ENDS) - WANT) < 1e-6);
  assert.equal(tf.memory().numTensors, tensors);
  assert.ok(Math.abs(qaLossOfRows(START, END, STARTS, ENDS) - WANT) < 1e-12);
});

test('a side with every row ignored makes the loss NaN in both forms, as PyTorch', () => {
  assert.ok(Number.isNaN(tensorLoss(START, END, [2, 7], ENDS)));
  assert.ok(Number.isNaN(qaLossOfRows(START, END, [2, 7], ENDS)));
});
