/**
 * Dropout as training runs it (src/model/fused-ops.ts `dropout`): the engine's kernels on `native`, the seeded JS mask
 * elsewhere.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { randomValues, skipReason } from './compare.js';
import { registerNativeBackend } from '../../src/engine/index.js';
import { nativeDropoutForward } from '../../src/engine/ops.js';
import { registerGradients } from '../../src/model/gradients.js';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { dropout } from '../../src/model/fused-ops.js';
import { createRandomQaModel } from '../../src/model/qa-model.js';
import { dropoutMask } from '../../src/model/random.js';
import { at } from '../../src/util/checked-index.js';

registerGradients(); // tfjs-core's Node bundle ships no gradients (Sum, Multiply)

const skip = skipReason ?? false;
const N = 200_003;

describe('dropout on native', { skip }, () => {
  test('zeroes about `rate` of the elements and scales the rest by 1/(1 − rate)', async () => {
    await tf.setBackend('native');
    const xs = randomValues(N, 3, 0.5, 2);
    let y: Float32Array = new Float32Array(0);
    const info = await tf.profile(
      () => void (y = tf.tidy(() => dropout(tf.tensor(xs), 0.1, 42).dataSync() as Float32Array)),
    );
    const kernels = info.kernels.map((k) => k.name);
    assert.equal(kernels.filter((k) => k === 'QaftDropout').length, 1, kernels.join(', ')); // no JS mask multiplied
    assert.ok(!kernels.includes('Multiply'), kernels.join(', '));
    let dropped = 0;
    y.forEach((v, i) => {
      if (v === 0) dropped++;
      else assert.ok(Math.abs(v - at(xs, i) / 0.9) <= 1e-6 * v, `element ${i}: ${v} vs ${at(xs, i) / 0.9}`);
    });
    assert.ok(Math.abs(dropped / N - 0.1) < 0.005, `dropped ${dropped / N}`);
  });

  test('the mask is a function of the seed alone, whatever the thread count', async () => {
    await tf.setBackend('native');
    const x = tf.ones([N]);
    const mask = (seed: number): Float32Array => tf.tidy(() => dropout(x, 0.5, seed).dataSync() as Float32Array);
    await registerNativeBackend({ threads: 1 });
    const one = mask(7);
    await registerNativeBackend({ threads: 2 });
    assert.deepEqual(mask(7), one);
    const other = mask(8);
    assert.ok(
      other.some((v, i) => v !== one[i]),
      'another seed gives another mask',
    );
    x.dispose();
  });

  test('gradient: dy scaled where the element was kept, 0 where dropped; no tensor left behind', async () => {
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const x = tf.tensor(randomValues(1001, 4, 0.5, 2));
    const w = tf.tensor(randomValues(1001, 5));
    const { y, g } = tf.tidy(() => {
      const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(dropout(t, 0.25, 9), w));
      return { y: dropout(x, 0.25, 9).dataSync(), g: tf.grad(f)(x).dataSync() };
    });
    const wv = w.dataSync();
    y.forEach((v, i) => {
      const want = v === 0 ? 0 : at(wv, i) / 0.75;
      assert.ok(Math.abs(at(g, i) - want) <= 1e-6 * Math.max(Math.abs(want), 1), `element ${i}`);
    });
    tf.dispose([x, w]);
    assert.equal(tf.memory().numTensors, before);
  });

  test('dropout in the model runs the native kernel (6 masks for 2 layers) and is reproducible from the step seed', async () => {
    const config = parseDistilBertConfig(
      {
        dim: 32,
        n_layers: 2,
        n_heads: 4,
        hidden_dim: 64,
        vocab_size: 50,
        max_position_embeddings: 32,
        dropout: 0.1,
        attention_dropout: 0.1,
        qa_dropout: 0.1,
      },
      'test',
    );
    const model = await createRandomQaModel(config, { backend: 'native', seed: 2 });
    const batch = {
      inputIds: [
        [1, 5, 9, 13, 17, 2, 0, 0],
        [1, 6, 10, 14, 18, 22, 26, 2],
      ],
      attentionMask: [
        [1, 1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 1],
      ],
      startPositions: [1, 3],
      endPositions: [2, 5],
    };
    const step = (seed: number): { loss: number; grad: Float32Array } => {
      const { loss, grads } = model.lossAndGradients(batch, { training: true, dropoutSeed: seed });
      const out = {
        loss: loss.arraySync(),
        grad: grads.get('distilbert.transformer.layer.0.ffn.lin1.weight')!.dataSync() as Float32Array,
      };
      tf.dispose([loss, ...grads.values()]);
      return out;
    };
    try {
      const info = await tf.profile(() => void step(11));
      const names = info.kernels.map((k) => k.name);
      // embeddings, 2 × FFN output, QA head: 4; the attention weights' (2) inside the fused attention-probability
      // kernels (src/engine/attention-softmax.ts), with the same random stream
      assert.equal(names.filter((n) => n === 'QaftDropout').length, 4);
      assert.equal(names.filter((n) => n === 'QaftMaskedScale').length, 4);
      assert.equal(names.filter((n) => n === 'QaftAttentionProbs').length, 2);
      assert.equal(names.filter((n) => n === 'QaftAttentionProbsGrad').length, 2);
      const a = step(11),
        b = step(11),
        c = step(12);
      assert.equal(a.loss, b.loss);
      assert.deepEqual(a.grad, b.grad);
      assert.notEqual(a.loss, c.loss);
    } finally {
      model.dispose();
    }
  });
});

describe('dropout elsewhere', () => {
  test('on another backend the engine has no dropout kernel (undefined) and the model multiplies by the seeded JS mask', async () => {
    await tf.setBackend('cpu');
    const x = tf.ones([64]);
    assert.equal(nativeDropoutForward(x, 0.1, 1), undefined);
    assert.deepEqual(
      tf.tidy(() => dropout(x, 0.5, 3).dataSync()),
      dropoutMask(64, 0.5, 3),
    );
    x.dispose();
  });
});
