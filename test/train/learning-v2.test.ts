/**
 * The CI smoke test of SQuAD 2.0 end to end: synthetic SQuAD 2.0 JSON where half the questions ask for an attribute
 * the context does not state → `prepare --version-2-with-negative` → `train` of the tiny random DistilBERT (the
 * manifest makes its evaluation SQuAD 2.0) → HasAns and NoAns EM both ≥ 90 on held-out questions, logged per
 * epoch beside EM/F1; then `ask` says "no answer" to an unanswerable question, with `--handle-impossible-answer`
 * and without it (the model's training log says it was trained on SQuAD 2.0).
 * Sized like the v1.1 learning test: 3000 rows (half of them answerable), 225 steps, about 70 s on 2 cores
 * (measured: HasAns/NoAns EM 60/40 after epoch 1, 98/100 after 2, 100/100 after 3).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';
import { prepareSynthetic } from './synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');
const EPOCHS = 3;

test('tiny random DistilBERT learns when a question has no answer: HasAns and NoAns EM ≥ 90 on held-out questions', {
  timeout: 300_000,
}, async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-learning-v2-');
  try {
    const { data, config } = await prepareSynthetic(dir, {
      rows: 3000,
      seed: 1,
      noAnswerShare: 0.5,
      prepareArgs: ['--version-2-with-negative'],
    });
    const out = join(dir, 'model');
    const r = await runCli([
      'train',
      '--data',
      data,
      '--model',
      TOKENIZER,
      '--init',
      'random',
      '--config',
      config,
      '--out',
      out,
      '--epochs',
      String(EPOCHS),
      '--lr',
      '3e-3',
      '--batch-size',
      '32',
      '--backend',
      'wasm',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Exact Match \| +F1 \| HasAns F1 \| NoAns F1\n/, 'the epoch table shows the SQuAD 2.0 F1s');
    assert.match(
      r.stderr,
      new RegExp(`\\n +${EPOCHS} \\|( +[\\d.]+ \\|){5} +[\\d.]+\\n`),
      'and each epoch row has them',
    );
    const result = JSON.parse(r.stdout) as { history: Record<string, number>[] };
    const evals = result.history.filter((h) => 'eval_f1' in h);
    assert.equal(evals.length, EPOCHS, 'one evaluation per epoch');
    for (const e of evals)
      for (const k of ['eval_HasAns_f1', 'eval_NoAns_f1', 'eval_HasAns_exact', 'eval_NoAns_exact'])
        assert.equal(typeof e[k], 'number', k);
    const last = evals.at(-1) as Record<string, number>;
    const figures = `HasAns EM ${last.eval_HasAns_exact}, NoAns EM ${last.eval_NoAns_exact} (${last.eval_HasAns_total}/${last.eval_NoAns_total})`;
    assert.ok((last.eval_HasAns_exact ?? 0) >= 90 && (last.eval_NoAns_exact ?? 0) >= 90, figures);
    assert.equal((last.eval_HasAns_total ?? 0) + (last.eval_NoAns_total ?? 0), 600, 'the 600 held-out questions');
    assert.ok((last.eval_NoAns_total ?? 0) > 250 && (last.eval_HasAns_total ?? 0) > 250, figures);
    const logged = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(logged.filter((m) => 'eval_NoAns_f1' in m).length, EPOCHS, 'metrics.jsonl logs NoAns F1 each epoch');

    const ask = (question: string, flags: string[] = []) =>
      runCli([
        'ask',
        '--model',
        out,
        '--question',
        question,
        '--context',
        "oscar's pet is copper river cat .",
        ...flags,
        '--backend',
        'wasm',
        '--json',
      ]);
    const none = await ask('what is the age of oscar?', ['--handle-impossible-answer']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal((JSON.parse(none.stdout) as { answer: string }).answer, '');
    const some = await ask('what is the pet of oscar?', ['--handle-impossible-answer']);
    assert.equal((JSON.parse(some.stdout) as { answer: string }).answer, 'copper river cat');
    // without the flag too: the model's training log says it was trained on SQuAD 2.0
    const auto = await ask('what is the hobby of oscar?');
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal((JSON.parse(auto.stdout) as { answer: string; nullScoreDiff: number }).answer, '');
  } finally {
    await cleanup();
  }
});
