import assert from 'node:assert/strict';
import { test } from 'node:test';
import { permutation, seedSequenceState } from '../../src/data/rng.js';

// Every expected value below was printed by NumPy 1.24 (`np.random.default_rng(seed).permutation(n)`,
// `np.random.SeedSequence(entropy).generate_state(n)`).

test('SeedSequence state words equal NumPy for an int seed and a list seed', () => {
  assert.deepEqual(
    seedSequenceState(42, 8),
    [3444837047, 2669555309, 2046530742, 3581440988, 1691623607, 2099784219, 1184028159, 862288241],
  );
  assert.deepEqual(seedSequenceState([42, 3], 4), [2541583436, 4223867394, 1203649471, 1034277224]);
});

test('permutation(10, seed 42) and (20, seed 0) equal NumPy', () => {
  assert.deepEqual(permutation(10, 42), [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]);
  assert.deepEqual(permutation(20, 0), [4, 19, 6, 2, 13, 16, 3, 11, 10, 8, 0, 12, 7, 5, 18, 17, 14, 9, 1, 15]);
});

test('permutation(5000, seed 42) — the tutorial split of the 5000-row slice — equals NumPy at both ends', () => {
  const p = permutation(5000, 42);
  assert.deepEqual(p.slice(0, 12), [1535, 1183, 3378, 3825, 643, 90, 2835, 3865, 2220, 2177, 3753, 3552]);
  assert.deepEqual(p.slice(-5), [437, 491, 2189, 4802, 1672]);
});

test('full SQuAD train size (87599, seed 1234), a seed above 2^32 and a list seed equal NumPy', () => {
  const p = permutation(87599, 1234);
  assert.deepEqual(p.slice(0, 8), [2503, 24650, 14317, 87190, 69947, 49988, 44627, 69187]);
  assert.deepEqual(p.slice(-4), [15540, 33271, 65267, 48058]);
  assert.deepEqual(permutation(7, 2 ** 40 + 5), [1, 2, 5, 6, 0, 4, 3]);
  assert.deepEqual(permutation(12, [42, 3]), [9, 3, 7, 11, 5, 4, 2, 8, 1, 10, 0, 6]);
});
