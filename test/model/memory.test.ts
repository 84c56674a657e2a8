/**
 * Memory of a forward + backward pass: only what backward truly needs may stay alive (see src/model/fused-ops.ts).
 * Peak tensor bytes are read from `tf.profile` (a snapshot of `tf.memory().numBytes` after every kernel).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { createRandomQaModel } from '../../src/model/qa-model.js';
import type { QaBatch } from '../../src/records.js';
import { testBackends } from '../helpers/backends.js';

// Attention-heavy on purpose (T = 96 ≫ D = 32), so that one [B, H, T, T] tensor too many per layer shows.
const config = parseDistilBertConfig(
  {
    dim: 32,
    n_layers: 4,
    n_heads: 4,
    hidden_dim: 64,
    vocab_size: 100,
    max_position_embeddings: 128,
    dropout: 0.1,
    attention_dropout: 0.1,
    qa_dropout: 0.1,
  },
  'test',
);
const B = 4;
const T = 96;

function batch(): QaBatch {
  const inputIds = Array.from({ length: B }, (_, i) =>
    Array.from({ length: T }, (_, j) => (j < T - 8 * i ? 1 + ((i * 31 + j * 7) % 99) : 0)),
  );
  const attentionMask = inputIds.map((row) => row.map((id) => (id === 0 ? 0 : 1)));
  return { inputIds, attentionMask, startPositions: [3, 5, 7, 0], endPositions: [4, 9, 7, 0] };
}

/**
 * The bound, in float32 elements, with N = B·T tokens, S = B·H·T² attention elements, P parameters:
 *  - the gradients being built, P;
 *  - per layer, what backward needs: the attention probabilities, the dropped-out weights and the dropout mask
 *    (a float32 mask off `native`): 3·S; about 14 [N, D] tensors (the layer input, q, k, v heads, the context,
 *    two LayerNorms' normalised values and outputs, the FFN's [N, F] hidden state and GELU output, the FFN
 *    dropout mask); 20·N·D leaves room for the small ones ([N, 1] statistics, masks);
 *  - the transients of one op's backward or forward: 4·S.
 * Recorded kernel by kernel (before the fused ops), a step also held every kernel's output gradient, inputs that
 * Add/Reshape saved for their shapes and the [B, H, T, T] keep/fill masks: 48 MB here, 3.5× this bound (now
 * 12.3 MB on cpu, 9.9 MB on native with its 1-byte masks); inference peaked at 18.8 MB (now 1.7 MB).
 */
function boundBytes(params: number): number {
  const n = B * T;
  const s = B * config.nHeads * T * T;
  return 4 * (params + config.nLayers * (3 * s + 20 * n * config.dim) + 4 * s);
}

for (const { backend, skip } of await testBackends(['cpu', 'native', 'tensorflow'])) {
  describe(`memory of a training forward + backward on ${backend}`, { skip }, () => {
    test('peak tensor bytes stay under what backward needs (derived bound); no tensor left behind', async (t) => {
      const model = await createRandomQaModel(config, { backend, seed: 5 });
      try {
        const params = [...model.params.values()].reduce((n, p) => n + p.size, 0);
        const b = batch();
        const run = (): void => {
          const { loss, grads } = model.lossAndGradients(b, { training: true, dropoutSeed: 3 });
          tf.dispose([loss, ...grads.values()]);
        };
        run(); // warm-up
        const before = tf.memory();
        const info = await tf.profile(run);
        const peak = info.peakBytes - before.numBytes;
        const bound = boundBytes(params);
        t.diagnostic(`${backend}: peak ${(peak / 1e6).toFixed(2)} MB, bound ${(bound / 1e6).toFixed(2)} MB`);
        assert.ok(peak <= bound, `peak ${(peak / 1e6).toFixed(2)} MB above the bound ${(bound / 1e6).toFixed(2)} MB`);
        assert.equal(tf.memory().numTensors, before.numTensors);
      } finally {
        model.dispose();
      }
    });

    test('inference holds about one layer at a time: peak under a quarter of the training bound', async (t) => {
      const model = await createRandomQaModel(config, { backend, seed: 5 });
      try {
        const params = [...model.params.values()].reduce((n, p) => n + p.size, 0);
        const { inputIds, attentionMask } = batch();
        const before = tf.memory();
        const info = await tf.profile(() => {
          const { startLogits, endLogits } = model.logits({ inputIds, attentionMask });
          tf.dispose([startLogits, endLogits]);
        });
        const peak = info.peakBytes - before.numBytes;
        t.diagnostic(`${backend}: inference peak ${(peak / 1e6).toFixed(2)} MB`);
        assert.ok(peak <= boundBytes(params) / 4, `peak ${(peak / 1e6).toFixed(2)} MB`);
        assert.equal(tf.memory().numTensors, before.numTensors);
      } finally {
        model.dispose();
      }
    });
  });
}
