/**
 * `--bf16` (HF's flag name) on the commands that run a model: where bf16 cannot run (no oneDNN, no AVX512_BF16,
 * another backend) a one-line error saying why and a non-zero exit; where it can, `ask` answers as usual.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bf16Support } from '../../src/engine/index.js';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR, writeTinyModelDir } from '../helpers/tiny-model-dir.js';
import { skipUnlessRequired } from '../helpers/required.js';
import { prepareSynthetic } from '../train/synthetic-squad.js';

const ASK = ['ask', '--question', 'Where did Bob go?', '--context', 'Bob went home.'];

describe('--bf16', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    tmp = await makeTempDir();
    await writeTinyModelDir(tmp.dir);
  });
  after(() => tmp.cleanup());

  test('train, evaluate and ask list it', async () => {
    for (const command of ['train', 'evaluate', 'ask']) {
      const r = await runCli([command, '--help']);
      assert.match(r.stdout, /--bf16\s/, `${command} --help`);
    }
  });

  test('ask --bf16 answers where bf16 runs, else fails in one line saying why', async () => {
    const r = await runCli([...ASK, '--model', tmp.dir, '--bf16']);
    const support = bf16Support();
    if (support.ok) {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.trim().length > 0);
    } else {
      assert.notEqual(r.code, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^qa-ft: error: (bf16 is not available: |backend 'native' is not available: )/);
      assert.equal(r.stdout, '');
    }
  });

  test('ask --bf16 --backend cpu: bf16 needs the native backend', async () => {
    const r = await runCli([...ASK, '--model', tmp.dir, '--bf16', '--backend', 'cpu']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'qa-ft: error: bf16 needs the native backend (active: cpu) (use --backend native)');
  });

  test('train --bf16 trains in bf16 where it runs, else fails in one line before writing --out', {
    timeout: 120_000,
  }, async () => {
    const { data, config } = await prepareSynthetic(tmp.dir, { rows: 16, seed: 7 });
    const out = join(tmp.dir, 'trained');
    const r = await runCli([
      'train',
      '--data',
      data,
      '--model',
      BASE_TOKENIZER_DIR,
      '--init',
      'random',
      '--config',
      config,
      '--out',
      out,
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--backend',
      'native',
      '--bf16',
    ]);
    if (bf16Support().ok) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Backend: native \(bf16\)/);
      assert.ok(existsSync(join(out, 'model.safetensors')));
    } else {
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr.trim(),
        /^qa-ft: error: (bf16 is not available: |backend 'native' is not available: )[^\n]*$/,
      );
      assert.ok(!existsSync(join(out, 'model.safetensors')));
    }
  });

  const support = bf16Support();
  skipUnlessRequired('bf16', support.ok ? undefined : support.reason);
  test('train --bf16: a tiny random DistilBERT learns the one-fact synthetic QA (EM ≥ 90 on held-out questions)', {
    skip: support.ok ? false : `bf16 unavailable: ${support.reason}`,
    timeout: 240_000,
  }, async () => {
    const dir = join(tmp.dir, 'learning');
    await mkdir(dir);
    const { data, config } = await prepareSynthetic(dir, { rows: 2000, seed: 1 });
    const r = await runCli([
      'train',
      '--data',
      data,
      '--model',
      BASE_TOKENIZER_DIR,
      '--init',
      'random',
      '--config',
      config,
      '--out',
      join(dir, 'model'),
      '--epochs',
      '2',
      '--lr',
      '3e-3',
      '--batch-size',
      '32',
      '--backend',
      'native',
      '--bf16',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const evals = (JSON.parse(r.stdout) as { history: Record<string, number>[] }).history.filter(
      (h) => 'eval_exact_match' in h,
    );
    const em = evals.at(-1)?.['eval_exact_match'];
    assert.ok(em !== undefined && em >= 90, `EM ${em}`);
  });
});
