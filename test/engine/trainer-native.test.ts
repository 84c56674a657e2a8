/**
 * The trainer's PyTorch parity on the `native` backend (the train area's fixture test runs on cpu): 4 AdamW steps
 * of the tiny fixture through `createTrainer(...).step`, which on native uses the fused AdamW and Σg² kernels.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import { createTrainer } from '../../src/train/trainer.js';
import { at } from '../../src/util/checked-index.js';
import { fixtureDir, readFixtureJson } from '../model/tiny-fixture.js';

const FIXTURE = fixtureDir('distilbert');

test('native: 4 trainer steps on the tiny fixture give PyTorch losses, grad norms and weights within 1e-4', {
  skip: skipReason ?? false,
}, async () => {
  const fixture = readFixtureJson(FIXTURE, 'distilbert');
  const model = await loadQaModel(FIXTURE, { backend: 'native' });
  assert.equal(model.backend, 'native');
  const t = fixture.train;
  const trainer = createTrainer(model, {
    learningRate: t.lr,
    weightDecay: t.weight_decay,
    maxGradNorm: t.max_grad_norm,
    totalSteps: t.steps,
  });
  for (const [k, b] of fixture.batches.entries()) {
    const r = await trainer.step({
      inputIds: b.input_ids,
      attentionMask: b.attention_mask,
      startPositions: b.start_positions,
      endPositions: b.end_positions,
    });
    const loss = at(t.losses, k),
      gradNorm = at(t.grad_norms, k);
    assert.ok(Math.abs(r.loss - loss) <= 1e-4 * loss, `loss ${k}: ${r.loss} vs ${loss}`);
    assert.ok(Math.abs(r.gradNorm - gradNorm) <= 1e-4 * gradNorm, `grad norm ${k}: ${r.gradNorm} vs ${gradNorm}`);
  }
  const expected = await readSafetensors(join(FIXTURE, 'trained.safetensors'));
  const grads = await readSafetensors(join(FIXTURE, 'grads.safetensors'));
  // Tensors whose exact gradient is 0 hold rounding noise that Adam amplifies to ±lr steps: not comparable.
  const noiseOnly = new Set(
    [...grads].filter(([, g]) => Math.max(...Array.from(g.data, Math.abs)) < 1e-7).map(([n]) => n),
  );
  let worst = { name: '', rel: 0 };
  for (const [name, p] of model.params) {
    if (noiseOnly.has(name)) continue;
    const want = expected.get(name)!;
    const scale = Math.max(...Array.from(want.data, Math.abs));
    (await p.data()).forEach((x, i) => {
      const rel = Math.abs(x - at(want.data, i)) / scale;
      if (rel > worst.rel) worst = { name, rel };
    });
  }
  assert.ok(worst.rel <= 1e-4, `largest difference ${worst.rel.toExponential(2)} in ${worst.name}`);
  trainer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, 0);
});
