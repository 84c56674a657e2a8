import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySplit, parseSplit, splitRange, trainTestSplit } from '../../src/data/split.js';

const rows = Array.from({ length: 1000 }, (_, i) => i);

test("'train[:5000]', 'train[100:200]', 'train[:10%]' and 'train' select what datasets selects", () => {
  assert.deepEqual(splitRange(parseSplit('train[:5000]'), 87599), { from: 0, to: 5000 });
  assert.deepEqual(splitRange(parseSplit('train[100:200]'), 87599), { from: 100, to: 200 });
  assert.deepEqual(splitRange(parseSplit('train[:10%]'), 87599), { from: 0, to: 8760 }); // round(8759.9)
  assert.deepEqual(splitRange(parseSplit('train'), 5000), { from: 0, to: 5000 });
  assert.equal(parseSplit('validation[:5000]').name, 'validation');
  assert.deepEqual(applySplit(rows, parseSplit('train[10:13]')), [10, 11, 12]);
});

test('negative bounds count from the end; bounds past the end are clipped', () => {
  assert.deepEqual(splitRange(parseSplit('train[-10:]'), 1000), { from: 990, to: 1000 });
  assert.deepEqual(splitRange(parseSplit('train[:-10%]'), 1000), { from: 0, to: 900 });
  assert.deepEqual(splitRange(parseSplit('train[:5000]'), 1000), { from: 0, to: 1000 });
});

test('percent bounds round half to even, as Python round() does', () => {
  // 25% of 10 = 2.5 → 2 ; 35% of 10 = 3.5 → 4
  assert.deepEqual(splitRange(parseSplit('train[:25%]'), 10), { from: 0, to: 2 });
  assert.deepEqual(splitRange(parseSplit('train[:35%]'), 10), { from: 0, to: 4 });
  // pct1_dropremainder: k * floor(n / 100)
  assert.deepEqual(splitRange(parseSplit('train[:10%](pct1_dropremainder)'), 1099), { from: 0, to: 100 });
  // one % makes both bounds percentages, as in datasets
  assert.deepEqual(splitRange(parseSplit('train[10%:20]'), 1000), { from: 100, to: 200 });
});

test('malformed splits are rejected with the accepted forms', () => {
  for (const bad of [
    'train[:abc]',
    'train[5000]',
    'train[:10%',
    '[:5]',
    'train[:10%:5]',
    'train[:101%]',
    'train[:5](closest)x',
  ]) {
    assert.throws(() => parseSplit(bad), { code: 'BAD_ARGUMENT', message: /malformed split/ }, bad);
  }
});

test('train_test_split(test_size=0.2, seed=42): test = first ceil(0.2n) of the NumPy permutation, train = the rest', () => {
  const items = Array.from({ length: 5000 }, (_, i) => i);
  const { train, test: held } = trainTestSplit(items, { testSize: 0.2, seed: 42 });
  assert.equal(held.length, 1000);
  assert.equal(train.length, 4000);
  // np.random.default_rng(42).permutation(5000): starts 1535 1183 3378 …, ends … 4802 1672
  assert.deepEqual(held.slice(0, 3), [1535, 1183, 3378]);
  assert.deepEqual(train.slice(-2), [4802, 1672]);
  assert.equal(new Set([...train, ...held]).size, 5000);
  // ceil: 0.25 of 10 rows → 3 test rows
  assert.equal(trainTestSplit(rows.slice(0, 10), { testSize: 0.25, seed: 1 }).test.length, 3);
});

test('test size 0 keeps every row in train in order; sizes outside [0, 1) and empty train are errors', () => {
  assert.deepEqual(trainTestSplit([1, 2, 3], { testSize: 0, seed: 42 }), { train: [1, 2, 3], test: [] });
  for (const t of [1, 1.5, -0.1, Number.NaN]) {
    assert.throws(() => trainTestSplit(rows, { testSize: t, seed: 42 }), {
      code: 'BAD_ARGUMENT',
      message: /^testSize must be in \[0, 1\), got /,
    });
  }
  assert.throws(() => trainTestSplit([1], { testSize: 0.5, seed: 42 }), {
    code: 'BAD_ARGUMENT',
    message: /train split would be empty/,
  });
});
