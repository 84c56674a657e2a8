// `qa-ft evaluate --version-2-with-negative`: a model's SQuAD 2.0 predictions with null_odds.json, and scoring a
// predictions file with no-answer probabilities by the official 2.0 rules, under its key names.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, type CliResult } from '../helpers/cli.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';

const data = new URL('../data/fixtures/squad-v2-sample.parquet', import.meta.url).pathname; // a1, u1, a2, u2
let tmp: { dir: string; cleanup: () => Promise<void> };
let modelDir: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-evaluate-v2-');
  modelDir = join(tmp.dir, 'model');
  await writeTinyModelDir(modelDir);
});
after(async () => tmp.cleanup());

const evaluate = (args: string[]): Promise<CliResult> => runCli(['evaluate', '--backend', 'cpu', ...args]);
const OFFICIAL_KEYS = [
  'exact',
  'f1',
  'total',
  'HasAns_exact',
  'HasAns_f1',
  'HasAns_total',
  'NoAns_exact',
  'NoAns_f1',
  'NoAns_total',
];
const BEST_KEYS = ['best_exact', 'best_exact_thresh', 'best_f1', 'best_f1_thresh'];

test('a model over SQuAD 2.0 data: predictions, n-best and null_odds.json; "" exactly where the null odds are > 0', async () => {
  const out = join(tmp.dir, 'run', 'predictions.json');
  const r = await evaluate([
    '--model',
    modelDir,
    '--data',
    data,
    '--split',
    'train',
    '--version-2-with-negative',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const k of [...OFFICIAL_KEYS, ...BEST_KEYS]) assert.equal(typeof result[k], 'number', k);
  assert.equal(result.total, 4);
  assert.equal(result.NoAns_total, 2);
  assert.deepEqual((await readdir(join(tmp.dir, 'run'))).sort(), [
    'nbest_predictions.json',
    'null_odds.json',
    'predictions.json',
  ]);
  const predictions = JSON.parse(await readFile(out, 'utf8')) as Record<string, string>;
  const odds = JSON.parse(await readFile(join(tmp.dir, 'run', 'null_odds.json'), 'utf8')) as Record<string, number>;
  assert.deepEqual(Object.keys(odds), ['a1', 'u1', 'a2', 'u2']);
  for (const [id, diff] of Object.entries(odds))
    assert.equal(predictions[id] === '', diff > 0, `${id}: ${JSON.stringify(predictions[id])}, odds ${diff}`);
  // the threshold moves the decision: above every odd, nothing is "no answer"
  const lenient = await evaluate([
    '--model',
    modelDir,
    '--data',
    data,
    '--split',
    'train',
    '--version-2-with-negative',
    '--out',
    join(tmp.dir, 'run2', 'predictions.json'),
    '--null-score-diff-threshold',
    '1e9',
    '--json',
  ]);
  assert.equal(lenient.code, 0, lenient.stderr);
  const answered = JSON.parse(await readFile(join(tmp.dir, 'run2', 'predictions.json'), 'utf8')) as Record<
    string,
    string
  >;
  assert.ok(Object.values(answered).every((a) => a !== ''));
});

test('--predictions with --na-probs: the official 2.0 figures and threshold sweep (hand-worked)', async () => {
  const predictions = join(tmp.dir, 'p.json');
  const naProbs = join(tmp.dir, 'na.json');
  await writeFile(predictions, JSON.stringify({ a1: 'France', u1: 'Normandy', a2: '10th', u2: '' }));
  await writeFile(naProbs, JSON.stringify({ a1: 0.1, u1: 0.8, a2: 0.4, u2: 0.3 }));
  const r = await evaluate([
    '--predictions',
    predictions,
    '--na-probs',
    naProbs,
    '--data',
    data,
    '--split',
    'train',
    '--version-2-with-negative',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, number>;
  // EM 1, 0, 0, 1; F1 1, 0, 2/3 ("10th" vs "10th century"), 1. Sweep from 2 (u1, u2 abstain): a1 (0.1) → 3;
  // u2 (0.3) +0; a2 (0.4) EM +0 / F1 +2/3 → 3.67; u1 (0.8) -1.
  const expected: Record<string, number> = {
    exact: 50,
    f1: (100 * (1 + 0 + 2 / 3 + 1)) / 4,
    total: 4,
    HasAns_exact: 50,
    HasAns_f1: (100 * (1 + 2 / 3)) / 2,
    HasAns_total: 2,
    NoAns_exact: 50,
    NoAns_f1: 50,
    NoAns_total: 2,
    best_exact: 75,
    best_exact_thresh: 0.1,
    best_f1: (100 * (3 + 2 / 3)) / 4,
    best_f1_thresh: 0.4,
  };
  for (const [k, v] of Object.entries(expected))
    assert.ok(Math.abs((got[k] ?? NaN) - v) < 1e-9, `${k}: ${got[k]} vs ${v}`);
  // the text form names the same figures
  const text = await evaluate([
    '--predictions',
    predictions,
    '--data',
    data,
    '--split',
    'train',
    '--version-2-with-negative',
  ]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^exact 50\.00 {2}f1 66\.67 {2}\(4 questions\)$/m);
  assert.match(text.stdout, /^HasAns_exact 50\.00 {2}HasAns_f1 83\.33 {2}\(2 with an answer\)$/m);
  assert.match(text.stdout, /^NoAns_exact 50\.00 {2}NoAns_f1 50\.00 {2}\(2 without\)$/m);
  assert.doesNotMatch(text.stdout, /best_exact/); // no probabilities, no sweep
});

test('a directory prepared with --version-2-with-negative is scored as SQuAD 2.0 without the flag', async () => {
  const prepared = join(tmp.dir, 'prepared');
  const prep = await runCli([
    'prepare',
    '--input',
    data,
    '--split',
    'train',
    '--test-size',
    '0',
    '--tokenizer',
    modelDir,
    '--out',
    prepared,
    '--version-2-with-negative',
  ]);
  assert.equal(prep.code, 0, prep.stderr);
  const predictions = join(tmp.dir, 'p-prepared.json');
  await writeFile(predictions, JSON.stringify({ a1: 'France', u1: '', a2: 'the 10th century', u2: 'Normandy' }));
  const r = await evaluate(['--predictions', predictions, '--data', prepared, '--split', 'train', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual([got.exact, got.HasAns_exact, got.NoAns_exact, got.NoAns_total], [75, 100, 50, 2]);
});

test('SQuAD 2.0 data without the flag, and --na-probs without it, are one-line errors', async () => {
  const predictions = join(tmp.dir, 'p.json');
  const refused = await evaluate(['--predictions', predictions, '--data', data, '--split', 'train']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /qa-ft: error: .*2 of 4 rows have no answer .*pass --version-2-with-negative/);
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
  const noFlag = await evaluate([
    '--predictions',
    predictions,
    '--na-probs',
    predictions,
    '--data',
    data,
    '--split',
    'train[:1]',
  ]);
  assert.equal(noFlag.code, 1);
  assert.match(noFlag.stderr, /qa-ft: error: --na-probs applies to SQuAD 2\.0 scoring only/);
  const noPredictions = await evaluate(['--na-probs', predictions, '--data', data, '--version-2-with-negative']);
  assert.match(noPredictions.stderr, /qa-ft: error: --na-probs scores a given --predictions file/);
});
