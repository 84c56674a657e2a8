/**
 * The families beside DistilBERT (BERT, RoBERTa, ELECTRA, ALBERT, DeBERTa-v2): chosen by config.json's model_type,
 * saved and loaded by Hugging Face names, base checkpoints with other heads, token type ids, random init and
 * dropout. Their numbers against PyTorch are parity.test.ts's.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../../src/errors.js';
import { parseModelConfig } from '../../src/model/config.js';
import { bucketPosition } from '../../src/model/deberta-v2.js';
import { createRandomQaModel, loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../src/model/safetensors.js';
import type { QaModel } from '../../src/model/types.js';
import type { QaBatch } from '../../src/records.js';
import { makeTempDir } from '../helpers/cli.js';
import { loadFixture, type Fixture } from './tiny-fixture.js';

const FAMILIES = ['bert', 'roberta', 'electra', 'albert'] as const;

function bits(data: Float32Array | ArrayLike<number>): Uint32Array {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  return new Uint32Array(f.buffer, f.byteOffset, f.length);
}

async function configOf(fx: Fixture): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(fx.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

async function withModel<T>(model: QaModel, fn: (m: QaModel) => Promise<T>): Promise<T> {
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

describe('model families', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let n = 0;
  /** A new model directory holding `config` and `tensors`. */
  const modelDir = async (config: Record<string, unknown>, tensors: Map<string, HostTensor>): Promise<string> => {
    const dir = join(tmp, `m${n++}`);
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    return dir;
  };
  before(async () => ({ dir: tmp, cleanup } = await makeTempDir()));
  after(async () => cleanup());

  for (const family of [...FAMILIES, 'deberta-v2']) {
    test(`${family}: save → load is bit-exact under the checkpoint's HF names, and config.json is written back whole`, async () => {
      const fx = loadFixture(family);
      const out = join(tmp, `saved-${family}`);
      await withModel(await loadQaModel(fx.dir, { backend: 'cpu' }), (m) => m.save(out));
      const reference = await readSafetensors(join(fx.dir, 'model.safetensors'));
      const saved = await readSafetensors(join(out, 'model.safetensors'));
      assert.deepEqual([...saved.keys()].sort(), [...reference.keys()].sort());
      for (const [name, t] of reference) {
        assert.deepEqual(saved.get(name)?.shape, t.shape, name);
        assert.deepEqual(bits(saved.get(name)!.data), bits(t.data), name);
      }
      assert.deepEqual(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')), await configOf(fx));
      const [a, b] = [await loadQaModel(fx.dir, { backend: 'cpu' }), await loadQaModel(out, { backend: 'cpu' })];
      try {
        assert.deepEqual((await b.forward(fx.batch(1))).endLogits, (await a.forward(fx.batch(1))).endLogits);
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }

  test('a bare BertModel (no bert. prefix, a pooler, no qa_outputs) loads its encoder; pooler ignored and QA head new, each with a notice', async () => {
    const fx = loadFixture('bert');
    const reference = await readSafetensors(join(fx.dir, 'model.safetensors'));
    const base = new Map(
      [...reference].filter(([k]) => !k.startsWith('qa_outputs.')).map(([k, v]) => [k.replace(/^bert\./, ''), v]),
    );
    base.set('pooler.dense.weight', { shape: [32, 32], data: new Float32Array(32 * 32).fill(0.5) });
    base.set('pooler.dense.bias', { shape: [32], data: new Float32Array(32) });
    const dir = await modelDir({ ...(await configOf(fx)), architectures: ['BertModel'] }, base);
    const notices: string[] = [];
    await withModel(await loadQaModel(dir, { backend: 'cpu', onNotice: (m) => notices.push(m) }), async (m) => {
      assert.equal(notices.length, 2, notices.join('\n'));
      assert.match(
        notices[0] ?? '',
        /2 tensors not used by the QA model: pooler\.dense\.(bias|weight), pooler\.dense\.(bias|weight)$/,
      );
      assert.match(notices[1] ?? '', /newly initialised .*qa_outputs\.weight, qa_outputs\.bias/);
      const name = 'bert.encoder.layer.1.output.dense.weight';
      assert.deepEqual(bits(m.params.get(name)!.dataSync()), bits(reference.get(name)!.data));
      assert.ok(Number.isFinite((await m.forward(fx.batch(0))).loss));
    });
  });

  const heads: [string, string[]][] = [
    ['electra', ['discriminator_predictions.dense.weight', 'discriminator_predictions.dense_prediction.bias']], // ElectraForPreTraining
    ['roberta', ['lm_head.dense.weight', 'lm_head.layer_norm.bias', 'lm_head.bias']], // RobertaForMaskedLM
    ['albert', ['predictions.dense.weight', 'sop_classifier.classifier.bias', 'albert.pooler.weight']], // AlbertForPreTraining
  ];
  for (const [family, extra] of heads) {
    test(`a ${family} pre-training checkpoint: its heads (${extra[0]}, …) are ignored with a notice`, async () => {
      const fx = loadFixture(family);
      const tensors = await readSafetensors(join(fx.dir, 'model.safetensors'));
      for (const name of extra) tensors.set(name, { shape: [2], data: new Float32Array([1, 2]) });
      tensors.delete('qa_outputs.weight');
      tensors.delete('qa_outputs.bias');
      const notices: string[] = [];
      await withModel(
        await loadQaModel(await modelDir(await configOf(fx), tensors), {
          backend: 'cpu',
          onNotice: (m) => notices.push(m),
        }),
        async () => {
          assert.match(notices[0] ?? '', new RegExp(`${extra.length} tensors not used by the QA model: `));
          for (const name of extra) assert.ok(notices[0]?.includes(name), `${name} in ${notices[0]}`);
          assert.match(notices[1] ?? '', /newly initialised/);
        },
      );
    });
  }

  test('an unknown head tensor is still an error (unexpected, listed)', async () => {
    const fx = loadFixture('bert');
    const tensors = await readSafetensors(join(fx.dir, 'model.safetensors'));
    tensors.set('bert.encoder.layer.0.adapter.weight', { shape: [2], data: new Float32Array(2) });
    await assert.rejects(
      loadQaModel(await modelDir(await configOf(fx), tensors), { backend: 'cpu' }),
      (e: unknown) =>
        e instanceof QaFtError &&
        e.code === 'BAD_WEIGHTS' &&
        /unexpected bert\.encoder\.layer\.0\.adapter\.weight/.test(e.message),
    );
  });

  test("legacy LayerNorm names (gamma/beta, as in bert-base-uncased's checkpoint) load as weight/bias", async () => {
    const fx = loadFixture('bert');
    const reference = await readSafetensors(join(fx.dir, 'model.safetensors'));
    const legacy = new Map(
      [...reference].map(([k, v]) => [
        k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
        v,
      ]),
    );
    assert.ok(legacy.has('bert.embeddings.LayerNorm.gamma'));
    const notices: string[] = [];
    await withModel(
      await loadQaModel(await modelDir(await configOf(fx), legacy), {
        backend: 'cpu',
        onNotice: (m) => notices.push(m),
      }),
      async (m) => {
        assert.deepEqual(notices, []);
        const name = 'bert.encoder.layer.0.output.LayerNorm.bias';
        assert.deepEqual(bits(m.params.get(name)!.dataSync()), bits(reference.get(name)!.data));
      },
    );
  });

  test("an unknown model_type → one line naming config.json's model_type and the supported ones", async () => {
    const dir = await modelDir({ model_type: 'gpt2', n_embd: 32 }, new Map());
    await assert.rejects(loadQaModel(dir, { backend: 'cpu' }), (e: unknown) => {
      assert.ok(e instanceof QaFtError && e.code === 'BAD_CONFIG', String(e));
      assert.ok(!e.message.includes('\n'));
      assert.match(
        e.message,
        /config\.json: model_type is "gpt2", expected one of distilbert, bert, roberta, xlm-roberta, camembert, electra, albert, deberta-v2/,
      );
      return true;
    });
  });

  test('BERT-style config errors name the field: hidden_act, heads, ALBERT groups', () => {
    const bert = {
      model_type: 'bert',
      hidden_size: 32,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      intermediate_size: 64,
      vocab_size: 120,
    };
    const rejects = (json: Record<string, unknown>, pattern: RegExp): void =>
      assert.throws(
        () => parseModelConfig(json, 'c.json'),
        (e: unknown) => e instanceof QaFtError && e.code === 'BAD_CONFIG' && pattern.test(e.message),
      );
    rejects({ ...bert, hidden_act: 'silu' }, /c\.json: hidden_act is "silu", expected "gelu" or "gelu_new" or "relu"/);
    rejects({ ...bert, num_attention_heads: 5 }, /num_attention_heads \(5\) does not divide hidden_size \(32\)/);
    rejects(
      { ...bert, model_type: 'albert', num_hidden_groups: 3 },
      /num_hidden_groups \(3\) does not divide num_hidden_layers \(2\)/,
    );
    rejects({ ...bert, layer_norm_eps: 0 }, /layer_norm_eps is 0, expected a positive number/);
    rejects({ ...bert, position_embedding_type: 'relative_key' }, /position_embedding_type is "relative_key"/);
    const roberta = parseModelConfig({ ...bert, model_type: 'xlm-roberta', max_position_embeddings: 514 }, 'c.json');
    assert.equal(roberta.maxPositionEmbeddings, 512, 'RoBERTa positions start after padding_idx 1');
  });

  test('token type ids: used by BERT (absent = zeros), refused by DistilBERT, checked against type_vocab_size', async () => {
    const fx = loadFixture('bert');
    await withModel(await loadQaModel(fx.dir, { backend: 'cpu' }), async (m) => {
      const typed = fx.batch(0);
      const types = typed.tokenTypeIds;
      assert.ok(types !== undefined);
      assert.ok(types.flat().includes(1));
      const { tokenTypeIds: _, ...untyped } = typed;
      const zeros: QaBatch = { ...untyped, tokenTypeIds: types.map((r) => r.map(() => 0)) };
      assert.deepEqual((await m.forward(untyped)).startLogits, (await m.forward(zeros)).startLogits);
      assert.notDeepEqual((await m.forward(untyped)).startLogits, (await m.forward(typed)).startLogits);
      await assert.rejects(
        m.forward({ ...untyped, tokenTypeIds: types.map((r) => r.map(() => 2)) }),
        /row 0 has token type id 2, outside \[0, 2\) \(type_vocab_size\)/,
      );
      await assert.rejects(m.forward({ ...untyped, tokenTypeIds: [[0]] }), /tokenTypeIds has 1 rows, inputIds 4/);
    });
    const distil = loadFixture('distilbert');
    await withModel(await loadQaModel(distil.dir, { backend: 'cpu' }), async (m) => {
      const b = distil.batch(0);
      await assert.rejects(
        m.forward({ ...b, tokenTypeIds: b.inputIds.map((r) => r.map(() => 0)) }),
        (e: unknown) =>
          e instanceof QaFtError &&
          e.code === 'BAD_ARGUMENT' &&
          /tokenTypeIds given, but distilbert models have no token type embeddings/.test(e.message),
      );
    });
    const roberta = loadFixture('roberta');
    await withModel(await loadQaModel(roberta.dir, { backend: 'cpu' }), async (m) => {
      const b = roberta.batch(0);
      await assert.rejects(
        m.forward({ ...b, tokenTypeIds: b.inputIds.map((r) => r.map(() => 1)) }),
        /token type id 1, outside \[0, 1\)/,
      );
    });
  });

  test('--init random: every HF name of the family with its shape; padding rows 0 (RoBERTa: word and position tables)', async () => {
    for (const family of FAMILIES) {
      const fx = loadFixture(family);
      const config = parseModelConfig(await configOf(fx), 'config.json');
      const reference = await readSafetensors(join(fx.dir, 'model.safetensors'));
      await withModel(await createRandomQaModel(config, { backend: 'cpu', seed: 5 }), async (m) => {
        assert.deepEqual([...m.params.keys()].sort(), [...reference.keys()].sort(), family);
        for (const [name, p] of m.params) assert.deepEqual(p.shape, reference.get(name)?.shape, name);
        const word = m.params.get(`${family}.embeddings.word_embeddings.weight`)!;
        const width = word.shape[1] ?? 0;
        const pad = config.padTokenId;
        assert.ok(
          word
            .dataSync()
            .subarray(pad * width, (pad + 1) * width)
            .every((v) => v === 0),
          `${family} padding row`,
        );
        assert.ok(
          word
            .dataSync()
            .subarray((pad + 1) * width)
            .some((v) => v !== 0),
        );
        const pos = m.params.get(`${family}.embeddings.position_embeddings.weight`)!.dataSync();
        assert.equal(
          pos.subarray(pad * width, (pad + 1) * width).every((v) => v === 0),
          family === 'roberta',
          `${family} position row ${pad}`,
        );
      });
    }
  });

  test('ALBERT shares one layer group across its layers: 2 layers, one set of layer weights', async () => {
    const fx = loadFixture('albert');
    await withModel(await loadQaModel(fx.dir, { backend: 'cpu' }), async (m) => {
      assert.equal(m.config.nLayers, 2);
      assert.deepEqual(
        [...m.params.keys()].filter((k) => k.endsWith('.ffn.weight')),
        ['albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight'],
      );
    });
  });

  for (const family of ['bert', 'deberta-v2']) {
    test(`${family} hidden and attention dropout: only in training, reproducible from dropoutSeed, no tensor left behind`, async () => {
      const fx = loadFixture(family);
      const config = parseModelConfig(
        { ...(await configOf(fx)), hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 },
        'c.json',
      );
      await withModel(await createRandomQaModel(config, { backend: 'cpu', seed: 1 }), async (m) => {
        const batch = fx.batch(1);
        const loss = (opts: { training: boolean; dropoutSeed?: number }): number => {
          const { loss: l, grads } = m.lossAndGradients(batch, opts);
          const v = l.arraySync();
          tf.dispose([l, ...grads.values()]);
          return v;
        };
        const before = tf.memory().numTensors;
        const evalLoss = (await m.forward(batch)).loss;
        assert.equal(loss({ training: false }), evalLoss);
        const s7 = loss({ training: true, dropoutSeed: 7 });
        assert.equal(loss({ training: true, dropoutSeed: 7 }), s7);
        assert.notEqual(loss({ training: true, dropoutSeed: 8 }), s7);
        assert.notEqual(s7, evalLoss);
        assert.equal(tf.memory().numTensors, before);
      });
    });
  }

  test('DeBERTa-v3 checkpoint: MLM and RTD heads and the unused absolute position table are ignored with a notice', async () => {
    const fx = loadFixture('deberta-v2');
    const tensors = await readSafetensors(join(fx.dir, 'model.safetensors'));
    const extra = [
      'lm_predictions.lm_head.dense.weight',
      'mask_predictions.classifier.bias',
      'deberta.embeddings.position_embeddings.weight',
    ];
    for (const name of extra) tensors.set(name, { shape: [2], data: new Float32Array([1, 2]) });
    const notices: string[] = [];
    await withModel(
      await loadQaModel(await modelDir(await configOf(fx), tensors), {
        backend: 'cpu',
        onNotice: (m) => notices.push(m),
      }),
      async (m) => {
        assert.equal(notices.length, 1, notices.join('\n'));
        for (const name of extra) assert.ok(notices[0]?.includes(name), `${name} in ${notices[0]}`);
        assert.ok(!m.params.has('deberta.embeddings.position_embeddings.weight'));
      },
    );
  });

  test('DeBERTa-v2: type_vocab_size 0 refuses token type ids; --init random builds the checkpoint names with the padding row 0', async () => {
    const fx = loadFixture('deberta-v2');
    const config = parseModelConfig(await configOf(fx), 'config.json');
    const reference = await readSafetensors(join(fx.dir, 'model.safetensors'));
    await withModel(await createRandomQaModel(config, { backend: 'cpu', seed: 5 }), async (m) => {
      assert.deepEqual([...m.params.keys()].sort(), [...reference.keys()].sort());
      assert.ok(
        m.params
          .get('deberta.embeddings.word_embeddings.weight')!
          .dataSync()
          .subarray(0, 32)
          .every((v) => v === 0),
      );
      const b = fx.batch(0);
      await assert.rejects(
        m.forward({ ...b, tokenTypeIds: b.inputIds.map((r) => r.map(() => 0)) }),
        /tokenTypeIds given, but deberta-v2 models have no token type embeddings/,
      );
    });
    const json = await configOf(fx);
    assert.throws(
      () => parseModelConfig({ ...json, conv_kernel_size: 3 }, 'c.json'),
      /conv_kernel_size is 3, expected 0/,
    );
    assert.throws(() => parseModelConfig({ ...json, pos_att_type: 'p2p' }, 'c.json'), /pos_att_type is "p2p"/);
  });

  test("DeBERTa's log-bucketed relative positions equal transformers' make_log_bucket_position (256 buckets, 512 positions)", () => {
    // torch: make_log_bucket_position(torch.arange(-1023, 1024), 256, 512)[1023 + d]; pairs straddle bucket edges
    const torch: [number, number][] = [
      [0, 0],
      [127, 127],
      [128, 128],
      [129, 129],
      [150, 143],
      [151, 144],
      [177, 158],
      [178, 159],
      [209, 173],
      [210, 174],
      [246, 188],
      [247, 189],
      [289, 203],
      [290, 204],
      [341, 218],
      [342, 219],
      [402, 233],
      [403, 234],
      [511, 255],
      [1023, 319],
      [-300, -207],
      [-1023, -319],
    ];
    for (const [d, want] of torch) assert.equal(bucketPosition(d, 256, 512), want, `d = ${d}`);
    assert.equal(bucketPosition(-40, -1, 512), -40, 'no buckets: the distance itself');
  });
});
