import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeBatches } from '../../src/tokenize/batches.js';
import type { Feature } from '../../src/records.js';

/** Feature i has length len(i), ids 1000+i…, labels (i, i+1). */
const features = (lengths: number[]): Feature[] =>
  lengths.map((n, i) => ({
    exampleId: `ex${i}`,
    inputIds: Array.from({ length: n }, () => 1000 + i),
    offsets: Array.from({ length: n }, () => null),
    startPosition: i,
    endPosition: i + 1,
  }));

test('no shuffle keeps feature order and pads each batch to its longest member with mask 0', () => {
  const b = makeBatches(features([3, 5, 2]), { batchSize: 2, shuffle: false, padTokenId: 0 });
  assert.deepEqual(
    b.map((x) => x.featureIndices),
    [[0, 1], [2]],
  );
  assert.deepEqual(b[0]?.batch.inputIds, [
    [1000, 1000, 1000, 0, 0],
    [1001, 1001, 1001, 1001, 1001],
  ]);
  assert.deepEqual(b[0]?.batch.attentionMask, [
    [1, 1, 1, 0, 0],
    [1, 1, 1, 1, 1],
  ]);
  assert.deepEqual(b[0]?.batch.startPositions, [0, 1]);
  assert.deepEqual(b[0]?.batch.endPositions, [1, 2]);
  assert.deepEqual(b[1]?.batch.inputIds, [[1002, 1002]]); // the last, partial batch is kept
});

test('padToMaxLength pads every batch to maxLength with the pad id', () => {
  const b = makeBatches(features([3, 2]), {
    batchSize: 2,
    shuffle: false,
    padTokenId: 7,
    padToMaxLength: true,
    maxLength: 6,
  });
  assert.deepEqual(b[0]?.batch.inputIds[1], [1001, 1001, 7, 7, 7, 7]);
  assert.deepEqual(b[0]?.batch.attentionMask[1], [1, 1, 0, 0, 0, 0]);
});

test('withLabels false leaves the positions out; dropLast drops the partial batch', () => {
  const b = makeBatches(features([3, 2, 4]), {
    batchSize: 2,
    shuffle: false,
    padTokenId: 0,
    withLabels: false,
    dropLast: true,
  });
  assert.equal(b.length, 1);
  assert.equal(b[0]?.batch.startPositions, undefined);
});

test("shuffle is NumPy's default_rng([seed, epoch]).permutation: same (seed, epoch) same order, new epoch new order", () => {
  const f = features(Array.from({ length: 10 }, () => 4));
  const order = (epoch: number): number[] =>
    makeBatches(f, { batchSize: 3, shuffle: true, seed: 7, epoch, padTokenId: 0 }).flatMap((b) => b.featureIndices);
  // np.random.default_rng([7, 0]).permutation(10) and ([7, 1])
  assert.deepEqual(order(0), [8, 0, 7, 1, 3, 6, 2, 4, 5, 9]);
  assert.deepEqual(order(1), [9, 0, 8, 6, 7, 1, 3, 4, 2, 5]);
  assert.deepEqual(order(0), order(0));
});

test('groupByLength: mega-batches of the permutation sorted longest first, the longest feature swapped to the front', () => {
  // 16 features, batch 2 → mega-batch multiplier min(16 // 8, 50) = 2 → mega-batches of 4.
  // default_rng([3, 0]).permutation(16) = 11 15 9 1 | 12 2 14 10 | 0 4 7 6 | 13 5 3 8
  // lengths 10+i except feature 0 (100): sorted = 15 11 9 1 | 14 12 10 2 | 0 7 6 4 | 13 8 5 3;
  // the longest (0) sits first in mega-batch 2, so it trades places with 15.
  const lengths = Array.from({ length: 16 }, (_, i) => (i === 0 ? 100 : 10 + i));
  const b = makeBatches(features(lengths), {
    batchSize: 2,
    shuffle: true,
    seed: 3,
    epoch: 0,
    groupByLength: true,
    padTokenId: 0,
  });
  assert.deepEqual(
    b.map((x) => x.featureIndices),
    [
      [0, 11],
      [9, 1],
      [14, 12],
      [10, 2],
      [15, 7],
      [6, 4],
      [13, 8],
      [5, 3],
    ],
  );
  assert.equal(b[0]?.batch.inputIds[0]?.length, 100); // dynamic padding to the longest member
  assert.equal(b[1]?.batch.inputIds[0]?.length, 19);
});

test('a feature longer than maxLength and a bad batch size are rejected', () => {
  assert.throws(() => makeBatches(features([5]), { batchSize: 1, shuffle: false, padTokenId: 0, maxLength: 4 }), {
    code: 'BAD_DATA',
  });
  assert.throws(() => makeBatches(features([5]), { batchSize: 0, shuffle: false, padTokenId: 0 }), {
    code: 'BAD_ARGUMENT',
  });
});

test('token type ids are padded with 0, only when the model takes them and the features carry them', () => {
  const typed = features([3, 5]).map((f, i) => ({ ...f, tokenTypeIds: i === 0 ? [0, 1, 1] : [0, 0, 1, 1, 1] }));
  const b = makeBatches(typed, { batchSize: 2, shuffle: false, padTokenId: 0, tokenTypeIds: true });
  assert.deepEqual(b[0]?.batch.tokenTypeIds, [
    [0, 1, 1, 0, 0],
    [0, 0, 1, 1, 1],
  ]);
  // DistilBERT (the model takes none), RoBERTa-style features (none to give): the batch has no tokenTypeIds
  assert.equal(
    'tokenTypeIds' in (makeBatches(typed, { batchSize: 2, shuffle: false, padTokenId: 0 })[0]?.batch ?? {}),
    false,
  );
  assert.equal(
    'tokenTypeIds' in
      (makeBatches(features([3]), { batchSize: 2, shuffle: false, padTokenId: 0, tokenTypeIds: true })[0]?.batch ?? {}),
    false,
  );
});
