import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { expectSame, randomTensor, skipReason } from './compare.js';

const skip = skipReason ?? false;

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

describe('native reductions and softmax against the cpu kernels', { skip }, () => {
  let seed = 500;
  const cases: [number[], number | number[]][] = [
    [[7, 13], -1],
    [[7, 13], 0],
    [
      [3, 5, 7],
      [0, 2],
    ],
    [[3, 5, 7], [1]],
    [
      [3, 5, 7],
      [0, 1, 2],
    ],
    [[2, 1, 9], 1],
    [[4, 0, 3], 2],
    [[4, 0, 3], 0],
    [
      [6, 5, 700],
      [0, 1],
    ], // bias gradient: leading axes, columns in blocks
    [
      [3, 4, 5, 6],
      [1, 2],
    ], // a middle run
    [
      [3, 4, 5, 6],
      [0, 3],
    ], // non-contiguous: transposed first
    [[2, 3], []],
  ];
  const ops: [string, (x: tf.Tensor, axis: number | number[], keep: boolean) => tf.Tensor][] = [
    ['Sum', (x, a, k) => tf.sum(x, a, k)],
    ['Mean', (x, a, k) => tf.mean(x, a, k)],
    ['Max', (x, a, k) => tf.max(x, a, k)],
    ['Min', (x, a, k) => tf.min(x, a, k)],
  ];
  for (const [name, op] of ops) {
    for (const [shape, axis] of cases) {
      for (const keep of [false, true]) {
        test(`${name} of [${shape}] over ${JSON.stringify(axis)}, keepDims=${keep}`, async () => {
          const x = randomTensor(shape, seed++);
          await expectSame(name, () => op(x(), axis, keep));
        });
      }
    }
  }

  for (const shape of [
    [4, 7, 13],
    [5, 1],
    [1, 384],
    [2, 3, 0],
  ]) {
    test(`Softmax over the last axis of [${shape}]`, async () => {
      const x = randomTensor(shape, seed++, -8, 8);
      await expectSame('Softmax', () => tf.softmax(x()));
    });
  }
});

describe('native transpose, gather and scatter-add against the cpu kernels', { skip }, () => {
  let seed = 900;
  for (const perm of permutations(4)) {
    test(`Transpose [3, 1, 5, 4] by [${perm}]`, async () => {
      const x = randomTensor([3, 1, 5, 4], seed++);
      await expectSame('Transpose', () => tf.transpose(x(), perm));
    });
  }

  test('Transpose of a 2-D [67, 45] matrix and of int32 values', async () => {
    const x = randomTensor([67, 45], seed++);
    await expectSame('Transpose', () => tf.transpose(x()));
    await expectSame('Transpose', () => tf.transpose(tf.cast(tf.mul(x(), 100), 'int32'), [1, 0]));
  });

  test('Transpose of an empty tensor', async () => {
    const x = randomTensor([2, 0, 3], seed++);
    await expectSame('Transpose', () => tf.transpose(x(), [2, 0, 1]));
  });

  for (const axis of [0, 1, 2]) {
    test(`GatherV2 along axis ${axis} with repeated indices`, async () => {
      const x = randomTensor([5, 6, 7], seed++);
      const ids = [4, 0, 0, 3, 1, 4];
      await expectSame('GatherV2', () => tf.gather(x(), tf.tensor2d(ids, [2, ids.length / 2], 'int32'), axis));
    });
  }

  test('GatherV2 of int32 rows and with no indices', async () => {
    await expectSame('GatherV2', () =>
      tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0], 'int32')),
    );
    const x = randomTensor([4, 3], seed++);
    await expectSame('GatherV2', () => tf.gather(x(), tf.tensor1d([], 'int32')));
  });

  test('GatherV2 with an out-of-range index throws like the cpu kernel', async () => {
    await tf.setBackend('native');
    assert.throws(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32')), /index value 3 is not in \[0, 2\]/);
  });

  test('UnsortedSegmentSum sums duplicate ids and drops negative ones', async () => {
    const x = randomTensor([6, 2, 3], seed++);
    const ids = () => tf.tensor1d([1, 3, 1, -1, 0, 3], 'int32');
    await expectSame('UnsortedSegmentSum', () => tf.unsortedSegmentSum(x(), ids(), 5));
  });

  test('ScatterNd of rows with duplicate indices sums them (embedding gradient)', async () => {
    const updates = randomTensor([7, 5], seed++);
    const idx = () => tf.tensor2d([2, 0, 2, 9, 4, 2, 0], [7, 1], 'int32');
    await expectSame('ScatterNd', () => tf.scatterND(idx(), updates(), [10, 5]));
  });

  test('UnsortedSegmentSum with [B, T] ids over [B, T, D] rows (the gather gradient form)', async () => {
    const dy = randomTensor([2, 3, 4], seed++);
    const ids = () => tf.tensor2d([1, 5, 1, 10, 0, 5], [2, 3], 'int32');
    await expectSame(
      'UnsortedSegmentSum',
      () => tf.unsortedSegmentSum(dy(), ids() as unknown as tf.Tensor1D, 11), // TF semantics allow ids of any leading shape; TF.js types say 1-D
      () => tf.unsortedSegmentSum(tf.reshape(dy(), [6, 4]), tf.reshape(ids(), [6]), 11),
    );
  });

  test('Slice: the QA head split of the last axis, a middle box, int32 values, size -1 and an empty box', async () => {
    const logits = randomTensor([4, 7, 2], seed++);
    await expectSame('Slice', () => tf.slice(logits(), [0, 0, 1], [4, 7, 1]));
    const x = randomTensor([3, 5, 6, 4], seed++);
    await expectSame('Slice', () => tf.slice(x(), [1, 2, 0, 1], [2, 3, 6, 2]));
    await expectSame('Slice', () => tf.slice(x(), [0, 4], [-1, -1]));
    await expectSame('Slice', () => tf.slice(tf.cast(tf.mul(x(), 100), 'int32'), [2, 0, 3, 0], [1, 5, 3, 4]));
    await expectSame('Slice', () => tf.slice(x(), [1, 1, 1, 1], [0, 2, 2, 2]));
  });

  test('PadV2 with zeros and with a constant, before and after several axes (the Slice gradient)', async () => {
    const x = randomTensor([4, 7, 1], seed++);
    await expectSame('PadV2', () =>
      tf.pad(x(), [
        [0, 0],
        [0, 0],
        [1, 0],
      ]),
    );
    await expectSame('PadV2', () =>
      tf.pad(
        x(),
        [
          [2, 1],
          [0, 3],
          [1, 1],
        ],
        -2.5,
      ),
    );
  });
});
