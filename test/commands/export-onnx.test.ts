/**
 * `qa-ft export --onnx` of a tiny DistilBERT trained here on the synthetic one-fact task (400 questions, one epoch:
 * about 15 s): the ONNX files beside the Hugging Face ones, in the layout transformers.js loads —
 * `pipeline('question-answering', dir)` with remote models off gives `qa-ft ask`'s answers on new questions, fp32
 * and q8 — `evaluate --engine onnx` scores it as the TF.js engine does, and the one-line refusals.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseModelConfig } from '../../src/model/config.js';
import { openOnnxModel } from '../../src/onnx/session.js';
import { makeTempDir, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';
import { TINY_CONFIG, writeSyntheticSquad } from '../train/synthetic-squad.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let model: string;
let exported: string;
let data: string;

async function cli(args: string[]): Promise<void> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `qa-ft ${args[0]}: ${r.stderr}`);
}

before(
  async () => {
    tmp = await makeTempDir('qa-ft-export-onnx-');
    await writeSyntheticSquad(join(tmp.dir, 'facts.json'), 400, 1);
    await writeFile(join(tmp.dir, 'tiny-config.json'), JSON.stringify(TINY_CONFIG));
    data = join(tmp.dir, 'data');
    model = join(tmp.dir, 'model');
    exported = join(tmp.dir, 'export');
    await cli([
      'prepare',
      '--input',
      join(tmp.dir, 'facts.json'),
      '--split',
      'train',
      '--tokenizer',
      BASE_TOKENIZER_DIR,
      '--max-length',
      '48',
      '--out',
      data,
    ]);
    await cli([
      'train',
      '--data',
      data,
      '--model',
      BASE_TOKENIZER_DIR,
      '--init',
      'random',
      '--config',
      join(tmp.dir, 'tiny-config.json'),
      '--out',
      model,
      '--epochs',
      '1',
      '--lr',
      '3e-3',
      '--batch-size',
      '16',
      '--backend',
      'wasm',
      '--json',
    ]);
    await cli(['export', '--model', model, '--out', exported, '--onnx', '--json']);
  },
  { timeout: 120_000 },
);
after(() => tmp.cleanup());

test('export --onnx writes onnx/model.onnx and onnx/model_quantized.onnx beside the HF files, and lists them', async () => {
  assert.deepEqual((await readdir(join(exported, 'onnx'))).sort(), ['model.onnx', 'model_quantized.onnx']);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
    assert.ok((await readdir(exported)).includes(f), f);
  const config = parseModelConfig(JSON.parse(await readFile(join(exported, 'config.json'), 'utf8')), 'config.json');
  for (const f of ['model.onnx', 'model_quantized.onnx']) {
    const session = await openOnnxModel(join(exported, 'onnx', f), config, { threads: 1 });
    const out = await session.forward({ inputIds: [[101, 2054, 102, 0]], attentionMask: [[1, 1, 1, 0]] });
    session.dispose();
    assert.equal(out.startLogits[0]?.length, 4, f);
  }
});

test('export --onnx refuses a tokenizer without tokenizer.json in one line, and writes nothing', async () => {
  const vocabOnly = join(tmp.dir, 'vocab-only');
  await mkdir(vocabOnly);
  await copyFile(join(BASE_TOKENIZER_DIR, 'vocab.txt'), join(vocabOnly, 'vocab.txt'));
  const out = join(tmp.dir, 'refused');
  const r = await runCli(['export', '--model', model, '--tokenizer', vocabOnly, '--out', out, '--onnx']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no tokenizer\.json in .*vocab-only: transformers\.js needs it/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  await assert.rejects(readdir(out), 'nothing written');
});

test('evaluate --engine onnx scores the export as the TF.js engine does; onnx-q8 scores it too; a wrong engine or directory is one line', async (t) => {
  const evaluate = (engine: string, dir = exported): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    runCli([
      'evaluate',
      '--model',
      dir,
      '--data',
      data,
      '--engine',
      engine,
      '--backend',
      'cpu',
      '--out',
      join(tmp.dir, `${engine}-predictions.json`),
      '--json',
    ]);
  const [tfjs, onnx, q8, noOnnx, unknown] = await Promise.all([
    evaluate('tfjs'),
    evaluate('onnx'),
    evaluate('onnx-q8'),
    evaluate('onnx', model),
    evaluate('tvm'),
  ]);
  type Scores = { exactMatch: number; f1: number; count: number; evalLoss: number };
  const [a, b, c] = [tfjs, onnx, q8].map((r) => {
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Scores;
  }) as [Scores, Scores, Scores];
  t.diagnostic(
    `test split: tfjs EM ${a.exactMatch.toFixed(2)} F1 ${a.f1.toFixed(2)}; onnx EM ${b.exactMatch.toFixed(2)} F1 ${b.f1.toFixed(2)}; onnx-q8 EM ${c.exactMatch.toFixed(2)} F1 ${c.f1.toFixed(2)}`,
  );
  assert.equal(b.count, 80, "the prepared test split's questions");
  assert.ok(a.exactMatch >= 80, `the model learned the task (EM ${a.exactMatch})`);
  assert.deepEqual([b.exactMatch, b.f1], [a.exactMatch, a.f1]);
  assert.ok(Math.abs(b.evalLoss - a.evalLoss) <= 1e-4 * a.evalLoss, `eval loss ${b.evalLoss} vs ${a.evalLoss}`);
  assert.deepEqual(
    await readFile(join(tmp.dir, 'onnx-predictions.json'), 'utf8'),
    await readFile(join(tmp.dir, 'tfjs-predictions.json'), 'utf8'),
  );
  assert.equal(c.count, 80);
  assert.ok(c.f1 >= a.f1 - 5, `q8 F1 ${c.f1} vs fp32 ${a.f1}`);
  assert.notEqual(noOnnx.code, 0);
  assert.match(
    noOnnx.stderr,
    /onnx\/model\.onnx does not exist: --engine onnx runs the ONNX files of a qa-ft export --onnx directory/,
  );
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /--engine tvm: expected tfjs, onnx or onnx-q8/);
  for (const r of [noOnnx, unknown]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

/** transformers.js, when installed (a devDependency): why the pipeline test is skipped otherwise. */
async function transformersJs(): Promise<typeof import('@huggingface/transformers') | string> {
  try {
    return await import('@huggingface/transformers');
  } catch (e) {
    return `@huggingface/transformers is not installed (${(e as Error).message.split('\n')[0]})`;
  }
}
const tjs = await transformersJs();
if (typeof tjs === 'string') process.stdout.write(`# skipping the transformers.js pipeline test: ${tjs}\n`);

describe('transformers.js pipeline on the export', { skip: typeof tjs === 'string' ? tjs : false }, () => {
  test("question-answering, fp32 and q8, offline: on new questions the answers are qa-ft ask's", async (t) => {
    if (typeof tjs === 'string') return;
    const fresh = join(tmp.dir, 'fresh.json');
    await writeSyntheticSquad(fresh, 8, 77); // another seed: questions the model has not seen
    type Squad = { data: { paragraphs: { context: string; qas: { question: string }[] }[] }[] };
    const cases = (JSON.parse(await readFile(fresh, 'utf8')) as Squad).data.flatMap((a) =>
      a.paragraphs.flatMap((p) => p.qas.map((q): [string, string] => [q.question, p.context])),
    );
    tjs.env.allowRemoteModels = false;
    tjs.env.localModelPath = tmp.dir; // models are looked up by name under it
    const input = cases.map(([question, context]) => JSON.stringify({ question, context })).join('\n');
    const ask = await runCli(['ask', '--model', exported, '--backend', 'cpu', '--json'], { input });
    assert.equal(ask.code, 0, ask.stderr);
    const asked = ask.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { answer: string }).answer);
    for (const dtype of ['fp32', 'q8'] as const) {
      const qa = await tjs.pipeline('question-answering', 'export', { dtype });
      try {
        for (const [i, [question, context]] of cases.entries()) {
          const out = (await qa(question, context)) as { answer: string; score: number };
          t.diagnostic(`${dtype}: ${question} → ${JSON.stringify(out.answer)} (${out.score.toFixed(4)})`);
          assert.ok(
            out.answer.length > 0 && context.toLowerCase().includes(out.answer.toLowerCase()),
            `${dtype}: ${out.answer}`,
          );
          // transformers.js decodes the span's tokens (lower case for an uncased vocabulary); qa-ft slices the context
          assert.equal(out.answer, asked[i]?.toLowerCase(), `${dtype}: ${question}`);
        }
      } finally {
        await qa.dispose();
      }
    }
  });
});
