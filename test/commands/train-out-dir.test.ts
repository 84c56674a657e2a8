/**
 * `qa-ft train --out` that another run used or is using: refused unless --resume or --overwrite-output-dir, and
 * locked for the run, so two runs never write one directory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, repoRoot, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { TINY_CONFIG, writeSyntheticSquad } from '../train/synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');
/** Above Linux's largest pid (2^22): never running. */
const DEAD_PID = 4194311;
let tmp: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await makeTempDir('qa-ft-out-dir-');
  await writeFile(join(tmp.dir, 'config.json'), JSON.stringify(TINY_CONFIG));
  for (const [name, rows] of [
    ['small', 24],
    ['large', 96],
  ] as const) {
    await writeSyntheticSquad(join(tmp.dir, `${name}.json`), rows, 7);
    const prep = await runCli([
      'prepare',
      '--input',
      join(tmp.dir, `${name}.json`),
      '--split',
      'train',
      '--tokenizer',
      TOKENIZER,
      '--max-length',
      '48',
      '--out',
      join(tmp.dir, name),
    ]);
    assert.equal(prep.code, 0, prep.stderr);
  }
});
after(() => tmp.cleanup());

function trainArgs(out: string, extra: string[] = [], data = 'small'): string[] {
  return [
    'train',
    '--data',
    join(tmp.dir, data),
    '--model',
    TOKENIZER,
    '--init',
    'random',
    '--config',
    join(tmp.dir, 'config.json'),
    '--out',
    out,
    '--epochs',
    '1',
    '--lr',
    '1e-3',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--quiet',
    ...extra,
  ];
}

/** The one `qa-ft: error:` line of a failed run (asserting there is exactly one and no stack trace). */
function errorLine(r: CliResult): string {
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft: error'));
  assert.equal(errors.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  return errors[0] ?? '';
}

async function seedOf(checkpoint: string): Promise<number> {
  return (JSON.parse(await readFile(join(checkpoint, 'qa-ft-state.json'), 'utf8')) as { run: { seed: number } }).run
    .seed;
}

test("a second train into a finished run's --out is refused without --resume or --overwrite-output-dir, and changes nothing", {
  timeout: 120_000,
}, async () => {
  const out = join(tmp.dir, 'reused');
  const first = await runCli(trainArgs(out, ['--epochs', '2', '--seed', '1']));
  assert.equal(first.code, 0, first.stderr);
  assert.ok(!existsSync(join(out, '.qa-ft.lock')), 'the lock is released at the end of the run');
  await writeFile(join(out, 'notes.txt'), 'mine\n');
  const before = {
    metrics: await readFile(join(out, 'metrics.jsonl')),
    weights: await readFile(join(out, 'model.safetensors')),
    names: (await readdir(out)).sort(),
  };

  const again = await runCli(trainArgs(out, ['--seed', '2']));
  const line = errorLine(again);
  assert.ok(line.includes(`--out ${out} holds another training run's outputs`), line);
  assert.match(line, /--resume/);
  assert.match(line, /--overwrite-output-dir/);
  assert.deepEqual(await readFile(join(out, 'metrics.jsonl')), before.metrics);
  assert.deepEqual(await readFile(join(out, 'model.safetensors')), before.weights);
  assert.deepEqual((await readdir(out)).sort(), before.names);

  const both = await runCli(trainArgs(out, ['--resume', '--overwrite-output-dir']));
  assert.match(errorLine(both), /--resume and --overwrite-output-dir contradict each other/);

  const overwritten = await runCli(trainArgs(out, ['--seed', '2', '--overwrite-output-dir']));
  assert.equal(overwritten.code, 0, overwritten.stderr);
  assert.match(overwritten.stderr, /--overwrite-output-dir: removed the previous run's checkpoint-3, checkpoint-6, /);
  assert.ok(!existsSync(join(out, 'checkpoint-6')), "the earlier run's checkpoint-6 is gone");
  assert.equal(await seedOf(join(out, 'checkpoint-3')), 2, 'checkpoint-3 is the new run’s');
  assert.equal(await seedOf(out), 2, 'the final model is the new run’s');
  assert.equal(await readFile(join(out, 'notes.txt'), 'utf8'), 'mine\n', 'a file of the user’s is kept');
  const steps = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').length;
  assert.ok(
    steps < before.metrics.toString().trim().split('\n').length,
    'metrics.jsonl holds the new (1-epoch) run only',
  );
  assert.deepEqual(
    (await readdir(out)).filter((n) => n.startsWith('.')),
    [],
    'no temporary names or lock left',
  );
});

test('an --out holding only other files (not a training run’s) is trained into, and they are kept', {
  timeout: 120_000,
}, async () => {
  const out = join(tmp.dir, 'foreign');
  await mkdir(out);
  await writeFile(join(out, 'notes.txt'), 'mine\n');
  const r = await runCli(trainArgs(out));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(out, 'notes.txt'), 'utf8'), 'mine\n');
  assert.ok(existsSync(join(out, 'model.safetensors')));
});

/** Starts `qa-ft train` and collects its exit code and stderr. */
function start(args: string[]): { pid: number; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.ok(child.pid !== undefined);
  return { pid: child.pid, done };
}

test('two concurrent train runs into one --out: exactly one proceeds, the other fails at once naming its pid', {
  timeout: 180_000,
}, async () => {
  const out = join(tmp.dir, 'concurrent');
  const runs = [start(trainArgs(out, ['--seed', '1'], 'large')), start(trainArgs(out, ['--seed', '2'], 'large'))];
  const finished: number[] = [];
  const results = await Promise.all(
    runs.map((r, i) =>
      r.done.then((result) => {
        finished.push(i);
        return result;
      }),
    ),
  );
  const winner = results.findIndex((r) => r.code === 0);
  assert.notEqual(winner, -1, results.map((r) => r.stderr).join('\n---\n'));
  const loserIndex = 1 - winner;
  const [won, lost] = [runs[winner], runs[loserIndex]];
  const loser = results[loserIndex];
  assert.ok(won && lost && loser);
  assert.deepEqual(finished, [loserIndex, winner], 'the refused run ends while the other still trains');
  const line = errorLine(loser);
  assert.ok(line.includes(`--out ${out} is in use by another qa-ft run: pid ${won.pid} (`), line);
  assert.match(line, /\(qa-ft train --data .* --seed \d, started /, 'the holder’s command');
  const seeds = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number });
  assert.deepEqual(
    seeds.map((r) => r.step),
    [...seeds.map((r) => r.step)].sort((a, b) => a - b),
    'one run’s records only: steps never go back',
  );
  assert.equal(await seedOf(out), winner + 1);
});

test('a stale lock (a dead pid) in --out is taken over with a notice; a live one blocks', {
  timeout: 120_000,
}, async () => {
  const holder = (pid: number): string =>
    JSON.stringify({
      pid,
      hostname: hostname(),
      command: 'qa-ft train --seed 9',
      startedAt: '2024-01-01T00:00:00.000Z',
    });
  const stale = join(tmp.dir, 'stale');
  await mkdir(stale);
  await writeFile(join(stale, '.qa-ft.lock'), holder(DEAD_PID));
  const r = await runCli(trainArgs(stale));
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `Took over the stale lock .*\\.qa-ft\\.lock \\(pid ${DEAD_PID}, qa-ft train --seed 9, .* is no longer running\\)`,
    ),
  );
  assert.ok(!existsSync(join(stale, '.qa-ft.lock')));

  const live = join(tmp.dir, 'live');
  await mkdir(live);
  await writeFile(join(live, '.qa-ft.lock'), holder(process.pid));
  const blocked = await runCli(trainArgs(live));
  assert.ok(
    errorLine(blocked).includes(
      `--out ${live} is in use by another qa-ft run: pid ${process.pid} (qa-ft train --seed 9`,
    ),
  );
  assert.deepEqual(await readdir(live), ['.qa-ft.lock'], 'nothing written, the holder’s lock kept');
});
