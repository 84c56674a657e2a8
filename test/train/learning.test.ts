/**
 * The CI smoke test of the whole design: synthetic SQuAD JSON → `qa-ft prepare` → `qa-ft train` of a tiny
 * randomly initialised DistilBERT (real uncased tokenizer) → EM ≥ 90 on held-out questions, within 3 minutes
 * → `qa-ft ask` and `qa-ft evaluate` on the model it wrote; on wasm and on tensorflow (tfjs-node) where it loads.
 * Also checks what the run leaves behind: checkpoints, the final HF-layout model with its tokenizer, the
 * metrics log, the curves and the printed summary.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { testBackends } from '../helpers/backends.js';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';
import { prepareSynthetic, writeSyntheticSquad } from './synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');

for (const { backend, skip } of await testBackends(['wasm', 'tensorflow'])) {
  test(`${backend}: tiny random DistilBERT learns one-fact synthetic QA: EM ≥ 90 on held-out questions in ≤ 3 minutes; ask and evaluate use it`, {
    skip,
    timeout: 240_000,
  }, async () => {
    const { dir, cleanup } = await makeTempDir('qa-ft-learning-');
    try {
      const started = Date.now();
      const { data, config } = await prepareSynthetic(dir, { rows: 2000, seed: 1 });
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
        '2',
        '--lr',
        '3e-3',
        '--batch-size',
        '32',
        '--backend',
        backend,
        '--logging-steps',
        '5',
        '--json',
      ]);
      const seconds = (Date.now() - started) / 1000;
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as { globalStep: number; history: Record<string, number>[] };
      const evals = result.history.filter((h) => 'eval_f1' in h);
      assert.equal(evals.length, 2, 'one evaluation per epoch');
      const last = evals.at(-1) as Record<string, number>;
      assert.ok(
        (last.eval_exact_match as number) >= 90,
        `EM ${last.eval_exact_match} after ${result.globalStep} steps`,
      );
      assert.equal(last.eval_count, 400, 'scored on the 400 held-out questions');
      assert.ok(seconds <= 180, `took ${seconds.toFixed(0)} s`);

      // what was printed: the decay split (2-D weights vs biases/LayerNorm) and the per-epoch table
      assert.match(r.stderr, /AdamW: 15 tensors decayed \([\d,]+ parameters\), 23 not decayed/);
      assert.match(r.stderr, /Epoch \| Training Loss \| Validation Loss \| Exact Match \| +F1/);
      assert.match(r.stderr, /\n +2 \| +\d+\.\d{6} \| +\d+\.\d{6} \| +\d+\.\d\d \| +\d+\.\d\d\n/);

      // what was written
      const files = await readdir(out);
      for (const f of [
        'config.json',
        'model.safetensors',
        'tokenizer.json',
        'vocab.txt',
        'trainer_state.json',
        'qa-ft-state.json',
        'metrics.jsonl',
        'training-curves.svg',
        `checkpoint-${result.globalStep / 2}`,
        `checkpoint-${result.globalStep}`,
      ]) {
        assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      }
      assert.deepEqual(
        files.filter((f) => f.startsWith('.')),
        [],
        'no temporary directories left',
      );
      const ckpt = (await readdir(join(out, `checkpoint-${result.globalStep}`))).sort();
      assert.deepEqual(
        ckpt.filter((f) => !['tokenizer_config.json', 'special_tokens_map.json'].includes(f)),
        [
          'config.json',
          'model.safetensors',
          'optimizer.pt',
          'optimizer.safetensors',
          'qa-ft-state.json',
          'scheduler.pt',
          'tokenizer.json',
          'trainer_state.json',
          'vocab.txt',
        ],
      );
      const state = JSON.parse(
        await readFile(join(out, `checkpoint-${result.globalStep}`, 'qa-ft-state.json'), 'utf8'),
      ) as Record<string, unknown>;
      assert.equal(state.epoch, 2);
      assert.equal(state.global_step, result.globalStep);
      assert.equal(state.best_metric, Math.max(...evals.map((e) => e.eval_f1 as number)));
      const metricLines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number>);
      assert.equal(metricLines.filter((m) => 'loss' in m).length, Math.floor(result.globalStep / 5));
      assert.equal(metricLines.filter((m) => 'eval_f1' in m).length, 2);
      const svg = await readFile(join(out, 'training-curves.svg'), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<polyline class="loss"[^>]* points="(?:[\d.]+,[\d.]+ ){5,}/);
      assert.match(svg, /<polyline class="f1"[^>]* points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);

      // the output directory is a model `qa-ft ask` loads, tokenizer included
      const ask = await runCli([
        'ask',
        '--model',
        out,
        '--question',
        'what is the pet of oscar?',
        '--context',
        "oscar's pet is copper river cat .",
        '--doc-stride',
        '16',
        '--backend',
        backend,
        '--json',
      ]);
      assert.equal(ask.code, 0, ask.stderr);
      assert.equal((JSON.parse(ask.stdout) as { answer: string }).answer, 'copper river cat');

      // and `qa-ft evaluate` scores it on a fresh small split of the same kind of facts
      await writeSyntheticSquad(join(dir, 'dev.json'), 40, 7);
      const ev = await runCli([
        'evaluate',
        '--model',
        out,
        '--data',
        join(dir, 'dev.json'),
        '--out',
        join(dir, 'eval', 'predictions.json'),
        '--backend',
        backend,
        '--json',
      ]);
      assert.equal(ev.code, 0, ev.stderr);
      const scores = JSON.parse(ev.stdout) as { exactMatch: number; f1: number; count: number };
      assert.equal(scores.count, 40);
      assert.ok(scores.exactMatch >= 80, `evaluate: EM ${scores.exactMatch}`);
    } finally {
      await cleanup();
    }
  });
}
