/**
 * Every family's …ForQuestionAnswering on TF.js against PyTorch, one table of tiny fixtures, on cpu, wasm, native
 * and tensorflow: logits and loss of batch 0; DistilBERT's every gradient (its fixture has them; its AdamW
 * trajectory is test/train/trainer-fixture.test.ts); the other families' 4 AdamW steps through the trainer (losses,
 * grad norms, and the weights after, except the parameters whose gradient is only rounding noise).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import type { BackendName } from '../../src/model/types.js';
import { createTrainer } from '../../src/train/trainer.js';
import { at } from '../../src/util/checked-index.js';
import { testBackends } from '../helpers/backends.js';
import { FAMILIES, fixture, fixtureBatch, loadFixture, relMaxDiff, tinyDir, type Fixture } from './tiny-fixture.js';

const TOL = 1e-4;

// native and tensorflow are checked where they load (test/helpers/backends.ts); elsewhere skipped with the reason
for (const { backend, skip } of await testBackends()) {
  describe(`parity with PyTorch on ${backend}`, { skip }, () => {
    for (const family of FAMILIES) {
      test(`${family}: start/end logits and loss of batch 0 equal PyTorch within 1e-4 relative`, async (t) => {
        const fx = loadFixture(family);
        const model = await loadQaModel(fx.dir, { backend });
        try {
          assert.equal(model.backend, backend);
          assert.equal(model.config.modelType, family);
          const out = await model.forward(fx.batch(0));
          const ref = fx.json.forward;
          const s = relMaxDiff(out.startLogits.flat(), ref.start_logits.flat());
          const e = relMaxDiff(out.endLogits.flat(), ref.end_logits.flat());
          const lossDiff = Math.abs((out.loss as number) - ref.loss);
          t.diagnostic(
            `${family} on ${backend}: start logits max|diff| ${s.maxDiff.toExponential(2)}, end ${e.maxDiff.toExponential(2)}, loss ${out.loss} vs ${ref.loss} (|diff| ${lossDiff.toExponential(2)})`,
          );
          assert.ok(s.maxDiff / s.maxRef < TOL, `start logits ${s.maxDiff}`);
          assert.ok(e.maxDiff / e.maxRef < TOL, `end logits ${e.maxDiff}`);
          assert.ok(lossDiff / ref.loss < TOL, `loss ${out.loss}`);
        } finally {
          model.dispose();
        }
      });
    }

    for (const family of FAMILIES.filter((f) => f !== 'distilbert')) {
      test(`${family}: 4 AdamW steps give PyTorch's losses, grad norms and weights within 1e-4`, async (t) => {
        await trajectory(loadFixture(family), backend, t);
      });
    }

    test('distilbert: every gradient equals PyTorch within 1e-4 relative; the padding row gets none', async (t) => {
      const model = await loadQaModel(tinyDir, { backend });
      const ref = await readSafetensors(join(tinyDir, 'grads.safetensors'));
      const { loss, grads } = model.lossAndGradients(fixtureBatch(0), { training: false });
      try {
        assert.ok(Math.abs(loss.arraySync() - fixture.forward.loss) < TOL * fixture.forward.loss);
        assert.deepEqual([...grads.keys()].sort(), [...ref.keys()].sort());
        // Gradients that are zero in exact arithmetic (k_lin biases: softmax ignores a per-row shift;
        // qa_outputs.bias and the last LayerNorm bias: Σ softmax − one-hot = 0) hold only float noise in both
        // implementations; they are compared against the scale of the largest gradient instead of their own.
        const globalMax = Math.max(...[...ref.values()].map((r) => relMaxDiff(r.data, r.data).maxRef));
        let worst = { name: '', rel: 0 };
        let worstNonZero = { name: '', rel: 0 };
        for (const [name, r] of ref) {
          const g = grads.get(name) as tf.Tensor;
          assert.deepEqual(g.shape, r.shape, name);
          const { maxDiff, maxRef } = relMaxDiff(g.dataSync(), r.data);
          const rel = maxDiff / Math.max(maxRef, 1e-3 * globalMax);
          if (rel > worst.rel) worst = { name, rel };
          if (maxRef >= 1e-3 * globalMax && rel > worstNonZero.rel) worstNonZero = { name, rel };
          assert.ok(rel < TOL, `${name}: max|diff| ${maxDiff} vs max|ref| ${maxRef}`);
        }
        t.diagnostic(
          `${backend}: ${ref.size} gradients; worst relative difference ${worst.rel.toExponential(2)} (${worst.name}); ` +
            `among gradients not zero in exact arithmetic ${worstNonZero.rel.toExponential(2)} (${worstNonZero.name})`,
        );
        const word = grads.get('distilbert.embeddings.word_embeddings.weight') as tf.Tensor2D;
        const padRow = tf.slice(word, [0, 0], [1, -1]);
        assert.ok(fixtureBatch(0).inputIds.flat().includes(0), 'the batch holds padding tokens');
        assert.deepEqual([...padRow.dataSync()], new Array<number>(32).fill(0));
        padRow.dispose();
      } finally {
        tf.dispose([loss, ...grads.values()]);
        model.dispose();
      }
    });
  });
}

/** A weight may differ from PyTorch's after the run by this fraction of one learning-rate step (see `trajectory`). */
const WEIGHT_TOL_STEPS = 0.05;

/**
 * The fixture's training run through the trainer (clip 1.0, AdamW, weight decay except biases and LayerNorm, linear
 * decay): each step's loss and pre-clip grad norm within 1e-4, then every weight except `noise_params`. Adam
 * divides each element's gradient by its own magnitude, so an element whose gradient is at rounding level (2.5e-8
 * in one RoBERTa LayerNorm bias, its neighbours 1e-3) takes an O(lr) step whose size is rounding noise in any two
 * implementations; the fixture lists whole tensors like that (`noise_params`), and single elements are what the
 * weight tolerance allows: 5% of one step (measured worst: 2.2% on wasm, that RoBERTa element; 0.3% elsewhere).
 * The step-0 gradients themselves agree with PyTorch's within 1e-5 of each tensor's scale (checked by hand with
 * transformers; DistilBERT's test above checks every gradient).
 */
async function trajectory(fx: Fixture, backend: BackendName, t: { diagnostic(m: string): void }): Promise<void> {
  const before = tf.memory().numTensors;
  const model = await loadQaModel(fx.dir, { backend });
  const h = fx.json.train;
  const trainer = createTrainer(model, {
    learningRate: h.lr,
    weightDecay: h.weight_decay,
    maxGradNorm: h.max_grad_norm,
    totalSteps: h.steps,
  });
  try {
    let worstStep = 0;
    for (let k = 0; k < h.steps; k++) {
      const r = await trainer.step(fx.batch(k));
      const loss = at(h.losses, k),
        norm = at(h.grad_norms, k);
      worstStep = Math.max(worstStep, Math.abs(r.loss - loss) / loss, Math.abs(r.gradNorm - norm) / norm);
      assert.ok(Math.abs(r.loss - loss) <= TOL * loss, `loss ${k}: ${r.loss} vs PyTorch ${loss}`);
      assert.ok(Math.abs(r.gradNorm - norm) <= TOL * norm, `grad norm ${k}: ${r.gradNorm} vs PyTorch ${norm}`);
    }
    const expected = await readSafetensors(join(fx.dir, 'trained.safetensors'));
    const noise = new Set(fx.json.noise_params ?? []);
    assert.deepEqual(
      [...model.params.keys()].filter((n) => !expected.has(n)),
      [],
      'every parameter is in trained.safetensors',
    );
    let worst = { name: '', steps: 0, rel: 0 };
    for (const [name, p] of model.params) {
      if (noise.has(name)) continue;
      const want = expected.get(name);
      assert.ok(want !== undefined);
      const { maxDiff, maxRef } = relMaxDiff(await p.data(), want.data);
      if (maxDiff / h.lr > worst.steps) worst = { name, steps: maxDiff / h.lr, rel: maxDiff / maxRef };
    }
    t.diagnostic(
      `${fx.family} on ${backend}: losses and grad norms within ${worstStep.toExponential(2)} relative; weights after ${h.steps} steps within ` +
        `${worst.steps.toExponential(2)} of a step (${worst.name}, ${worst.rel.toExponential(2)} of its scale); ${noise.size} noise-only tensors skipped`,
    );
    assert.ok(
      worst.steps <= WEIGHT_TOL_STEPS,
      `${worst.name} differs by ${worst.steps.toExponential(2)} of a learning-rate step`,
    );
  } finally {
    trainer.dispose();
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'trainer and model leave no tensor behind');
}
