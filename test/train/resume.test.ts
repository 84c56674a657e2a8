/**
 * Crash safety of a whole run, through the CLI: `qa-ft train` killed with SIGKILL at 10 random moments (some while a
 * checkpoint is being written or rotated out), each followed by `--resume`, ends with exactly the weights and the
 * metrics log of an uninterrupted run; after every kill, every `checkpoint-STEP` in --out is complete. Batch order
 * is a pure function of (seed, epoch) and dropout (0.1 here, so it matters) of (seed, micro-step).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/model/safetensors.js';
import { makeTempDir, repoRoot, runCli, sharedDir } from '../helpers/cli.js';
import { TINY_CONFIG, writeSyntheticSquad } from './synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');
const CHECKPOINT_FILES = [
  'config.json',
  'model.safetensors',
  'optimizer.pt',
  'optimizer.safetensors',
  'qa-ft-state.json',
  'scheduler.pt',
  'trainer_state.json',
];

/** 12 optimizer steps (48 train rows / batch 8 × 2 epochs); an evaluation and a checkpoint every 2, one kept besides the best. */
function trainArgs(dir: string, out: string): string[] {
  return [
    'train',
    '--data',
    join(dir, 'data'),
    '--model',
    TOKENIZER,
    '--init',
    'random',
    '--config',
    join(dir, 'config.json'),
    '--out',
    out,
    '--epochs',
    '2',
    '--lr',
    '2e-3',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--logging-steps',
    '1',
    '--seed',
    '5',
    '--eval-every',
    '2',
    '--save-total-limit',
    '1',
    '--load-best-model-at-end',
    '--metric-for-best-model',
    'f1',
    '--quiet',
  ];
}

/** Mulberry32, so the kill moments are random but the same in every run of the test. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type KillMoment = { afterMs: number } | { duringCheckpointWrite: true; fallbackMs: number };

/**
 * Runs `qa-ft train` and SIGKILLs it at `moment`: `afterMs` after training starts (its first stderr line), or as
 * soon as a checkpoint's temporary directory appears in `out` (a write or a rotation in progress; inotify, so
 * within a millisecond or so), else after `fallbackMs`. Resolves with how it ended and whether a write was hit.
 */
function trainAndKill(
  args: string[],
  out: string,
  moment: KillMoment,
): Promise<{ signal: NodeJS.Signals | null; stderr: string; hitWrite: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let hitWrite = false;
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    const kill = (): void => void child.kill('SIGKILL');
    child.stderr.on('data', (d: Buffer) => {
      const first = stderr === '';
      stderr += d.toString();
      if (!first) return;
      if ('afterMs' in moment) {
        timer = setTimeout(kill, moment.afterMs);
      } else {
        timer = setTimeout(kill, moment.fallbackMs);
        watcher = watch(out, (_event, name) => {
          if (name?.startsWith('.checkpoint-')) {
            hitWrite = true;
            kill();
          }
        });
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      resolve({ signal, stderr, hitWrite });
    });
  });
}

/** The names of `out`'s checkpoints that lack a file (none may). */
async function incompleteCheckpoints(out: string): Promise<string[]> {
  const names = (await readdir(out)).filter((n) => /^checkpoint-\d+$/.test(n));
  const incomplete: string[] = [];
  for (const n of names) {
    const files = new Set(await readdir(join(out, n)));
    if (!CHECKPOINT_FILES.every((f) => files.has(f))) incomplete.push(n);
  }
  return incomplete;
}

test('SIGKILL at 10 random moments, each followed by --resume → the weights and log of an uninterrupted run', {
  timeout: 300_000,
}, async (t) => {
  const { dir, cleanup } = await makeTempDir('qa-ft-kill-');
  try {
    await writeSyntheticSquad(join(dir, 'facts.json'), 64, 3);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ ...TINY_CONFIG, dropout: 0.1, attention_dropout: 0.1, qa_dropout: 0.1 }),
    );
    const prep = await runCli([
      'prepare',
      '--input',
      join(dir, 'facts.json'),
      '--split',
      'train',
      '--test-size',
      '0.25',
      '--tokenizer',
      TOKENIZER,
      '--max-length',
      '48',
      '--out',
      join(dir, 'data'),
    ]);
    assert.equal(prep.code, 0, prep.stderr);

    const straight = join(dir, 'straight');
    const started = Date.now();
    const full = await runCli(trainArgs(dir, straight));
    assert.equal(full.code, 0, full.stderr);
    const runMs = Date.now() - started;

    const out = join(dir, 'killed');
    await mkdir(out);
    const random = seeded(2026);
    let hits = 0;
    for (let kill = 1; kill <= 10; kill++) {
      const args = kill === 1 ? trainArgs(dir, out) : [...trainArgs(dir, out), '--resume'];
      // every third kill aims at a checkpoint write or rotation; the others at a random moment of the run
      const moment: KillMoment =
        kill % 3 === 0
          ? { duringCheckpointWrite: true, fallbackMs: runMs }
          : { afterMs: (kill === 1 ? runMs / 3 : 0) + random() * (runMs / 10) };
      const r = await trainAndKill(args, out, moment);
      assert.equal(
        r.signal,
        'SIGKILL',
        `kill ${kill}: the run ended on its own before it could be killed:\n${r.stderr}`,
      );
      if (r.hitWrite) hits += 1;
      assert.deepEqual(await incompleteCheckpoints(out), [], `kill ${kill}: an incomplete checkpoint is visible`);
    }
    const resumed = await runCli([...trainArgs(dir, out), '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Resuming from .*checkpoint-\d+ \(step \d+/);

    const a = await readSafetensors(join(straight, 'model.safetensors'));
    const b = await readSafetensors(join(out, 'model.safetensors'));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [name, t] of a)
      assert.deepEqual((b.get(name) as typeof t).data, t.data, `${name} differs after 10 kills and resumes`);
    // each resume rewrites the log to its checkpoint's history: same records as the uninterrupted run, none twice
    assert.equal(
      await readFile(join(out, 'metrics.jsonl'), 'utf8'),
      await readFile(join(straight, 'metrics.jsonl'), 'utf8'),
    );
    assert.deepEqual(
      (await readdir(out)).filter((f) => f.startsWith('.') && f !== '.qa-ft.lock'),
      [],
      'no temporary directories left',
    );
    t.diagnostic(`${hits} of 3 aimed kills landed while a checkpoint was written or rotated out`);
    assert.ok(hits >= 1, 'at least one kill landed during a checkpoint write or rotation');
  } finally {
    await cleanup();
  }
});

test('--resume after another run in the same --out continues this run (its data), and refuses a changed option', {
  timeout: 240_000,
}, async () => {
  const { dir, cleanup } = await makeTempDir('qa-ft-resume-other-');
  try {
    await writeFile(join(dir, 'config.json'), JSON.stringify(TINY_CONFIG));
    for (const [name, seed] of [
      ['old', 3],
      ['new', 4],
    ] as const) {
      await writeSyntheticSquad(join(dir, `${name}.json`), 40, seed);
      const prep = await runCli([
        'prepare',
        '--input',
        join(dir, `${name}.json`),
        '--split',
        'train',
        '--tokenizer',
        TOKENIZER,
        '--max-length',
        '48',
        '--out',
        join(dir, name),
      ]);
      assert.equal(prep.code, 0, prep.stderr);
    }
    const args = (data: string, out: string): string[] => [
      'train',
      '--data',
      join(dir, data),
      '--model',
      TOKENIZER,
      '--init',
      'random',
      '--config',
      join(dir, 'config.json'),
      '--out',
      out,
      '--epochs',
      '2',
      '--lr',
      '2e-3',
      '--batch-size',
      '8',
      '--backend',
      'cpu',
      '--seed',
      '5',
    ];
    const shared = join(dir, 'out');
    const old = await runCli(args('old', shared)); // a finished run
    assert.equal(old.code, 0, old.stderr);
    const straight = join(dir, 'straight');
    assert.equal((await runCli(args('new', straight))).code, 0);
    // the new run into the shared --out, killed right after its first checkpoint (4 steps per epoch, as the old run's)
    await rm(join(shared, 'checkpoint-4'), { recursive: true });
    await cp(join(straight, 'checkpoint-4'), join(shared, 'checkpoint-4'), { recursive: true });

    const changed = await runCli([...args('new', shared), '--resume', '--weight-decay', '0.1']);
    assert.equal(changed.code, 1, changed.stderr);
    assert.match(
      changed.stderr,
      /^qa-ft: error: .*checkpoint-4 was trained with --weight-decay = 0\.01, this run has 0\.1 \(/m,
    );
    assert.doesNotMatch(changed.stderr, /Skipping/, 'nothing resumed, nothing skipped');

    const resumed = await runCli([...args('new', shared), '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Skipping .*checkpoint-8, another run's: .*trained on other data/);
    assert.match(resumed.stderr, /Resuming from .*checkpoint-4 \(step 4, epoch 1\)/);
    const a = await readSafetensors(join(straight, 'model.safetensors'));
    const b = await readSafetensors(join(shared, 'model.safetensors'));
    for (const [name, t] of a)
      assert.deepEqual((b.get(name) as typeof t).data, t.data, `${name}: the new run's weights`);
  } finally {
    await cleanup();
  }
});
