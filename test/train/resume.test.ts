/**
 * `--resume` after a real `kill -9` mid-epoch 2 reaches exactly the weights (and metrics) of an uninterrupted
 * run: batch order is a pure function of (seed, epoch), dropout (0.1 here, so it matters) of (seed, step).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/model/safetensors.js';
import { makeTempDir, repoRoot, runCli, sharedDir } from '../helpers/cli.js';
import { TINY_CONFIG, writeSyntheticSquad } from './synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');
const STEPS_PER_EPOCH = 16; // 256 train rows / batch 16

function trainArgs(dir: string, out: string): string[] {
  return [
    'train', '--data', join(dir, 'data'), '--model', TOKENIZER, '--init', 'random', '--config', join(dir, 'config.json'),
    '--out', out, '--epochs', '3', '--lr', '2e-3', '--batch-size', '16', '--backend', 'wasm', '--logging-steps', '1', '--seed', '5',
  ];
}

async function loggedSteps(out: string): Promise<number> {
  try {
    const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').filter(Boolean);
    return Math.max(0, ...lines.map((l) => (JSON.parse(l) as { step: number }).step));
  } catch {
    return 0;
  }
}

/** Starts `qa-ft train` as a child process and SIGKILLs it once it has logged `killAfterStep`. */
function trainAndKill(args: string[], out: string, killAfterStep: number): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      void loggedSteps(out).then((step) => {
        if (step >= killAfterStep) child.kill('SIGKILL');
      });
    }, 50);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearInterval(timer);
      resolve({ signal, stderr });
    });
  });
}

test('kill -9 in epoch 2, then --resume → final weights identical to an uninterrupted run', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-resume-');
  try {
    await writeSyntheticSquad(join(dir, 'facts.json'), 320, 3);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...TINY_CONFIG, dropout: 0.1, attention_dropout: 0.1, qa_dropout: 0.1 }));
    const prep = await runCli(['prepare', '--input', join(dir, 'facts.json'), '--split', 'train', '--tokenizer', TOKENIZER, '--max-length', '48', '--out', join(dir, 'data')]);
    assert.equal(prep.code, 0, prep.stderr);

    const straight = join(dir, 'straight');
    const full = await runCli(trainArgs(dir, straight));
    assert.equal(full.code, 0, full.stderr);

    const interrupted = join(dir, 'interrupted');
    const killed = await trainAndKill(trainArgs(dir, interrupted), interrupted, STEPS_PER_EPOCH + 4);
    assert.equal(killed.signal, 'SIGKILL', `the run finished before it could be killed:\n${killed.stderr}`);
    assert.ok(existsSync(join(interrupted, 'checkpoint-epoch-1', 'trainer_state.json')), 'epoch 1 checkpoint complete');
    assert.ok(!existsSync(join(interrupted, 'checkpoint-epoch-2')), 'killed before the epoch-2 checkpoint');
    assert.ok(!existsSync(join(interrupted, 'model.safetensors')), 'no final model yet');

    const resumed = await runCli([...trainArgs(dir, interrupted), '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Resuming from .*checkpoint-epoch-1 \(epoch 1 done, step 16\)/);

    const a = await readSafetensors(join(straight, 'model.safetensors'));
    const b = await readSafetensors(join(interrupted, 'model.safetensors'));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [name, t] of a) assert.deepEqual((b.get(name) as typeof t).data, t.data, `${name} differs after resume`);
    // the resumed log replaces the killed run's partial epoch 2: same records, none twice
    assert.equal(await readFile(join(interrupted, 'metrics.jsonl'), 'utf8'), await readFile(join(straight, 'metrics.jsonl'), 'utf8'));
    assert.deepEqual((await readdir(interrupted)).filter((f) => f.startsWith('.')), [], 'no temporary directories left');
  } finally {
    await cleanup();
  }
});

test('--resume after another run in the same --out continues this run (its data), and refuses a changed option', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-resume-other-');
  try {
    await writeFile(join(dir, 'config.json'), JSON.stringify(TINY_CONFIG));
    for (const [name, seed] of [['old', 3], ['new', 4]] as const) {
      await writeSyntheticSquad(join(dir, `${name}.json`), 40, seed);
      const prep = await runCli(['prepare', '--input', join(dir, `${name}.json`), '--split', 'train', '--tokenizer', TOKENIZER, '--max-length', '48', '--out', join(dir, name)]);
      assert.equal(prep.code, 0, prep.stderr);
    }
    const args = (data: string, out: string): string[] => [
      'train', '--data', join(dir, data), '--model', TOKENIZER, '--init', 'random', '--config', join(dir, 'config.json'),
      '--out', out, '--epochs', '2', '--lr', '2e-3', '--batch-size', '8', '--backend', 'cpu', '--seed', '5',
    ];
    const shared = join(dir, 'out');
    const old = await runCli(args('old', shared)); // a finished run
    assert.equal(old.code, 0, old.stderr);
    const straight = join(dir, 'straight');
    assert.equal((await runCli(args('new', straight))).code, 0);
    // the new run into the shared --out, killed right after its first checkpoint
    await rm(join(shared, 'checkpoint-epoch-1'), { recursive: true });
    await cp(join(straight, 'checkpoint-epoch-1'), join(shared, 'checkpoint-epoch-1'), { recursive: true });

    const changed = await runCli([...args('new', shared), '--resume', '--weight-decay', '0.1']);
    assert.equal(changed.code, 1, changed.stderr);
    assert.match(changed.stderr, /^qa-ft: error: .*checkpoint-epoch-1 was trained with --weight-decay = 0\.01, this run has 0\.1 \(/m);
    assert.doesNotMatch(changed.stderr, /Skipping/, 'nothing resumed, nothing skipped');

    const resumed = await runCli([...args('new', shared), '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Skipping .*checkpoint-epoch-2, another run's: .*trained on other data/);
    assert.match(resumed.stderr, /Resuming from .*checkpoint-epoch-1 \(epoch 1 done/);
    const a = await readSafetensors(join(straight, 'model.safetensors'));
    const b = await readSafetensors(join(shared, 'model.safetensors'));
    for (const [name, t] of a) assert.deepEqual((b.get(name) as typeof t).data, t.data, `${name}: the new run's weights`);
  } finally {
    await cleanup();
  }
});
