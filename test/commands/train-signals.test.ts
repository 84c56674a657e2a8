/**
 * Ctrl-C and SIGTERM during `qa-ft train`, through the CLI as a user sends them: one SIGINT mid-epoch (logging and
 * evaluation far away) finishes the step, saves a complete checkpoint, releases --out and exits 130 within a couple
 * of step-times, and --resume continues; a second SIGINT in the middle of a long step ends the process at once (the
 * run still resumes from its last checkpoint); SIGINT while the model is being built ends the process at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testBackends } from '../helpers/backends.js';
import { makeTempDir, repoRoot, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';
import { prepareSynthetic, TINY_CONFIG } from '../train/synthetic-squad.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
/** The native addon arms the signal handler that ends a busy process on the second signal. */
const [native] = await testBackends(['native']);
const nativeSkip = native?.skip ?? 'native backend unavailable';

before(async () => {
  ({ dir, cleanup } = await makeTempDir('qa-ft-signals-'));
  await prepareSynthetic(dir, { rows: 200, seed: 7, prepareArgs: ['--test-size', '0.1'] });
});
after(() => cleanup());

/** 180 train rows. */
function trainArgs(out: string, config: string, ...extra: string[]): string[] {
  return [
    'train',
    '--data',
    join(dir, 'data'),
    '--model',
    BASE_TOKENIZER_DIR,
    '--init',
    'random',
    '--config',
    config,
    '--out',
    out,
    '--lr',
    '2e-3',
    '--seed',
    '3',
    '--quiet',
    ...extra,
  ];
}

interface Child {
  /** Milliseconds since the spawn at which `pattern` first appeared on stderr. */
  waitFor(pattern: RegExp): Promise<number>;
  kill(signal: NodeJS.Signals): number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; at: number }>;
}

/** `qa-ft ARGS` as a child process whose stderr is watched as it comes. */
function start(args: string[]): Child {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiting: { pattern: RegExp; resolve: (ms: number) => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiting]) {
      if (w.pattern.test(stderr)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(Date.now() - t0);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; at: number }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stderr, at: Date.now() - t0 }));
    },
  );
  return {
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        if (pattern.test(stderr)) return resolve(Date.now() - t0);
        waiting.push({ pattern, resolve });
        void exited.then((r) => reject(new Error(`exited (${r.code ?? r.signal}) before ${pattern}: ${r.stderr}`)));
      }),
    kill: (signal) => {
      child.kill(signal);
      return Date.now() - t0;
    },
    exited,
  };
}

async function checkpointsIn(out: string): Promise<string[]> {
  return (await readdir(out)).filter((n) => /^checkpoint-\d+$/.test(n)).sort();
}

async function metricSteps(out: string): Promise<number[]> {
  const text = await readFile(join(out, 'metrics.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { step: number }).step);
}

const CHECKPOINT_FILES = [
  'config.json',
  'model.safetensors',
  'optimizer.pt',
  'optimizer.safetensors',
  'qa-ft-state.json',
  'scheduler.pt',
  'tokenizer.json',
  'tokenizer_config.json',
  'trainer_state.json',
  'vocab.txt',
];

test('one SIGINT mid-epoch, logging and evaluation far away: exit 130 within a couple of step-times, a complete checkpoint-STEP, --out unlocked; --resume continues', {
  skip: nativeSkip,
}, async () => {
  const out = join(dir, 'once');
  // 90 steps per epoch: the first evaluation (and checkpoint) is at step 90, the first log line would be at 100000
  const args = trainArgs(
    out,
    join(dir, 'tiny-config.json'),
    '--batch-size',
    '2',
    '--max-steps',
    '200',
    '--logging-steps',
    '100000',
    '--backend',
    'native',
  );
  const run = start(args);
  const started = await run.waitFor(/optimizer steps \(batch/);
  await new Promise((r) => setTimeout(r, 1000));
  const sent = run.kill('SIGINT');
  const r = await run.exited;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /Stopping after this step to save a checkpoint \(press Ctrl-C again to quit at once\)/);
  const m = /^qa-ft: stopped at step (\d+); saved (\S+) \(continue with: qa-ft train (.*) --resume\)$/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  const [, stepText, checkpoint, resumeArgs] = m as unknown as [string, string, string, string];
  const step = Number(stepText);
  assert.equal(checkpoint, join(out, `checkpoint-${step}`));
  assert.ok(step >= 1 && step < 90, `stopped mid-epoch, before any evaluation: step ${step}`);
  // a step's time, over-estimated: the time training ran before the signal over the steps done by then (≥ step - 1)
  const stepMs = (sent - started) / Math.max(1, step - 1);
  const latency = r.at - sent;
  // a couple of step-times, plus writing the checkpoint (~25 MB with AdamW's moments) and exiting
  assert.ok(
    latency < 2 * stepMs + 2000,
    `exited ${latency} ms after the signal; a step takes ≤ ${stepMs.toFixed(0)} ms`,
  );
  assert.deepEqual((await readdir(checkpoint)).sort(), CHECKPOINT_FILES);
  assert.deepEqual(await checkpointsIn(out), [`checkpoint-${step}`]);
  assert.equal(existsSync(join(out, '.qa-ft.lock')), false, 'the lock is released');
  assert.deepEqual(await metricSteps(out), [], 'nothing logged: no logging or evaluation step was reached');

  const resumed = await runCli(['train', ...resumeArgs.split(' '), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(resumed.stderr.includes(`Resuming from ${checkpoint} (step ${step}`), resumed.stderr);
  assert.deepEqual(
    await metricSteps(out),
    [90, 180, 200],
    "the whole run's evaluations (each epoch's and the last step's)",
  );
  assert.ok(existsSync(join(out, 'model.safetensors')));
});

/** Resolves once `path` exists (polled every 20 ms). */
async function appears(path: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  while (!existsSync(path)) {
    if (done) throw new Error(`exited before ${path} appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a second SIGINT in the middle of a long step ends the process at once; --resume continues from the last checkpoint (taking over the stale lock)', {
  skip: nativeSkip,
}, async () => {
  const out = join(dir, 'twice');
  // the pure-JS cpu backend at batch 32: steps of seconds (measured 4–7 s on a shared 2-core machine)
  const args = trainArgs(
    out,
    join(dir, 'tiny-config.json'),
    '--batch-size',
    '32',
    '--max-steps',
    '2',
    '--logging-steps',
    '1',
    '--eval-every',
    '1',
    '--backend',
    'cpu',
  );
  const run = start(args);
  const started = await run.waitFor(/optimizer steps \(batch/);
  await appears(join(out, 'checkpoint-1'), run.exited); // step 1 done, evaluated and saved: step 2 is running
  const firstStepAt = (await run.waitFor(/eval at step 1/)) - started;
  await new Promise((r) => setTimeout(r, 300));
  run.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 200));
  const second = run.kill('SIGINT');
  const r = await run.exited;
  assert.equal(r.signal, 'SIGINT', `ended by the signal's default action (${r.code}): ${r.stderr}`);
  const latency = r.at - second;
  assert.ok(latency < 1000, `ended ${latency} ms after the second signal`);
  assert.deepEqual(await metricSteps(out), [1, 1], 'step 2 never finished (step 1: its log line and its evaluation)');
  assert.ok(
    firstStepAt > 2 * latency,
    `a step takes seconds (the first took ${firstStepAt} ms): the second signal did not wait for it`,
  );
  assert.deepEqual(await checkpointsIn(out), ['checkpoint-1']);
  assert.deepEqual((await readdir(join(out, 'checkpoint-1'))).sort(), CHECKPOINT_FILES);
  assert.ok(existsSync(join(out, '.qa-ft.lock')), 'killed: the lock stays, stale');

  const resumed = await runCli([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /^Took over the stale lock .*\.qa-ft\.lock/m);
  assert.ok(resumed.stderr.includes(`Resuming from ${join(out, 'checkpoint-1')} (step 1`), resumed.stderr);
  assert.deepEqual(await metricSteps(out), [1, 1, 2, 2]);
  assert.equal(existsSync(join(out, '.qa-ft.lock')), false);
});

test('SIGINT while the model is being built ends the process at once, with nothing written', async () => {
  const out = join(dir, 'building');
  // 96M parameters (a 1.5M-word vocabulary): seconds of initialisation (measured 11 s on a shared 2-core machine)
  const config = join(dir, 'big-vocab.json');
  await writeFile(config, JSON.stringify({ ...TINY_CONFIG, vocab_size: 1_500_000 }));
  const run = start(trainArgs(out, config, '--batch-size', '8', '--max-steps', '1', '--backend', 'cpu'));
  await run.waitFor(/^Building the model: 96,071,298 parameters; training needs at least 1\.5 GB/m);
  await new Promise((r) => setTimeout(r, 200));
  const sent = run.kill('SIGINT');
  const r = await run.exited;
  assert.equal(r.signal, 'SIGINT', `ended by the signal's default action (${r.code}): ${r.stderr}`);
  assert.ok(r.at - sent < 1000, `ended ${r.at - sent} ms after the signal`);
  assert.doesNotMatch(r.stderr, /AdamW:/, 'the model was still being built');
  assert.equal(existsSync(out), false, 'nothing written');
});
