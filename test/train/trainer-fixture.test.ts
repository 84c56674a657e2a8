/**
 * PyTorch parity of a whole training step: the tiny DistilBERT-QA fixture's 4 AdamW steps (HF Trainer order,
 * clipping at 1.0, weight decay 0.01 except biases/LayerNorm, linear decay to 0) — losses, pre-clip grad norms,
 * learning rates and the final weights, within 1e-4 relative.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import { createTrainer } from '../../src/train/trainer.js';
import { testBackends } from '../helpers/backends.js';
import { fixtureDir, readFixtureJson, type FixtureJson } from '../model/tiny-fixture.js';

const FIXTURE = fixtureDir('distilbert');

function assertRelClose(actual: number, expected: number, what: string, rel = 1e-4): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} vs PyTorch ${expected}`);
}

for (const { backend, skip } of await testBackends()) {
  test(`${backend}: 4 AdamW steps on the tiny fixture: losses, grad norms, lrs and final weights = PyTorch within 1e-4`, {
    skip,
  }, async () => {
    const fixture = readFixtureJson(FIXTURE, 'distilbert');
    const model = await loadQaModel(FIXTURE, { backend });
    const h = fixture.train;
    const trainer = createTrainer(model, {
      learningRate: h.lr,
      weightDecay: h.weight_decay,
      maxGradNorm: h.max_grad_norm,
      totalSteps: h.steps,
    });
    // biases and LayerNorm are 1-D here; 2 layers × 6 matrices + 2 embeddings + QA head weight are decayed
    assert.equal(trainer.decaySummary.decayed.tensors, 15);
    assert.equal(trainer.decaySummary.notDecayed.tensors, 2 + 2 * 10 + 1);
    for (const [k, b] of fixture.batches.entries()) {
      const r = await trainer.step({
        inputIds: b.input_ids,
        attentionMask: b.attention_mask,
        startPositions: b.start_positions,
        endPositions: b.end_positions,
      });
      assertRelClose(r.loss, h.losses[k] as number, `loss ${k}`);
      assertRelClose(r.gradNorm, h.grad_norms[k] as number, `grad norm ${k}`);
      assertRelClose(r.learningRate, h.lrs[k] as number, `lr ${k}`, 1e-12);
    }
    const expected = await readSafetensors(join(FIXTURE, 'trained.safetensors'));
    assert.equal(expected.size, model.params.size);
    // Three kinds of tensor have a gradient that is exactly 0 in exact arithmetic: k_lin.bias (softmax ignores a
    // shift shared by all keys), the last output_layer_norm.bias and qa_outputs.bias (they shift every position's
    // logit equally). Their float gradients are rounding noise (< 1e-7), which Adam's m/√v scales up to full ±lr
    // steps, so no two implementations agree on them; compare every other tensor.
    const fixtureGrads = await readSafetensors(join(FIXTURE, 'grads.safetensors'));
    const noiseOnly = [...fixtureGrads]
      .filter(([, g]) => Math.max(...Array.from(g.data, Math.abs)) < 1e-7)
      .map(([n]) => n)
      .sort();
    assert.deepEqual(noiseOnly, [
      'distilbert.transformer.layer.0.attention.k_lin.bias',
      'distilbert.transformer.layer.1.attention.k_lin.bias',
      'distilbert.transformer.layer.1.output_layer_norm.bias',
      'qa_outputs.bias',
    ]);
    let worst = { name: '', rel: 0 };
    for (const [name, p] of model.params) {
      if (noiseOnly.includes(name)) continue;
      const want = expected.get(name);
      assert.ok(want, `trained.safetensors lacks ${name}`);
      const got = await p.data();
      // relative to the tensor's scale, so entries that pass through 0 don't make the ratio meaningless
      const scale = Math.max(...Array.from(want.data, Math.abs));
      got.forEach((x, i) => {
        const rel = Math.abs(x - (want.data[i] as number)) / scale;
        if (rel > worst.rel) worst = { name, rel };
      });
    }
    assert.ok(worst.rel <= 1e-4, `largest difference ${worst.rel.toExponential(2)} in ${worst.name}`);
    trainer.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, 0, 'trainer and model leave no tensor behind');
  });
}

for (const { backend, skip } of await testBackends(['cpu', 'native', 'tensorflow'])) {
  test(`${backend}: tf.memory().numTensors is flat across 50 training steps (after the first creates the AdamW moments)`, {
    skip,
  }, async () => {
    const fixture = readFixtureJson(FIXTURE, 'distilbert');
    const model = await loadQaModel(FIXTURE, { backend });
    const trainer = createTrainer(model, {
      learningRate: 1e-3,
      weightDecay: 0.01,
      maxGradNorm: 1,
      totalSteps: 51,
      gradientAccumulationSteps: 1,
    });
    const batchAt = (k: number) => {
      const b = fixture.batches[k % fixture.batches.length] as FixtureJson['batches'][number];
      return {
        inputIds: b.input_ids,
        attentionMask: b.attention_mask,
        startPositions: b.start_positions,
        endPositions: b.end_positions,
      };
    };
    await trainer.step(batchAt(0));
    const after1 = tf.memory().numTensors;
    assert.equal(after1, 3 * model.params.size, 'weights + m + v, nothing else');
    for (let k = 1; k <= 50; k++) await trainer.step(batchAt(k));
    assert.equal(tf.memory().numTensors, after1);
    trainer.dispose();
    model.dispose();
  });
}
