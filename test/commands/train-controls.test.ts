/**
 * The Trainer controls through the CLI (`qa-ft train`): --max-steps with step-wise evaluation, checkpoint rotation
 * and the best model; TensorBoard event files; Ctrl-C (one: checkpoint and exit 130; two: exit at once).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, after, test } from 'node:test';
import { EVENT, maskedCrc32c } from '../../src/train/tensorboard.js';
import { makeTempDir, repoRoot, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';
import { prepareSynthetic } from '../train/synthetic-squad.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};

before(async () => {
  ({ dir, cleanup } = await makeTempDir('qa-ft-controls-'));
  await prepareSynthetic(dir, { rows: 60, seed: 7, prepareArgs: ['--test-size', '0.2'] });
});
after(() => cleanup());

/** 48 train rows / batch 8 = 6 steps per epoch. */
function trainArgs(out: string, ...extra: string[]): string[] {
  return [
    'train',
    '--data',
    join(dir, 'data'),
    '--model',
    BASE_TOKENIZER_DIR,
    '--init',
    'random',
    '--config',
    join(dir, 'tiny-config.json'),
    '--out',
    out,
    '--lr',
    '2e-3',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--logging-steps',
    '1',
    '--seed',
    '3',
    '--quiet',
    ...extra,
  ];
}

async function metricsLines(out: string): Promise<Record<string, number>[]> {
  const text = await readFile(join(out, 'metrics.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>);
}

test('--max-steps 12 --eval-every 4 --save-total-limit 1 --load-best-model-at-end (eval_loss): evals at 4, 8, 12; ≤ 2 checkpoints; final = best', async () => {
  const out = join(dir, 'best');
  const r = await runCli(
    trainArgs(
      out,
      '--max-steps',
      '12',
      '--eval-every',
      '4',
      '--save-total-limit',
      '1',
      '--load-best-model-at-end',
      '--metric-for-best-model',
      'eval_loss',
    ),
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = await metricsLines(out);
  assert.deepEqual(
    lines.filter((l) => 'eval_loss' in l).map((l) => l.step),
    [4, 8, 12],
  );
  assert.equal(Math.max(...lines.map((l) => l.step as number)), 12);
  const checkpoints = (await readdir(out)).filter((n) => n.startsWith('checkpoint-'));
  assert.ok(checkpoints.length <= 2 && checkpoints.includes('checkpoint-12'), checkpoints.join(', '));

  const state = JSON.parse(await readFile(join(out, 'trainer_state.json'), 'utf8')) as {
    best_model_checkpoint: string;
    best_metric: number;
  };
  const evalLosses = lines.filter((l) => 'eval_loss' in l).map((l) => l.eval_loss as number);
  assert.equal(state.best_metric, Math.min(...evalLosses), 'the best is the lowest eval loss');
  assert.ok(
    checkpoints.includes(state.best_model_checkpoint.split('/').pop() as string),
    'the best checkpoint is kept',
  );
  assert.deepEqual(
    await readFile(join(out, 'model.safetensors')),
    await readFile(join(state.best_model_checkpoint, 'model.safetensors')),
  );
  assert.match(r.stderr, /Loaded the best model, .*checkpoint-\d+ \(eval_loss /);
});

test('--report-to tensorboard writes an event file whose scalars and steps are those of metrics.jsonl', async () => {
  const out = join(dir, 'tb');
  const r = await runCli(trainArgs(out, '--max-steps', '6', '--eval-every', '3', '--report-to', 'tensorboard'));
  assert.equal(r.code, 0, r.stderr);
  const [runDir] = await readdir(join(out, 'runs'));
  const files = await readdir(join(out, 'runs', runDir as string));
  assert.equal(files.length, 1);
  assert.match(files[0] as string, /^events\.out\.tfevents\.\d+\./);
  const bytes = await readFile(join(out, 'runs', runDir as string, files[0] as string));

  // TFRecord framing, checked field by field: u64 length, masked CRC of the length, data, masked CRC of the data
  const events: { step: number; fileVersion?: string; scalars: Record<string, number> }[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; ) {
    const length = Number(view.getBigUint64(at, true));
    assert.equal(view.getUint32(at + 8, true), maskedCrc32c(bytes.subarray(at, at + 8)), 'length CRC');
    const data = bytes.subarray(at + 12, at + 12 + length);
    assert.equal(view.getUint32(at + 12 + length, true), maskedCrc32c(data), 'data CRC');
    const e = EVENT.toObject(EVENT.decode(data), { longs: Number }) as {
      step?: number;
      file_version?: string;
      summary?: { value: { tag: string; simple_value: number }[] };
    };
    events.push({
      step: e.step ?? 0,
      fileVersion: e.file_version,
      scalars: Object.fromEntries((e.summary?.value ?? []).map((v) => [v.tag, v.simple_value])),
    });
    at += 12 + length + 4;
  }
  assert.equal(events[0]?.fileVersion, 'brain.Event:2');
  const lines = await metricsLines(out);
  assert.equal(events.length - 1, lines.length, 'one event per metrics.jsonl record');
  for (const [i, line] of lines.entries()) {
    const event = events[i + 1] as (typeof events)[number];
    assert.equal(event.step, line.step);
    const isEval = 'eval_loss' in line;
    for (const [key, value] of Object.entries(line)) {
      if (key === 'step' || (isEval && key === 'epoch')) continue;
      const tag = key.startsWith('eval_') ? `eval/${key.slice(5)}` : `train/${key}`;
      assert.ok(
        Math.abs((event.scalars[tag] as number) - value) <= 1e-6 * Math.max(1, Math.abs(value)),
        `${tag} at step ${line.step}: ${event.scalars[tag]} vs ${value}`,
      );
    }
  }
});

test("TFRecord's masked CRC-32C: CRC-32C('123456789') = 0xE3069283, rotated right 15 plus 0xA282EAD8", () => {
  const crc = 0xe3069283;
  const masked = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
  assert.equal(maskedCrc32c(new TextEncoder().encode('123456789')), masked);
  assert.equal(masked, 0xc78ab0e5); // worked by hand: 0xE3069283 rotated right 15 = 0x2507c60d, + 0xA282EAD8
});

/** `qa-ft train` as a child; `onStep` is called with the highest step in metrics.jsonl as it grows. */
function trainWithSignals(
  args: string[],
  out: string,
  onStep: (step: number, child: ReturnType<typeof spawn>) => void,
  onStderr: (stderr: string, child: ReturnType<typeof spawn>) => void = () => {},
) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr(stderr, child);
    });
    const timer = setInterval(
      () => void metricsLines(out).then((l) => onStep(Math.max(0, ...l.map((x) => x.step as number)), child)),
      20,
    );
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

test('Ctrl-C once: finishes the step, saves checkpoint-STEP, prints it and the resume command, exits 130; the command resumes', async () => {
  const out = join(dir, 'ctrl-c');
  let sent = false;
  const r = await trainWithSignals(trainArgs(out, '--max-steps', '30'), out, (step, child) => {
    if (step >= 3 && !sent) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /Stopping after this step to save a checkpoint \(press Ctrl-C again to quit at once\)/);
  const m = /^qa-ft: stopped at step (\d+); saved (\S+) \(continue with: qa-ft train (.*) --resume\)$/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  const [, step, checkpoint, args] = m as unknown as [string, string, string, string];
  assert.equal(checkpoint, join(out, `checkpoint-${step}`));
  assert.ok(Number(step) >= 3 && Number(step) < 30);
  assert.deepEqual((await readdir(checkpoint)).sort(), [
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
  ]);
  assert.equal(
    args,
    trainArgs(out, '--max-steps', '30').slice(1).join(' '),
    'the same arguments (none needs quoting here)',
  );
  assert.equal((await readdir(out)).includes('model.safetensors'), false, 'no final model yet');

  const resumed = await runCli(['train', ...args.split(' '), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(resumed.stderr.includes(`Resuming from ${checkpoint} (step ${step}`), resumed.stderr);
  assert.equal(Math.max(...(await metricsLines(out)).map((l) => l.step as number)), 30);
});

test('Ctrl-C twice: the process ends at once, by the signal; the checkpoints on disk are complete', async () => {
  const out = join(dir, 'ctrl-c-twice');
  let sent = 0;
  const started = Date.now();
  const r = await trainWithSignals(
    trainArgs(out, '--max-steps', '400', '--eval-every', '2'),
    out,
    (step, child) => {
      if (step >= 3 && sent === 0) {
        sent = 1;
        child.kill('SIGINT');
      }
    },
    (stderr, child) => {
      // the second once the first is taken (two signals sent back to back can merge into one while pending)
      if (sent === 1 && stderr.includes('press Ctrl-C again')) {
        sent = 2;
        child.kill('SIGINT');
      }
    },
  );
  assert.equal(r.signal, 'SIGINT', `${r.code} ${r.stderr}`);
  assert.ok(Date.now() - started < 60_000);
  for (const name of (await readdir(out)).filter((n) => /^checkpoint-\d+$/.test(n))) {
    assert.ok((await readdir(join(out, name))).includes('qa-ft-state.json'), `${name} complete`);
  }
});

test('--resume skips a damaged newest checkpoint (truncated weights) and one with garbage state, says so, keeps them, and ends at the straight run', async () => {
  const straight = join(dir, 'damaged-straight');
  const out = join(dir, 'damaged');
  const args = (o: string): string[] => trainArgs(o, '--max-steps', '8', '--eval-every', '2');
  assert.equal((await runCli(args(straight))).code, 0);
  // a run killed after its checkpoint-6, whose checkpoint-6 and -4 were then damaged on disk
  assert.equal((await runCli(args(out))).code, 0);
  for (const name of [
    'model.safetensors',
    'trainer_state.json',
    'qa-ft-state.json',
    'metrics.jsonl',
    'training-curves.svg',
    'checkpoint-8',
  ]) {
    await rm(join(out, name), { recursive: true, force: true });
  }
  const weights = await readFile(join(out, 'checkpoint-6', 'model.safetensors'));
  await writeFile(join(out, 'checkpoint-6', 'model.safetensors'), weights.subarray(0, weights.length >> 1));
  await writeFile(join(out, 'checkpoint-4', 'qa-ft-state.json'), '{"format": "qa-ft-tra');

  const r = await runCli([...args(out), '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^Skipping damaged checkpoint .*checkpoint-6 \(kept as it is\): .*model\.safetensors/m);
  assert.match(
    r.stderr,
    /^Skipping damaged checkpoint .*checkpoint-4 \(kept as it is\): .*qa-ft-state\.json is not valid JSON/m,
  );
  assert.match(r.stderr, /Resuming from .*checkpoint-2 \(step 2/);
  assert.deepEqual(await readFile(join(out, 'model.safetensors')), await readFile(join(straight, 'model.safetensors')));
});
