import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { expectSame, randomTensor, skipReason } from './compare.js';

const skip = skipReason ?? false;

/** Outer (batch) shapes of a and b and the broadcast they make. */
const BATCHES: [number[], number[]][] = [
  [[], []],
  [[3], [3]],
  [[3], []],
  [[], [3]],
  [[2, 3], [3]],
  [
    [2, 1],
    [1, 3],
  ],
  [[1], [4]],
];

function broadcastOuter(x: tf.Tensor, outer: number[]): tf.Tensor {
  return tf.broadcastTo(x, [...outer, ...x.shape.slice(-2)]);
}

/** The cpu kernel folds batch indices with a flat modulo, so the reference expands both batch shapes first. */
function outerOf(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, d) => Math.max(a[d - (r - a.length)] ?? 1, b[d - (r - b.length)] ?? 1));
}

describe('native matmul against the cpu kernel', { skip }, () => {
  let seed = 1;
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    for (const [oa, ob] of BATCHES) {
      const [m, k, n] = [7, 13, 5];
      test(`BatchMatMul transposeA=${ta} transposeB=${tb}, batch ${JSON.stringify(oa)} × ${JSON.stringify(ob)}`, async () => {
        const a = randomTensor([...oa, ...(ta ? [k, m] : [m, k])], seed++);
        const b = randomTensor([...ob, ...(tb ? [n, k] : [k, n])], seed++);
        const outer = outerOf(oa, ob);
        await expectSame(
          'BatchMatMul',
          () => tf.matMul(a(), b(), ta, tb),
          () => tf.matMul(broadcastOuter(a(), outer), broadcastOuter(b(), outer), ta, tb),
        );
      });
    }
  }

  for (const [m, k, n] of [
    [1, 1, 1],
    [1, 33, 1],
    [65, 1, 3],
    [0, 4, 5],
    [3, 0, 5],
    [3, 4, 0],
    [129, 67, 31],
  ] as const) {
    test(`BatchMatMul with odd, size-1 and empty dims [${m},${k}]×[${k},${n}]`, async () => {
      const a = randomTensor([2, m, k], seed++);
      const b = randomTensor([2, k, n], seed++);
      await expectSame('BatchMatMul', () => tf.matMul(a(), b()));
    });
  }

  test('an empty batch gives an empty result', async () => {
    const a = randomTensor([0, 3, 4], seed++);
    const b = randomTensor([4, 2], seed++);
    await expectSame(
      'BatchMatMul',
      () => tf.matMul(a(), b()),
      () => tf.zeros([0, 3, 2]),
    );
  });

  test('a [B, T, D] × [D, F] linear layer (folded into one gemm)', async () => {
    const x = randomTensor([3, 17, 24], seed++);
    const w = randomTensor([24, 40], seed++);
    await expectSame('BatchMatMul', () => tf.matMul(x(), w()));
  });

  for (const activation of ['linear', 'relu'] as const) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      test(`_FusedMatMul with bias, activation ${activation}, transposeA=${ta} transposeB=${tb}`, async () => {
        const [m, k, n] = [9, 11, 6];
        const a = randomTensor([2, ...(ta ? [k, m] : [m, k])], seed++);
        const b = randomTensor([2, ...(tb ? [n, k] : [k, n])], seed++);
        const bias = randomTensor([n], seed++);
        await expectSame('_FusedMatMul', () =>
          tf.fused.matMul({ a: a(), b: b(), transposeA: ta, transposeB: tb, bias: bias(), activation }),
        );
      });
    }
  }

  test('_FusedMatMul without bias', async () => {
    const a = randomTensor([5, 8], seed++);
    const b = randomTensor([8, 3], seed++);
    await expectSame('_FusedMatMul', () => tf.fused.matMul({ a: a(), b: b(), activation: 'relu' }));
  });
});
