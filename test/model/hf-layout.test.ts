import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/model/config.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { parameterShapes } from '../../src/model/weights.js';
import type { QaModel } from '../../src/model/types.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The safetensors header, parsed here independently of src/model: u64 LE length, then JSON. */
async function readHeader(path: string): Promise<{ entries: Map<string, HeaderEntry>; dataBytes: number }> {
  const bytes = await readFile(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  delete json.__metadata__;
  return { entries: new Map(Object.entries(json as Record<string, HeaderEntry>)), dataBytes: bytes.length - 8 - n };
}

function summary(entries: Map<string, HeaderEntry>): string[] {
  return [...entries].map(([name, e]) => `${name} ${e.dtype} [${e.shape.join(',')}]`).sort();
}

let model: QaModel;
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('qa-ft-hf-layout-');
  model = await loadQaModel(tinyDir, { backend: 'cpu' });
});
after(async () => {
  model.dispose();
  await tmp.cleanup();
});

test("model.save writes the PyTorch fixture's tensor names, dtypes and shapes exactly, with offsets that tile the data", async () => {
  const out = join(tmp.dir, 'saved');
  await model.save(out);
  const saved = await readHeader(join(out, 'model.safetensors'));
  const reference = await readHeader(join(tinyDir, 'model.safetensors'));
  assert.deepEqual(summary(saved.entries), summary(reference.entries));
  // offsets: contiguous, in order, 4 bytes per F32 element, covering the whole data section
  const spans = [...saved.entries.values()].map((e) => e.data_offsets).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end] of spans) {
    assert.equal(begin, at);
    at = end;
  }
  assert.equal(at, saved.dataBytes);
  for (const e of saved.entries.values())
    assert.equal(e.data_offsets[1] - e.data_offsets[0], 4 * e.shape.reduce((a, b) => a * b, 1));
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config.architectures, ['DistilBertForQuestionAnswering']);
  assert.equal(config.model_type, 'distilbert');
});

test("distilbert-base-uncased's config gives HF's 102 tensors and 66,364,418 parameters of DistilBertForQuestionAnswering", async () => {
  const shapes = parameterShapes(await loadConfig(join(sharedDir, 'models', 'distilbert-base-uncased')));
  // Derived by hand from modeling_distilbert.py (nn.Linear weights are [out, in]).
  const expected = new Map<string, number[]>([
    ['distilbert.embeddings.word_embeddings.weight', [30522, 768]],
    ['distilbert.embeddings.position_embeddings.weight', [512, 768]],
    ['distilbert.embeddings.LayerNorm.weight', [768]],
    ['distilbert.embeddings.LayerNorm.bias', [768]],
    ['qa_outputs.weight', [2, 768]],
    ['qa_outputs.bias', [2]],
  ]);
  for (let i = 0; i < 6; i++) {
    const l = `distilbert.transformer.layer.${i}`;
    for (const lin of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) {
      expected.set(`${l}.attention.${lin}.weight`, [768, 768]);
      expected.set(`${l}.attention.${lin}.bias`, [768]);
    }
    for (const norm of ['sa_layer_norm', 'output_layer_norm']) {
      expected.set(`${l}.${norm}.weight`, [768]);
      expected.set(`${l}.${norm}.bias`, [768]);
    }
    expected.set(`${l}.ffn.lin1.weight`, [3072, 768]);
    expected.set(`${l}.ffn.lin1.bias`, [3072]);
    expected.set(`${l}.ffn.lin2.weight`, [768, 3072]);
    expected.set(`${l}.ffn.lin2.bias`, [768]);
  }
  assert.equal(expected.size, 102);
  assert.deepEqual(new Map([...shapes].sort()), new Map([...expected].sort()));
  const count = [...shapes.values()].reduce((sum, s) => sum + s.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, 66_364_418);
});
