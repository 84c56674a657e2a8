import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/model/config.js';
import { dropoutMask, normalSample } from '../../src/model/random.js';
import { parameterShapes, seedFor } from '../../src/model/weights.js';
import { sharedDir } from '../helpers/cli.js';
import { join } from 'node:path';

describe('weights', () => {
  test('distilbert-base-uncased has 66,362,880 parameters in 100 tensors, plus qa_outputs (1,538 in 2)', async () => {
    const shapes = parameterShapes(await loadConfig(join(sharedDir, 'models', 'distilbert-base-uncased')));
    assert.equal(shapes.size, 102);
    let total = 0;
    for (const s of shapes.values()) total += s.reduce((a, b) => a * b, 1);
    assert.equal(total, 66_362_880 + 1_538);
    assert.deepEqual(shapes.get('distilbert.transformer.layer.5.ffn.lin1.weight'), [3072, 768]); // torch Linear: [out, in]
  });

  test('normalSample: 100k draws have mean 0, the given std, 68.3% within one std, no lag-1 correlation', () => {
    const n = 100_000;
    const x = normalSample(n, 0.02, 1234);
    let sum = 0;
    let sq = 0;
    let within = 0;
    let lag = 0;
    let prev: number | undefined;
    for (const v of x) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) < 0.02) within++;
      if (prev !== undefined) lag += v * prev;
      prev = v;
    }
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    assert.ok(Math.abs(mean) < 0.0003, `mean ${mean}`); // 5 standard errors (0.02/√n = 6.3e-5)
    assert.ok(Math.abs(std / 0.02 - 1) < 0.01, `std ${std}`);
    assert.ok(Math.abs(within / n - 0.6827) < 0.007, `within 1σ ${within / n}`);
    assert.ok(Math.abs(lag / n / (std * std)) < 0.015, `lag-1 correlation ${lag / n / (std * std)}`);
  });

  test('normalSample is reproducible from its seed, and seeds differ per parameter name', () => {
    assert.deepEqual(normalSample(10, 1, 7), normalSample(10, 1, 7));
    assert.notDeepEqual(normalSample(10, 1, 7), normalSample(10, 1, 8));
    assert.notEqual(seedFor(42, 'qa_outputs.weight'), seedFor(42, 'qa_outputs.bias'));
    assert.notEqual(seedFor(42, 'qa_outputs.weight'), seedFor(43, 'qa_outputs.weight'));
  });

  test('dropoutMask: zeros with probability rate, survivors scaled by 1/(1-rate)', () => {
    const n = 100_000;
    const m = dropoutMask(n, 0.1, 5);
    let zeros = 0;
    for (const v of m) {
      if (v === 0) zeros++;
      else assert.equal(v, Math.fround(1 / 0.9));
    }
    assert.ok(Math.abs(zeros / n - 0.1) < 0.005, `dropped ${zeros / n}`); // 5 standard errors
    assert.deepEqual(dropoutMask(50, 0.5, 9), dropoutMask(50, 0.5, 9));
    assert.notDeepEqual(dropoutMask(50, 0.5, 9), dropoutMask(50, 0.5, 10));
  });
});
