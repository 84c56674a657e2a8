/**
 * DistilBertForQuestionAnswering on TF.js against PyTorch (the tiny fixture): logits, loss and every gradient,
 * on the cpu backend and on wasm.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/model/backend.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import type { BackendName } from '../../src/model/types.js';
import { fixture, fixtureBatch, relMaxDiff, tinyDir } from './tiny-fixture.js';

const TOL = 1e-4;

/** The native engine (src/engine) is checked too where it is built; elsewhere its tests are skipped. */
async function nativeMissing(): Promise<string | false> {
  try {
    await selectBackend('native');
    return false;
  } catch (e) {
    return `native backend unavailable: ${(e as Error).message}`;
  }
}

const nativeSkip = await nativeMissing(); // before any test is registered: selecting a backend is global

for (const backend of ['cpu', 'wasm', 'native'] as const satisfies readonly BackendName[]) {
  describe(`parity with PyTorch on ${backend}`, { skip: backend === 'native' ? nativeSkip : false }, () => {
    test('start/end logits and loss of batch 0 equal PyTorch within 1e-4 relative', async (t) => {
      const model = await loadQaModel(tinyDir, { backend });
      try {
        assert.equal(model.backend, backend);
        const out = await model.forward(fixtureBatch(0));
        const s = relMaxDiff(out.startLogits.flat(), fixture.forward.start_logits.flat());
        const e = relMaxDiff(out.endLogits.flat(), fixture.forward.end_logits.flat());
        const lossDiff = Math.abs((out.loss as number) - fixture.forward.loss);
        t.diagnostic(`${backend}: start logits max|diff| ${s.maxDiff.toExponential(2)}, end ${e.maxDiff.toExponential(2)}, loss ${out.loss} vs ${fixture.forward.loss} (|diff| ${lossDiff.toExponential(2)})`);
        assert.ok(s.maxDiff / s.maxRef < TOL, `start logits ${s.maxDiff}`);
        assert.ok(e.maxDiff / e.maxRef < TOL, `end logits ${e.maxDiff}`);
        assert.ok(lossDiff / fixture.forward.loss < TOL, `loss ${out.loss}`);
      } finally {
        model.dispose();
      }
    });

    test('every gradient equals PyTorch within 1e-4 relative; the padding row gets none', async (t) => {
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
