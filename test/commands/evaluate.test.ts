import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrepared } from '../../src/tokenize/prepared.js';
import type { SquadRow } from '../../src/records.js';
import { nbestPathFor } from '../../src/infer/predictions-file.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { makeTempDir, runCli, type CliResult } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR, writeTinyModelDir } from '../helpers/tiny-model-dir.js';

const BRONCOS = 'The Denver Broncos defeated the Carolina Panthers 24–10 to earn their third Super Bowl title.';
const TOKYO = 'Tokyo Tower (東京タワー) was completed in 1958.';
const at = (context: string, text: string) => ({ text, answer_start: context.indexOf(text) }); // BMP only: UTF-16 = code points
const ARTICLES = [
  {
    title: 'Broncos',
    paragraphs: [
      {
        context: BRONCOS,
        qas: [
          {
            id: 'q1',
            question: 'Who won?',
            answers: [at(BRONCOS, 'Denver Broncos'), at(BRONCOS, 'The Denver Broncos')],
          },
          { id: 'q2', question: 'Who lost?', answers: [at(BRONCOS, 'Carolina Panthers')] },
        ],
      },
    ],
  },
  {
    title: 'Tokyo',
    paragraphs: [{ context: TOKYO, qas: [{ id: 'q3', question: 'When?', answers: [at(TOKYO, '1958')] }] }],
  },
];
const ROWS: SquadRow[] = ARTICLES.flatMap((a) =>
  a.paragraphs.flatMap((p) =>
    p.qas.map((q) => ({
      id: q.id,
      title: a.title,
      context: p.context,
      question: q.question,
      answers: { text: q.answers.map((x) => x.text), answer_start: q.answers.map((x) => x.answer_start) },
    })),
  ),
);

let tmp: { dir: string; cleanup: () => Promise<void> };
let modelDir: string;
let squadFile: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-evaluate-');
  modelDir = join(tmp.dir, 'model');
  squadFile = join(tmp.dir, 'dev.json');
  await writeTinyModelDir(modelDir);
  await writeFile(squadFile, JSON.stringify({ version: '1.1', data: ARTICLES }));
});
after(async () => tmp.cleanup());

const evaluate = (args: string[]): Promise<CliResult> => runCli(['evaluate', '--backend', 'cpu', ...args]);

test('evaluate a SQuAD file: predictions.json and nbest_predictions.json for every id, EM/F1 printed', async () => {
  const out = join(tmp.dir, 'run1', 'predictions.json');
  const r = await evaluate(['--model', modelDir, '--data', squadFile, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as {
    exactMatch: number;
    f1: number;
    count: number;
    evalLoss: number;
    nbestPredictions: string;
  };
  assert.equal(result.count, 3);
  assert.ok(result.exactMatch >= 0 && result.exactMatch <= 100 && result.f1 >= result.exactMatch - 1e-9);
  assert.ok(Number.isFinite(result.evalLoss) && result.evalLoss > 0);
  const predictions = JSON.parse(await readFile(out, 'utf8')) as Record<string, string>;
  const nbest = JSON.parse(await readFile(join(tmp.dir, 'run1', 'nbest_predictions.json'), 'utf8')) as Record<
    string,
    { text: string; probability: number }[]
  >;
  assert.deepEqual(Object.keys(predictions), ['q1', 'q2', 'q3']);
  assert.deepEqual(Object.keys(nbest), ['q1', 'q2', 'q3']);
  for (const row of ROWS) {
    assert.ok(row.context.includes(predictions[row.id]!), `prediction for ${row.id} is a piece of its context`);
    assert.equal(nbest[row.id]![0]!.text, predictions[row.id]);
  }
  // nothing but the two files is left behind (no temp files)
  assert.deepEqual((await readdir(join(tmp.dir, 'run1'))).sort(), ['nbest_predictions.json', 'predictions.json']);
});

test('evaluate a prepared directory: its test split, --limit keeps the first N examples', async () => {
  const tokenizer = await loadTokenizer(BASE_TOKENIZER_DIR);
  const split = async (rows: SquadRow[]) => ({
    rows,
    features: (await prepareFeatures(rows, tokenizer, { maxLength: 384, docStride: 128 })).features,
  });
  const prepared = join(tmp.dir, 'prepared');
  await writePrepared(prepared, {
    manifest: {
      source: { path: squadFile, format: 'json', rows: 3 },
      split: 'train',
      testSize: 0.5,
      seed: 42,
      sizes: { train: { rows: 1, features: 1 }, test: { rows: 2, features: 2 } },
      tokenizer: { dir: BASE_TOKENIZER_DIR, files: [], vocabSize: tokenizer.vocabSize },
      maxLength: 384,
      docStride: 128,
      labelRule: 'whole',
      counts: { truncated: 0, unanswerable: 0, skippedLongQuestion: 0, skippedInvalid: 0 },
      createdAt: new Date(0).toISOString(),
    },
    train: await split([ROWS[0]!]),
    test: await split([ROWS[1]!, ROWS[2]!]),
  });
  const out = join(tmp.dir, 'run2', 'preds.json');
  const r = await evaluate(['--model', modelDir, '--data', prepared, '--limit', '1', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^exact_match \d+\.\d\d {2}f1 \d+\.\d\d {2}\(1 examples, eval loss \d+\.\d{4}\)\n$/);
  assert.deepEqual(Object.keys(JSON.parse(await readFile(out, 'utf8')) as object), ['q2']);
  assert.ok(existsSync(nbestPathFor(out)));
});

test('--predictions scores a file with the official metric (hand-worked: EM 33.33, F1 55.56)', async () => {
  const file = join(tmp.dir, 'given.json');
  // q1 exact (after normalisation), q2 half the tokens (P 1, R 1/2 → F1 2/3), q3 missing → 0
  await writeFile(file, JSON.stringify({ q1: 'the denver broncos!', q2: 'Panthers' }));
  const r = await evaluate(['--data', squadFile, '--predictions', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as { exactMatch: number; f1: number; count: number };
  assert.equal(m.count, 3);
  assert.ok(Math.abs(m.exactMatch - 100 / 3) < 1e-9);
  assert.ok(Math.abs(m.f1 - (100 * (1 + 2 / 3)) / 3) < 1e-9);
});

test('bad input → one-line errors, exit 1: predictions naming unknown ids, a model dir without weights', async () => {
  const file = join(tmp.dir, 'unknown.json');
  await writeFile(file, JSON.stringify({ q1: 'Denver', nope: 'x' }));
  const noWeights = join(tmp.dir, 'empty-model');
  await mkdir(noWeights, { recursive: true });
  const out = join(tmp.dir, 'run3', 'predictions.json');
  const [unknown, weightless] = await Promise.all([
    evaluate(['--data', squadFile, '--predictions', file]),
    evaluate(['--model', noWeights, '--data', squadFile, '--out', out]),
  ]);
  for (const [r, pattern] of [
    [unknown, /predictions name 1 id\(s\) not in the references: 'nope'/],
    [weightless, /has no weights \(model\.safetensors\)/],
  ] as const) {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.ok(!existsSync(out), 'no predictions file when the model cannot load');
});
