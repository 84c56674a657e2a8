import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { expectSame, randomTensor, skipReason } from './compare.js';

const skip = skipReason ?? false;

const UNARY: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
  ['Exp', tf.exp, -5, 5],
  ['Erf', tf.erf, -3, 3],
  ['Tanh', tf.tanh, -4, 4],
  ['Sqrt', tf.sqrt, 0, 9],
  ['Rsqrt', tf.rsqrt, 0.01, 9],
  ['Square', tf.square, -3, 3],
  ['Neg', tf.neg, -3, 3],
  ['Relu', tf.relu, -3, 3],
  ['Sigmoid', tf.sigmoid, -6, 6],
  ['Log', tf.log, 0.01, 9],
  ['Abs', tf.abs, -3, 3],
  ['Reciprocal', tf.reciprocal, 0.1, 9],
  ['Floor', tf.floor, -5, 5],
];

const BINARY: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['Add', tf.add],
  ['Sub', tf.sub],
  ['Multiply', tf.mul],
  ['RealDiv', tf.div],
  ['SquaredDifference', tf.squaredDifference],
  ['Maximum', tf.maximum],
  ['Minimum', tf.minimum],
];

/** Broadcast shape pairs: equal, scalar, bias row, column, middle axes, rank mismatch, size 1 and empty. */
const SHAPES: [number[], number[]][] = [
  [
    [7, 13],
    [7, 13],
  ],
  [[7, 13], []],
  [[], [7, 13]],
  [[3, 7, 13], [13]],
  [
    [3, 7, 13],
    [3, 7, 1],
  ],
  [
    [3, 1, 5, 1],
    [1, 4, 1, 6],
  ],
  [
    [2, 3, 5, 5],
    [2, 1, 1, 5],
  ],
  [[1], [5, 1]],
  [[0, 3], [3]],
  [
    [4, 0],
    [4, 1],
  ],
];

describe('native elementwise kernels against the cpu kernels', { skip }, () => {
  let seed = 100;
  for (const [name, op, lo, hi] of UNARY) {
    for (const shape of [[3, 37, 5], [1], [0, 4], [70000]]) {
      test(`${name} on [${shape}]`, async () => {
        const x = randomTensor(shape, seed++, lo, hi);
        await expectSame(name, () => op(x()));
      });
    }
  }

  for (const [name, op] of BINARY) {
    for (const [sa, sb] of SHAPES) {
      test(`${name} broadcasting [${sa}] with [${sb}]`, async () => {
        const a = randomTensor(sa, seed++, -2, 2);
        const b = randomTensor(sb, seed++, 0.5, 2); // away from 0 so RealDiv stays well conditioned
        await expectSame(name, () => op(a(), b()));
      });
    }
  }

  test('Add over a large tensor split across threads', async () => {
    const a = randomTensor([64, 384, 8], seed++);
    const b = randomTensor([384, 8], seed++);
    await expectSame('Add', () => tf.add(a(), b()));
  });

  test('AddN of four tensors (gradient accumulation)', async () => {
    const xs = [0, 1, 2, 3].map(() => randomTensor([5, 9], seed++));
    await expectSame('AddN', () => tf.addN(xs.map((x) => x())));
  });

  for (const shape of [[2, 3, 5, 7], [1], [0, 3]]) {
    test(`Select picks t where the condition holds, e elsewhere, on [${shape}] (float32 and int32)`, async () => {
      const c = randomTensor(shape, seed++);
      const t = randomTensor(shape, seed++);
      const e = randomTensor(shape, seed++);
      await expectSame('Select', () => tf.where(tf.greater(c(), 0), t(), e()));
      await expectSame('Select', () =>
        tf.where(tf.greater(c(), 0), tf.cast(tf.mul(t(), 50), 'int32'), tf.cast(tf.mul(e(), 50), 'int32')),
      );
    });
  }

  for (const [shape, reps] of [
    [
      [3, 1, 5],
      [2, 4, 1],
    ],
    [
      [1, 1],
      [3, 7],
    ],
    [
      [2, 3],
      [1, 1],
    ],
    [
      [4, 1],
      [1, 0],
    ],
    [[5], [3]],
  ] as const) {
    test(`Tile [${shape}] by [${reps}] (float32, int32, bool)`, async () => {
      const x = randomTensor([...shape], seed++);
      await expectSame('Tile', () => tf.tile(x(), [...reps]));
      await expectSame('Tile', () => tf.tile(tf.cast(tf.mul(x(), 50), 'int32'), [...reps]));
      await expectSame('Tile', () => tf.cast(tf.tile(tf.greater(x(), 0), [...reps]), 'float32'));
    });
  }

  test('broadcastTo of an attention mask [B, 1, 1, T] → [B, H, T, T] runs Tile', async () => {
    const m = randomTensor([2, 1, 1, 9], seed++);
    await expectSame('Tile', () => tf.cast(tf.broadcastTo(tf.greater(m(), 0), [2, 3, 9, 9]), 'float32'));
  });

  test('Fill, ZerosLike and OnesLike of float32, including empty shapes', async () => {
    const x = randomTensor([3, 70001], seed++);
    await expectSame('Fill', () => tf.fill([3, 70001], -3.4028234663852886e38));
    await expectSame('Fill', () => tf.fill([0, 5], 2.5));
    await expectSame('ZerosLike', () => tf.zerosLike(x()));
    await expectSame('OnesLike', () => tf.onesLike(x()));
  });
});
