/** `loadQaModel` and `save` (src/model/qa-model.ts over weights.ts): Hugging Face model directories — names, shapes, base checkpoints, round trips. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../../src/errors.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../src/model/safetensors.js';
import { makeTempDir } from '../helpers/cli.js';
import { at } from '../../src/util/checked-index.js';
import { fixtureBatch, tinyDir } from './tiny-fixture.js';

function bits(t: HostTensor | undefined): Uint32Array {
  assert.ok(t !== undefined);
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
}

/** A model dir with the fixture's config (edited by `patch`) and the given tensors. */
async function modelDir(
  dir: string,
  tensors: Map<string, HostTensor>,
  patch: Record<string, unknown> = {},
): Promise<string> {
  const config = JSON.parse(await readFile(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

async function rejectsWeights(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadQaModel(dir, { backend: 'cpu' }), (e: unknown) => {
    assert.ok(e instanceof QaFtError, String(e));
    assert.equal(e.code, 'BAD_WEIGHTS');
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, pattern);
    return true;
  });
}

describe('model directories', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let reference: Map<string, HostTensor>;
  let n = 0;
  const sub = async (): Promise<string> => {
    const d = join(tmp, `m${n++}`);
    await mkdir(d);
    return d;
  };
  before(async () => {
    ({ dir: tmp, cleanup } = await makeTempDir());
    reference = await readSafetensors(join(tinyDir, 'model.safetensors'));
  });
  after(async () => cleanup());

  test('save → load is bit-exact and the header lists exactly the HF names', async () => {
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    const out = join(tmp, 'saved');
    try {
      await model.save(out);
    } finally {
      model.dispose();
    }
    const saved = await readSafetensors(join(out, 'model.safetensors'));
    assert.deepEqual([...saved.keys()].sort(), [...reference.keys()].sort());
    assert.deepEqual(saved.metadata, { format: 'pt' });
    for (const [name, t] of reference) {
      assert.deepEqual(saved.get(name)?.shape, t.shape, name);
      assert.deepEqual(bits(saved.get(name)), bits(t), name);
    }
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    const original = JSON.parse(await readFile(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config, original);
    // …and the saved directory loads and computes the same logits, bit for bit.
    const a = await loadQaModel(tinyDir, { backend: 'cpu' });
    const b = await loadQaModel(out, { backend: 'cpu' });
    try {
      assert.deepEqual((await b.forward(fixtureBatch(0))).startLogits, (await a.forward(fixtureBatch(0))).startLogits);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('save into a directory keeps its other files and leaves no temporary files', async () => {
    const dir = await sub();
    await writeFile(join(dir, 'optimizer.safetensors'), 'keep me');
    const model = await loadQaModel(tinyDir, { backend: 'cpu' });
    try {
      await model.save(dir);
    } finally {
      model.dispose();
    }
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors']);
    assert.equal(await readFile(join(dir, 'optimizer.safetensors'), 'utf8'), 'keep me');
  });

  test("DistilBERT's config.json as transformers 5.18 saves it is written back whole: dtype, tie_word_embeddings, transformers_version, bos/eos kept, nothing added", async () => {
    // DistilBertForQuestionAnswering(DistilBertConfig(vocab_size=120, dim=32, …)).save_pretrained() in transformers 5.18
    const hf5 = {
      activation: 'gelu',
      architectures: ['DistilBertForQuestionAnswering'],
      attention_dropout: 0.1,
      bos_token_id: null,
      dim: 32,
      dropout: 0.1,
      dtype: 'float32',
      eos_token_id: null,
      hidden_dim: 64,
      initializer_range: 0.02,
      max_position_embeddings: 64,
      model_type: 'distilbert',
      n_heads: 4,
      n_layers: 2,
      pad_token_id: 0,
      qa_dropout: 0.1,
      seq_classif_dropout: 0.2,
      sinusoidal_pos_embds: false,
      tie_word_embeddings: true,
      transformers_version: '5.18.0',
      vocab_size: 120,
    };
    const dir = await modelDir(await sub(), reference, {});
    await writeFile(join(dir, 'config.json'), JSON.stringify(hf5));
    const out = join(tmp, 'saved-hf5');
    const model = await loadQaModel(dir, { backend: 'cpu' });
    try {
      await model.save(out);
    } finally {
      model.dispose();
    }
    assert.deepEqual(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')), hf5);
  });

  test('a DistilBERT config.json without architectures (a base checkpoint) is saved with the QA architecture, its own fields kept', async () => {
    const dir = await modelDir(await sub(), reference, {});
    const bare = {
      model_type: 'distilbert',
      dim: 32,
      n_heads: 4,
      n_layers: 2,
      hidden_dim: 64,
      vocab_size: 120,
      max_position_embeddings: 64,
      dropout: 0,
      custom_field: 'kept',
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(bare));
    const out = join(tmp, 'saved-bare');
    const model = await loadQaModel(dir, { backend: 'cpu' });
    try {
      await model.save(out);
    } finally {
      model.dispose();
    }
    assert.deepEqual(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')), {
      ...bare,
      architectures: ['DistilBertForQuestionAnswering'],
    });
  });

  test('a config.json without model_type is refused in one line (as AutoConfig does), not read as a default DistilBERT', async () => {
    const dir = await modelDir(await sub(), reference, {});
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ dim: 32, n_heads: 4, n_layers: 2, hidden_dim: 64, vocab_size: 120 }),
    );
    await assert.rejects(loadQaModel(dir, { backend: 'cpu' }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /config\.json: has no model_type/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  });

  test('a weight whose shape disagrees with config.json → one-line error with both shapes', async () => {
    const dir = await modelDir(await sub(), reference, { hidden_dim: 48 });
    await rejectsWeights(
      dir,
      /tensor distilbert\.transformer\.layer\.0\.ffn\.lin1\.weight has shape \[64, 32\], but config\.json .* expects \[48, 32\]/,
    );
  });

  test('more layers in config.json than in the checkpoint → missing names listed', async () => {
    const dir = await modelDir(await sub(), reference, { n_layers: 3 });
    await rejectsWeights(dir, /missing distilbert\.transformer\.layer\.2\.attention\.q_lin\.weight, .*\(16 in all\)/);
  });

  test('fewer layers in config.json than in the checkpoint → unexpected names listed', async () => {
    const dir = await modelDir(await sub(), reference, { n_layers: 1 });
    await rejectsWeights(dir, /unexpected distilbert\.transformer\.layer\.1\./);
  });

  test('base checkpoint (MLM head, no qa_outputs) loads with a notice and HF init of qa_outputs', async () => {
    const base = new Map(reference);
    base.delete('qa_outputs.weight');
    base.delete('qa_outputs.bias');
    const f = (shape: number[], v: number): HostTensor => ({
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v),
    });
    base.set('vocab_transform.weight', f([32, 32], 0.5));
    base.set('vocab_transform.bias', f([32], 0.5));
    base.set('vocab_layer_norm.weight', f([32], 1));
    base.set('vocab_layer_norm.bias', f([32], 0));
    base.set('vocab_projector.bias', f([120], 0));
    const dir = await modelDir(await sub(), base);
    const notices: string[] = [];
    const model = await loadQaModel(dir, { backend: 'cpu', onNotice: (m) => notices.push(m) });
    try {
      assert.equal(notices.length, 2, notices.join('\n'));
      assert.match(
        at(notices, 0),
        /5 tensors not used by the QA model: vocab_layer_norm\.bias, .*vocab_transform\.weight/,
      );
      assert.match(at(notices, 1), /newly initialised .*qa_outputs\.weight, qa_outputs\.bias/);
      const w = model.params.get('qa_outputs.weight')!.dataSync() as Float32Array;
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      assert.ok(std > 0.012 && std < 0.028, `std ${std} ≈ 0.02`); // 64 draws of normal(0, 0.02)
      assert.deepEqual([...model.params.get('qa_outputs.bias')!.dataSync()], [0, 0]);
      assert.deepEqual(
        model.params.get('distilbert.embeddings.LayerNorm.weight')!.dataSync(),
        reference.get('distilbert.embeddings.LayerNorm.weight')!.data,
      );
      const out = await model.forward(fixtureBatch(0));
      assert.ok(Number.isFinite(out.loss));
    } finally {
      model.dispose();
    }
  });

  test('keys without the distilbert. prefix (a bare DistilBertModel) load as transformers does', async () => {
    const bare = new Map([...reference].map(([k, v]) => [k.replace(/^distilbert\./, ''), v]));
    const dir = await modelDir(await sub(), bare);
    const model = await loadQaModel(dir, { backend: 'cpu' });
    try {
      assert.deepEqual(
        bits({
          shape: [],
          data: model.params.get('distilbert.transformer.layer.1.ffn.lin2.weight')!.dataSync() as Float32Array,
        }),
        bits(reference.get('distilbert.transformer.layer.1.ffn.lin2.weight')),
      );
    } finally {
      model.dispose();
    }
  });

  test('a damaged model.safetensors → BAD_FORMAT naming the file', async () => {
    const dir = await sub();
    await copyFile(join(tinyDir, 'config.json'), join(dir, 'config.json'));
    const raw = await readFile(join(tinyDir, 'model.safetensors'));
    await writeFile(join(dir, 'model.safetensors'), raw.subarray(0, 5000));
    await assert.rejects(
      loadQaModel(dir, { backend: 'cpu' }),
      (e: unknown) => e instanceof QaFtError && e.code === 'BAD_FORMAT' && e.message.includes('model.safetensors'),
    );
  });

  test('a tensor that fails to read after others loaded → error, and no tensors leak', async () => {
    const dir = await modelDir(await sub(), reference);
    // Retype the last tensor as I32 (same byte size, so the header stays valid): it fails only when read.
    const path = join(dir, 'model.safetensors');
    const raw = await readFile(path);
    const headerEnd = 8 + Number(raw.readBigUInt64LE(0));
    const header = raw.subarray(8, headerEnd).toString('utf8');
    const patched = header.replace('"qa_outputs.weight":{"dtype":"F32"', '"qa_outputs.weight":{"dtype":"I32"');
    assert.notEqual(patched, header);
    await writeFile(path, Buffer.concat([raw.subarray(0, 8), Buffer.from(patched), raw.subarray(headerEnd)]));
    const before = tf.memory().numTensors;
    await assert.rejects(loadQaModel(dir, { backend: 'cpu' }), /qa_outputs\.weight has dtype I32/);
    assert.equal(tf.memory().numTensors, before);
  });
});
