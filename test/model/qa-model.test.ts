/** QaModel behaviour: random init, dropout, batch validation, memory discipline. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../../src/errors.js';
import { loadConfig, parseDistilBertConfig } from '../../src/model/config.js';
import { createRandomQaModel, loadQaModel } from '../../src/model/qa-model.js';
import { fixtureBatch, tinyDir } from './tiny-fixture.js';

const withDropout = parseDistilBertConfig(
  {
    dim: 32,
    n_layers: 2,
    n_heads: 4,
    hidden_dim: 64,
    vocab_size: 120,
    max_position_embeddings: 64,
    dropout: 0.1,
    attention_dropout: 0.1,
    qa_dropout: 0.1,
  },
  'test',
);

function stats(x: ArrayLike<number> & Iterable<number>): { mean: number; std: number } {
  let s = 0;
  for (const d of x) s += d;
  const mean = s / x.length;
  let v = 0;
  for (const d of x) v += (d - mean) ** 2;
  return { mean, std: Math.sqrt(v / x.length) };
}

describe('QaModel', () => {
  test('--init random: normal(0, 0.02) weights, zero biases, LayerNorm 1/0, padding row 0; same seed, same model', async () => {
    const a = await createRandomQaModel(withDropout, { backend: 'cpu', seed: 3 });
    const b = await createRandomQaModel(withDropout, { backend: 'cpu', seed: 3 });
    const c = await createRandomQaModel(withDropout, { backend: 'cpu', seed: 4 });
    try {
      const word = a.params.get('distilbert.embeddings.word_embeddings.weight')!.dataSync();
      assert.deepEqual([...word.subarray(0, 32)], new Array<number>(32).fill(0), 'padding row 0 is zero');
      const { mean, std } = stats(word.subarray(32));
      assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.001, `mean ${mean}, std ${std}`); // 3808 draws
      const q = stats(a.params.get('distilbert.transformer.layer.1.attention.q_lin.weight')!.dataSync());
      assert.ok(Math.abs(q.std - 0.02) < 0.002, `q_lin std ${q.std}`);
      assert.ok(
        a.params
          .get('distilbert.transformer.layer.0.ffn.lin1.bias')!
          .dataSync()
          .every((v) => v === 0),
      );
      assert.ok(
        a.params
          .get('distilbert.transformer.layer.0.sa_layer_norm.weight')!
          .dataSync()
          .every((v) => v === 1),
      );
      assert.ok(
        a.params
          .get('distilbert.embeddings.LayerNorm.bias')!
          .dataSync()
          .every((v) => v === 0),
      );
      assert.equal(a.params.size, 38);
      const name = 'distilbert.embeddings.position_embeddings.weight';
      assert.deepEqual(a.params.get(name)!.dataSync(), b.params.get(name)!.dataSync());
      assert.notDeepEqual(a.params.get(name)!.dataSync(), c.params.get(name)!.dataSync());
    } finally {
      for (const m of [a, b, c]) m.dispose();
    }
  });

  test('dropout only in training, reproducible from dropoutSeed', async () => {
    const model = await createRandomQaModel(withDropout, { backend: 'cpu', seed: 1 });
    const batch = fixtureBatch(1);
    const loss = (opts: { training: boolean; dropoutSeed?: number }): number => {
      const { loss: l, grads } = model.lossAndGradients(batch, opts);
      const v = l.arraySync();
      tf.dispose([l, ...grads.values()]);
      return v;
    };
    try {
      const evalLoss = (await model.forward(batch)).loss as number;
      assert.equal(loss({ training: false }), evalLoss);
      assert.equal((await model.forward(batch, { training: false })).loss, evalLoss);
      const s7 = loss({ training: true, dropoutSeed: 7 });
      assert.equal(loss({ training: true, dropoutSeed: 7 }), s7);
      assert.notEqual(loss({ training: true, dropoutSeed: 8 }), s7);
      assert.notEqual(s7, evalLoss);
    } finally {
      model.dispose();
    }
  });

  test('logits(batch) returns [B, T] tensors equal to forward()', async () => {
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    try {
      const { startLogits, endLogits } = model.logits(fixtureBatch(2, false));
      assert.deepEqual(startLogits.shape, [4, 24]);
      const out = await model.forward(fixtureBatch(2, false));
      assert.equal(out.loss, undefined);
      assert.deepEqual(await endLogits.array(), out.endLogits);
      tf.dispose([startLogits, endLogits]);
    } finally {
      model.dispose();
    }
  });

  test('a batch whose end positions are all past T gives NaN loss for that half, as PyTorch', async () => {
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    try {
      const b = fixtureBatch(0);
      const out = await model.forward({ ...b, endPositions: [99, 24, 30, 1000] });
      assert.ok(Number.isNaN(out.loss));
      const clampedLow = await model.forward({ ...b, startPositions: [-5, 5, 11, 9] }); // -5 clamps to 0 (the row's own label)
      assert.equal(clampedLow.loss, (await model.forward(b)).loss);
    } finally {
      model.dispose();
    }
  });

  test('bad batches → BAD_ARGUMENT naming the row and value', async () => {
    const config = await loadConfig(tinyDir);
    const model = await createRandomQaModel(config, { backend: 'cpu' });
    const bad = async (batch: Parameters<typeof model.forward>[0], pattern: RegExp): Promise<void> => {
      await assert.rejects(
        model.forward(batch),
        (e: unknown) => e instanceof QaFtError && e.code === 'BAD_ARGUMENT' && pattern.test(e.message),
      );
    };
    try {
      await bad({ inputIds: [[1, 120]], attentionMask: [[1, 1]] }, /row 0 has token id 120, outside \[0, 120\)/);
      await bad({ inputIds: [[1, 2], [1]], attentionMask: [[1, 1], [1]] }, /row 1 of inputIds has 1 tokens/);
      await bad(
        { inputIds: [new Array<number>(65).fill(1)], attentionMask: [new Array<number>(65).fill(1)] },
        /sequence length 65 exceeds max_position_embeddings 64/,
      );
      await bad({ inputIds: [], attentionMask: [] }, /empty/);
      await bad({ inputIds: [[1, 2]], attentionMask: [[1, 1]], startPositions: [0] }, /both/);
    } finally {
      model.dispose();
    }
  });

  test('tf.memory().numTensors is unchanged after 20 forward + backward passes', async () => {
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        const batch = fixtureBatch(i % 4);
        await model.forward(batch);
        const { loss, grads } = model.lossAndGradients(batch, { training: true, dropoutSeed: i });
        tf.dispose([loss, ...grads.values()]);
      }
      assert.equal(tf.memory().numTensors, before);
    } finally {
      model.dispose();
    }
  });

  test('dispose frees every parameter; a disposed model refuses work', async () => {
    const before = tf.memory().numTensors;
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    assert.equal(tf.memory().numTensors, before + 38);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(model.forward(fixtureBatch(0)), /disposed/);
  });
});
