import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/model/config.js';
import { dropoutMask, normalSample } from '../../src/model/random.js';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SafetensorsFile, writeSafetensors } from '../../src/model/safetensors.js';
import { assignWeights, parameterShapes, seedFor } from '../../src/model/weights.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';
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

describe('assignWeights', () => {
  async function fileWith(
    tensors: Record<string, { shape: number[]; data: number[] }>,
  ): Promise<{ file: SafetensorsFile; cleanup: () => Promise<void> }> {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(
      path,
      new Map(Object.entries(tensors).map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }])),
    );
    const file = await SafetensorsFile.open(path);
    return {
      file,
      cleanup: async () => {
        await file.close();
        await cleanup();
      },
    };
  }

  test('overwrites each parameter with the same-named tensor, and leaks no tensors', async () => {
    await tf.setBackend('cpu');
    const params = new Map([
      ['a.weight', tf.variable(tf.zeros([2, 2]))],
      ['a.bias', tf.variable(tf.zeros([2]))],
    ]);
    const { file, cleanup } = await fileWith({
      'a.weight': { shape: [2, 2], data: [1, 2, 3, 4] },
      'a.bias': { shape: [2], data: [5, 6] },
      extra: { shape: [1], data: [0] },
    });
    try {
      const before = tf.memory().numTensors;
      await assignWeights(params, file);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(await params.get('a.weight')?.array(), [
        [1, 2],
        [3, 4],
      ]);
      assert.deepEqual(await params.get('a.bias')?.array(), [5, 6]);
    } finally {
      tf.dispose([...params.values()]);
      await cleanup();
    }
  });

  test('a missing name or another shape is a one-line error before anything is assigned', async () => {
    await tf.setBackend('cpu');
    const params = new Map([
      ['a.weight', tf.variable(tf.zeros([2, 2]))],
      ['a.bias', tf.variable(tf.zeros([2]))],
    ]);
    const missing = await fileWith({ 'a.weight': { shape: [2, 2], data: [1, 2, 3, 4] } });
    const reshaped = await fileWith({
      'a.weight': { shape: [2, 2], data: [1, 2, 3, 4] },
      'a.bias': { shape: [3], data: [5, 6, 7] },
    });
    try {
      await assert.rejects(assignWeights(params, missing.file), {
        code: 'BAD_WEIGHTS',
        message: /missing 1 parameter\(s\): a\.bias$/,
      });
      await assert.rejects(assignWeights(params, reshaped.file), {
        code: 'BAD_WEIGHTS',
        message: /'a\.bias' has shape \[3\], expected \[2\]$/,
      });
      assert.deepEqual(
        await params.get('a.weight')?.array(),
        [
          [0, 0],
          [0, 0],
        ],
        'nothing assigned',
      );
    } finally {
      tf.dispose([...params.values()]);
      await missing.cleanup();
      await reshaped.cleanup();
    }
  });
});
