import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { exportModel } from '../../src/export/write-export.js';
import { renderModelCard } from '../../src/export/model-card.js';
import { loadConfig, qaArchitecture } from '../../src/model/config.js';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';
import { writeSmallTokenizer } from '../helpers/small-tokenizer.js';

const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');
let tmp: { dir: string; cleanup: () => Promise<void> };
/** A tokenizer that fits the 120-row fixture model. */
let baseDir: string;

/** A directory shaped like `qa-ft train` output: final model, tokenizer, logs, a checkpoint and curves. */
async function makeTrainedDir(): Promise<string> {
  const dir = join(tmp.dir, 'trained');
  await mkdir(join(dir, 'checkpoint-16'), { recursive: true });
  const config = JSON.parse(await readFile(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.architectures; // the export must put it back
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await copyFile(join(tinyDir, 'model.safetensors'), join(dir, 'model.safetensors'));
  await copyFile(join(baseDir, 'vocab.txt'), join(dir, 'vocab.txt'));
  await copyFile(join(baseDir, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await writeFile(join(dir, 'optimizer.safetensors'), 'not exported');
  await writeFile(join(dir, 'training-curves.svg'), '<svg/>');
  await writeFile(join(dir, 'checkpoint-16', 'model.safetensors'), 'not exported');
  const records = [
    { step: 10, epoch: 0.5, loss: 5.125, learning_rate: 2e-5, grad_norm: 3 },
    { step: 20, epoch: 1, loss: 4.5, learning_rate: 1e-5, grad_norm: 2 },
    { step: 20, epoch: 1, eval_loss: 4.25, eval_exact_match: 12.5, eval_f1: 20.75, eval_count: 100 },
    { step: 40, epoch: 2, loss: 3.5, learning_rate: 0, grad_norm: 1 },
    { step: 40, epoch: 2, eval_loss: 3.75, eval_exact_match: 31.25, eval_f1: 40.5, eval_count: 100 },
  ];
  await writeFile(join(dir, 'metrics.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  await writeFile(
    join(dir, 'trainer_state.json'),
    JSON.stringify({
      format: 'qa-ft-trainer-state/1',
      epoch: 2,
      global_step: 40,
      run: { seed: 42, batchSize: 16, learningRate: 2e-5 },
      log_history: records,
    }),
  );
  return dir;
}

beforeEach(async () => {
  tmp = await makeTempDir('qa-ft-export-');
  baseDir = await writeSmallTokenizer(join(tmp.dir, 'small-tokenizer'));
});
afterEach(async () => {
  await tmp.cleanup();
});

test('qa-ft export writes a clean HF directory: architectures set, weights byte-identical, card with the last eval metrics', async () => {
  const model = await makeTrainedDir();
  const out = join(tmp.dir, 'my-squad-model');
  const r = await runCli([
    'export',
    '--model',
    model,
    '--out',
    out,
    '--base-model',
    'distilbert-base-uncased',
    '--dataset',
    'rajpurkar/squad',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /EM 31\.25, F1 40\.50 \(from metrics\.jsonl and trainer_state\.json\)/);
  assert.deepEqual((await readdir(out)).sort(), [
    'README.md',
    'config.json',
    'model.safetensors',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config.architectures, ['DistilBertForQuestionAnswering']);
  assert.equal(config.dim, 32);
  assert.deepEqual(await readFile(join(out, 'model.safetensors')), await readFile(join(tinyDir, 'model.safetensors')));
  const card = await readFile(join(out, 'README.md'), 'utf8');
  assert.match(card, /^---\nlibrary_name: transformers\npipeline_tag: question-answering\n/);
  assert.match(card, /base_model: "distilbert-base-uncased"/);
  assert.match(card, /- type: exact_match\n {6}value: 31\.25\n/);
  assert.match(card, /- type: f1\n {6}value: 40\.5\n/);
  // one results row per evaluation, with the training loss logged before it
  assert.match(
    card,
    /\| 4\.5000 \| 1\.00 \| 20 \| 4\.2500 \| 12\.50 \| 20\.75 \|\n\| 3\.5000 \| 2\.00 \| 40 \| 3\.7500 \| 31\.25 \| 40\.50 \|/,
  );
  assert.match(card, /- learningRate: 0\.00002\n/);
  assert.match(card, /# my-squad-model/);
});

test('weights that do not fit the config → BAD_WEIGHTS naming the tensor, and nothing is written', async () => {
  const model = await makeTrainedDir();
  const config = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(model, 'config.json'), JSON.stringify({ ...config, vocab_size: 121 }));
  const out = join(tmp.dir, 'out');
  await assert.rejects(exportModel(model, out), (e: unknown) => {
    assert.ok(e instanceof QaFtError && e.code === 'BAD_WEIGHTS');
    assert.match(e.message, /distilbert\.embeddings\.word_embeddings\.weight is \[120, 32\], expected \[121, 32\]/);
    return true;
  });
  await assert.rejects(readdir(out));
});

test('a tokenizer with more tokens than the model has embedding rows is refused in one line, and nothing is written', async () => {
  const model = await makeTrainedDir();
  const out = join(tmp.dir, 'out');
  // the 30,522-token distilbert-base-uncased tokenizer beside the 120-row fixture
  const r = await runCli([
    'export',
    '--model',
    model,
    '--tokenizer',
    join(sharedDir, 'models', 'distilbert-base-uncased'),
    '--out',
    out,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(
    r.stderr,
    /the tokenizer in .*distilbert-base-uncased has token ids up to 30521, but the model \(.*trained\/config\.json\) has 120 embedding rows \(vocab_size\)/,
  );
  await assert.rejects(readdir(out));
});

test('a base model without a QA head is refused with a hint to train it first', async () => {
  const model = await makeTrainedDir();
  const { SafetensorsFile } = await import('../../src/model/safetensors.js');
  const { writeSafetensors } = await import('../../src/model/safetensors.js');
  const src = await SafetensorsFile.open(join(tinyDir, 'model.safetensors'));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const name of src.entries.keys()) if (!name.startsWith('qa_outputs')) tensors.set(name, await src.read(name));
  await src.close();
  await writeSafetensors(join(model, 'model.safetensors'), tensors);
  await assert.rejects(exportModel(model, join(tmp.dir, 'out')), (e: unknown) => {
    assert.ok(e instanceof QaFtError && e.code === 'BAD_WEIGHTS');
    assert.match(e.message, /missing 2 \(qa_outputs\.weight, qa_outputs\.bias\)/);
    assert.match(e.hint ?? '', /train it first/);
    return true;
  });
});

test('a non-empty outDir is refused unless overwrite, which keeps the other files; a model without tokenizer asks for tokenizerDir', async () => {
  const model = await makeTrainedDir();
  const out = join(tmp.dir, 'out');
  await mkdir(out);
  await writeFile(join(out, 'keep.txt'), 'user data');
  await assert.rejects(exportModel(model, out), /outDir .* exists and is not empty/);
  assert.equal(await readFile(join(out, 'keep.txt'), 'utf8'), 'user data');
  await exportModel(model, out, { overwrite: true });
  assert.equal(
    await readFile(join(out, 'keep.txt'), 'utf8'),
    'user data',
    'overwrite keeps the files export does not write',
  );
  assert.ok((await readdir(out)).includes('model.safetensors'));

  const bare = join(tmp.dir, 'bare');
  await mkdir(bare);
  await copyFile(join(tinyDir, 'config.json'), join(bare, 'config.json'));
  await copyFile(join(tinyDir, 'model.safetensors'), join(bare, 'model.safetensors'));
  await assert.rejects(
    exportModel(bare, join(tmp.dir, 'out2')),
    (e: unknown) => e instanceof QaFtError && /tokenizerDir/.test(e.hint ?? ''),
  );
  const r = await exportModel(bare, join(tmp.dir, 'out2'), { tokenizerDir: baseDir });
  assert.deepEqual(r.files, [
    'README.md',
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  assert.deepEqual(r.trainingSources, []);
});

test('a model card without a training log says no evaluation was recorded and has no model-index', () => {
  const card = renderModelCard({
    name: 'x',
    architecture: 'BertForQuestionAnswering',
    modelType: 'bert',
    config: { dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, vocabSize: 120, maxPositionEmbeddings: 64 },
    parameters: 20_000,
  });
  assert.match(card, /No evaluation results were recorded/);
  assert.match(card, /^BertForQuestionAnswering: 2 layers, dim 32, /m, "the card names the model's own class");
  assert.doesNotMatch(card, /model-index/);
});

for (const family of ['distilbert', 'bert', 'roberta', 'electra', 'albert', 'deberta-v2'] as const) {
  test(`${family}'s model card is tagged ${family} (not distilbert) and its usage runs on transformers 5.x and transformers.js`, async () => {
    const config = await loadConfig(join(sharedDir, 'fixtures', `tiny-${family}-qa`));
    const card = renderModelCard({
      name: 'me/my-qa',
      architecture: qaArchitecture(config),
      modelType: config.modelType,
      config,
      parameters: 20_000,
    });
    const tags = /\ntags:\n((?:- .*\n)+)/.exec(card)?.[1];
    assert.deepEqual(tags?.trimEnd().split('\n'), ['- question-answering', `- "${family}"`, '- qa-ft']);
    assert.match(card, new RegExp(`^${qaArchitecture(config)}: 2 layers`, 'm'));
    if (family !== 'distilbert') assert.doesNotMatch(card, /distilbert|DistilBERT/, 'no trace of another family');
    // transformers 5.x has no pipeline("question-answering"): the model, the tokenizer's offsets and the decode
    assert.doesNotMatch(card, /pipeline\("question-answering"/);
    const python = /```python\n([\s\S]*?)```/.exec(card)?.[1] ?? '';
    assert.match(python, /from transformers import AutoModelForQuestionAnswering, AutoTokenizer/);
    assert.match(python, /model_id = "me\/my-qa"/);
    assert.match(python, /return_offsets_mapping=True/);
    assert.match(python, /print\(context\[offsets\[s\]\[0\] : offsets\[e\]\[1\]\]\)/);
    const js = /```js\n([\s\S]*?)```/.exec(card)?.[1] ?? '';
    assert.match(js, /import \{ pipeline \} from '@huggingface\/transformers';/);
    assert.match(js, /pipeline\('question-answering', "me\/my-qa"\)/);
    assert.match(card, /which `qa-ft export --onnx` writes/, 'without ONNX files the card says how to get them');
    const withOnnx = renderModelCard({
      name: 'me/my-qa',
      architecture: qaArchitecture(config),
      modelType: config.modelType,
      onnx: true,
      config,
      parameters: 20_000,
    });
    assert.doesNotMatch(withOnnx, /qa-ft export --onnx/);
  });
}
