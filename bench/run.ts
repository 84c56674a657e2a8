/**
 * `npm run bench [-- PART… --steps N --threads N --quick --backends native,tensorflow,wasm,cpu]`: the one benchmark
 * harness.
 * Parts (all by default, in this order):
 *   matmul   GFLOP/s of every matmul variant on `native` vs raw OpenBLAS sgemm
 *   train    full training step (forward, backward, clip, AdamW) of distilbert-base, batch 16, padded to 384 and
 *            with dynamic padding over the SQuAD lengths, per backend, beside transformers + PyTorch 2.13; projected seed-job time
 *            (native and tensorflow measured at full size; wasm and cpu estimated from one layer)
 *   infer    inference throughput (forward only) at 16×384 on native and tensorflow, beside PyTorch
 *   profile  per-kernel time of one native training step, and which engine ran each kernel
 *   bert     a BERT-base (12 layers) training step, padded, on native beside transformers' BertForQuestionAnswering,
 *            and the per-kernel profile of one BERT layer: no kernel outside the native engine above 2% of the step
 *   small    a small model's training step (distilbert at dim 128, 2 layers, 16×192) on native beside transformers:
 *            per-op overhead rather than FLOPs
 *   prepare, ask   the standalone bench/prepare.ts and bench/ask-cold-start.ts scripts, when present
 *   serve          bench/serve.ts: `qa-ft serve` beside ../shared/reference/hf_serve.py under load (1 and 16 clients)
 *   precision      bench/precision.ts: fp32 against bf16, qa-ft native against transformers + PyTorch 2.13, in the
 *                  user's environment, at the run's shape
 * Each measurement runs in its own process (bench/worker.ts) so its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { nativeAvailable, registerNativeBackend } from '../src/engine/index.js';
import { backendUnavailable } from '../src/model/backend-select.js';
import { benchMatmul } from './matmul.js';
import { epochShapes, readLengths } from './batches.js';
import { LENGTHS_FILE, REPO_ROOT } from './paths.js';
import { printTable, fmt } from './table.js';
import type { BenchModel } from './models.js';
import { hfMissing, runHf } from './torch.js';

const PARTS = ['matmul', 'train', 'infer', 'profile', 'bert', 'small', 'prepare', 'ask', 'precision', 'serve'] as const;
type Part = (typeof PARTS)[number];

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: 'string', default: '2' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'native,tensorflow,wasm,cpu' },
  },
});
const unknown = positionals.filter((p) => !(PARTS as readonly string[]).includes(p));
if (unknown.length > 0) {
  console.error(`unknown part(s) ${unknown.join(', ')}; choose from ${PARTS.join(', ')}`);
  process.exit(2);
}
const parts = new Set<Part>(positionals.length > 0 ? (positionals as Part[]) : PARTS);
const steps = Number(opt.steps),
  threads = Number(opt.threads);
// --quick: a smoke run at a fraction of the size (numbers not comparable with the full run's)
const Q = opt.quick ? { batch: 4, seq: 128, layers: 2, scale: 1 / 16 } : { batch: 16, seq: 384, layers: 6, scale: 1 };
const backends = opt.backends
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const JOB = { examples: 4000, epochs: 3 }; // the tutorial job: qa-ft train on 4000 rows × 3 epochs

type Json = Record<string, unknown>;

function worker(args: string[]): Json | { error: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench', 'worker.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Json;
  } catch {
    const err = (r.stderr || r.stdout)
      .trim()
      .split('\n')
      .filter((l) => /error/i.test(l))
      .pop();
    return { error: `worker failed (exit ${r.status ?? r.signal}): ${err ?? 'no output'}` };
  }
}

const isErr = (j: Json | { error: string }): j is { error: string } => 'error' in j;
const log = (s = ''): void => console.log(s);

log(
  `qa-ft bench — ${new Date().toISOString()}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, threads ${threads}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
if (os.loadavg()[0]! > os.availableParallelism())
  log('note: the machine is busy (load > cores): numbers are pessimistic');
const native = nativeAvailable();
if (!native.ok) log(`note: native backend unavailable: ${native.reason}`);
// tfjs-node (libtensorflow): the user installs it, CI assembles it (scripts/build-tfjs-node.mjs)
const tensorflowWhyNot = backends.includes('tensorflow') ? await backendUnavailable('tensorflow') : undefined;
if (tensorflowWhyNot !== undefined) log(`note: tensorflow backend unavailable: ${tensorflowWhyNot}`);
/** Backends measured at full size (the others are estimated from one layer), and why each cannot run here. */
const FULL_SIZE: Record<string, string | undefined> = {
  native: native.ok ? undefined : native.reason,
  tensorflow: tensorflowWhyNot,
};
// the anchor a user would pick instead of qa-ft: transformers + PyTorch 2.13 (hf_bench.py, python3.11)
const torchWhyNot = hfMissing();
if (torchWhyNot !== undefined) log(`note: transformers + PyTorch baseline skipped: ${torchWhyNot}`);

// ---- matmul -------------------------------------------------------------------------------------------------
if (parts.has('matmul')) {
  log(
    '\n## matmul kernels on native vs the raw addon sgemm into a warm preallocated output (median of 7, alternating)',
  );
  if (!native.ok) log('skipped: native backend unavailable');
  else {
    await registerNativeBackend({ threads });
    tf.env().set('PROD', true);
    await tf.setBackend('native');
    const rows = benchMatmul({ scale: Q.scale, reps: 7 });
    printTable(
      [
        'variant',
        'shapes',
        'native GFLOP/s',
        'raw sgemm GFLOP/s',
        'native/raw',
        'native bf16 GFLOP/s (rounding both inputs)',
        'bf16, inputs already rounded',
      ],
      rows.map((r) => [
        r.variant,
        r.shapes,
        fmt(r.nativeGflops, 1),
        fmt(r.rawGflops, 1),
        `${fmt(100 * r.ratio, 0)}%`,
        r.bf16Gflops === undefined ? '—' : fmt(r.bf16Gflops, 1),
        r.bf16CachedGflops === undefined ? '—' : fmt(r.bf16CachedGflops, 1),
      ]),
    );
    const worst = Math.min(...rows.map((r) => r.ratio));
    log(`worst native/raw: ${fmt(100 * worst, 0)}% (target ≥ 80%)`);
  }
}

// ---- train / infer ------------------------------------------------------------------------------------------
interface Row {
  label: string;
  r: Json | { error: string };
  torch?: Json | { error: string };
  note?: string;
}
const trainRows: Row[] = [];
const lengths = await readLengths(LENGTHS_FILE);
const jobShapes = epochShapes(lengths, Q.batch, JOB.examples);
const jobTokensPerEpoch = jobShapes.reduce((s, t) => s + Q.batch * t, 0);
const common = [
  '--batch',
  String(Q.batch),
  '--seq',
  String(Q.seq),
  '--threads',
  String(threads),
  '--layers',
  String(Q.layers),
];

function torchRun(extra: { lengths?: string; infer?: boolean }): Json | { error: string } | undefined {
  if (torchWhyNot !== undefined) return undefined;
  return runHf({ threads, batch: Q.batch, seq: Q.seq, steps, warmup: 1, layers: Q.layers, ...extra });
}

if (parts.has('train')) {
  log(
    `\n## training step (forward, backward, clip, AdamW), batch ${Q.batch}, ${Q.layers} layers, ${steps} timed steps after 1 warm-up`,
  );
  for (const backend of backends) {
    if (backend in FULL_SIZE) {
      const whyNot = FULL_SIZE[backend];
      if (whyNot !== undefined) {
        trainRows.push({ label: backend, r: { error: whyNot } });
        continue;
      }
      log(`${backend}, padded to ${Q.seq}…`);
      trainRows.push({
        label: `${backend}, padded ${Q.seq}`,
        r: worker(['--mode', 'train', '--backend', backend, ...common, '--steps', String(steps)]),
      });
      log(`${backend}, dynamic padding…`);
      trainRows.push({
        label: `${backend}, dynamic`,
        r: worker([
          '--mode',
          'train',
          '--backend',
          backend,
          ...common,
          '--steps',
          String(steps),
          '--lengths',
          LENGTHS_FILE,
        ]),
      });
    } else {
      // wasm and cpu are 10-200× slower: one layer at a smaller batch (cpu: and 128 tokens), scaled to an estimate
      // by layers × tokens (a lower bound for cpu: attention grows faster than the tokens)
      const b = backend === 'cpu' ? 1 : 2,
        t = backend === 'cpu' ? Math.min(128, Q.seq) : Q.seq;
      const factor = Q.layers * ((Q.batch * Q.seq) / (b * t));
      log(`${backend}: estimate from 1 layer at batch ${b}×${t} (1 step)…`);
      const r = worker([
        '--mode',
        'train',
        '--backend',
        backend,
        '--batch',
        String(b),
        '--seq',
        String(t),
        '--layers',
        '1',
        '--steps',
        '1',
        '--warmup',
        backend === 'cpu' ? '0' : '1',
      ]);
      if (!isErr(r)) {
        const s = (r['s_per_step'] as number) * factor;
        r['s_per_step'] = s;
        r['examples_per_s'] = Q.batch / s;
        r['tokens_per_s'] = (Q.batch * Q.seq) / s;
      }
      trainRows.push({
        label: `${backend}, padded ${Q.seq} (estimate)`,
        r,
        note: `1 layer × ${b}×${t} tokens scaled ×${fmt(factor, 0)}; RSS is of that run`,
      });
    }
  }
  const tp = torchRun({}),
    td = torchRun({ lengths: LENGTHS_FILE });
  for (const row of trainRows) row.torch = row.label.includes('dynamic') ? td : tp;
  if (tp) trainRows.push({ label: `transformers + torch 2.13, padded ${Q.seq}`, r: tp });
  if (td) trainRows.push({ label: 'transformers + torch 2.13, dynamic', r: td });
  printTable(
    [
      'run',
      's/step',
      'examples/s',
      'peak RSS MB',
      'qa-ft/PyTorch (ex/s)',
      `tutorial job (${JOB.examples}×${JOB.epochs}, dynamic)`,
    ],
    trainRows.map(rowCells),
  );
  for (const row of trainRows) if (row.note) log(`  ${row.label}: ${row.note}`);
  log(
    `tutorial job projection: ${JOB.epochs} epochs × ${jobShapes.length} batches, ${jobTokensPerEpoch} padded tokens per epoch (batches in file order) ÷ the dynamic run's tokens/s`,
  );
}

function rowCells(row: Row): string[] {
  if (isErr(row.r)) return [row.label, `— ${row.r.error}`, '', '', '', ''];
  const r = row.r;
  const exs = r['examples_per_s'] as number;
  const t = row.torch && !isErr(row.torch) ? (row.torch['examples_per_s'] as number) : undefined;
  const dynamic = row.label.includes('dynamic');
  const tokS = r['tokens_per_s'] as number;
  const job = dynamic && tokS > 0 ? `${fmt((JOB.epochs * jobTokensPerEpoch) / tokS / 3600, 2)} h` : '';
  return [
    row.label,
    fmt(r['s_per_step'] as number, 2),
    fmt(exs, 3),
    String(r['peak_rss_mb']),
    t ? `${fmt(exs / t, 2)}×` : '',
    job,
  ];
}

if (parts.has('infer')) {
  log(`\n## inference (forward only), batch ${Q.batch}×${Q.seq}, ${steps} timed batches after 1 warm-up`);
  const rows: Row[] = [];
  const tInfer = torchRun({ infer: true });
  for (const backend of backends.filter((b) => b in FULL_SIZE)) {
    const whyNot = FULL_SIZE[backend];
    const r =
      whyNot !== undefined
        ? { error: whyNot }
        : worker(['--mode', 'infer', '--backend', backend, ...common, '--steps', String(steps)]);
    rows.push({ label: backend, r, ...(tInfer ? { torch: tInfer } : {}) });
  }
  if (tInfer) rows.push({ label: 'transformers + torch 2.13', r: tInfer });
  printTable(['run', 's/batch', 'examples/s', 'peak RSS MB', 'qa-ft/PyTorch', ''], rows.map(rowCells));
}

/** Runs one profiled native step of `model` and prints its kernel table; the share of the largest JS-run kernel. */
function profileStep(model: BenchModel, args: string[]): void {
  if (!native.ok) {
    log('skipped: native backend unavailable');
    return;
  }
  const r = worker(['--mode', 'profile', '--backend', 'native', '--model', model, ...args]);
  if (isErr(r)) {
    log(r.error);
    return;
  }
  // scopes also appear as kernels (gradient functions as "unnamed scope", ops like tf.fused.matMul as "name__op"),
  // timed around the kernels they contain: shares are of the leaf kernels' time
  const prof = (r['profile'] as { name: string; ms: number; calls: number; engine: string }[]).filter(
    (p) => p.name !== 'unnamed scope' && !p.name.endsWith('__op'),
  );
  const total = prof.reduce((s, p) => s + p.ms, 0);
  log(
    `step wall ${fmt(r['s_per_step'] as number, 2)} s; kernel time ${fmt(total / 1000, 2)} s (the rest: JS-side work such as batch tensors)`,
  );
  printTable(
    ['kernel', 'ms', 'calls', 'share', 'engine'],
    prof.slice(0, 20).map((p) => [p.name, fmt(p.ms, 0), String(p.calls), `${fmt((100 * p.ms) / total, 1)}%`, p.engine]),
  );
  const outside = prof.filter((p) => p.engine !== 'native');
  const worst = outside[0];
  const share = (p: { ms: number }): string => `${fmt((100 * p.ms) / total, 2)}%`;
  log(
    worst === undefined
      ? 'every kernel ran natively'
      : `largest kernel outside the native engine: ${worst.name} (${worst.engine}), ${share(worst)} of kernel time (goal ≤ 2%); all of them together ${share({ ms: outside.reduce((s, p) => s + p.ms, 0) })}`,
  );
}

if (parts.has('profile')) {
  log(
    `\n## per-kernel profile of one native training step (tf.profile), distilbert-base, batch ${Q.batch}×${Q.seq}, 1 layer (after 1 warm-up step)`,
  );
  profileStep('distilbert-base', [...common, '--layers', '1']);
}

/** A training step of `model` on each of the `on` backends (measured at full size) beside transformers, as a table. */
function trainBesideHf(
  model: BenchModel,
  on: readonly string[],
  s: { batch: number; seq: number; steps: number; warmup: number; layers?: number },
): void {
  const torch = torchWhyNot === undefined ? runHf({ model, threads, ...s }) : undefined;
  const args = [
    '--mode',
    'train',
    '--model',
    model,
    '--batch',
    String(s.batch),
    '--seq',
    String(s.seq),
    '--threads',
    String(threads),
    '--steps',
    String(s.steps),
    '--warmup',
    String(s.warmup),
    ...(s.layers === undefined ? [] : ['--layers', String(s.layers)]),
  ];
  const rows: Row[] = on.map((backend) => {
    const whyNot = FULL_SIZE[backend];
    return {
      label: `qa-ft ${backend}`,
      r: whyNot !== undefined ? { error: whyNot } : worker([...args, '--backend', backend]),
      ...(torch ? { torch } : {}),
    };
  });
  if (torch) rows.push({ label: 'transformers + torch 2.13', r: torch });
  printTable(['run', 's/step', 'examples/s', 'peak RSS MB', 'qa-ft/PyTorch (ex/s)', ''], rows.map(rowCells));
}

if (parts.has('bert')) {
  const layers = opt.quick ? 2 : 12;
  log(
    `\n## BERT-base training step (${layers} layers), padded ${Q.batch}×${Q.seq}, ${steps} timed steps after 1 warm-up, beside transformers' BertForQuestionAnswering`,
  );
  trainBesideHf('bert-base', ['native'], { batch: Q.batch, seq: Q.seq, steps, warmup: 1, layers });
  log(`\n### per-kernel profile of one BERT layer, ${Q.batch}×${Q.seq}`);
  profileStep('bert-base', [...common, '--layers', '1']);
}

if (parts.has('small')) {
  const shape = { batch: 16, seq: opt.quick ? 64 : 192, steps: 10, warmup: 2 };
  log(
    `\n## small model (distilbert at dim 128, 2 layers, 2 heads, FFN 512) training step, padded ${shape.batch}×${shape.seq}, ${shape.steps} timed steps after ${shape.warmup} warm-up`,
  );
  trainBesideHf(
    'small',
    backends.filter((b) => b in FULL_SIZE),
    shape,
  );
}

const precisionArgs = [
  '--layers',
  String(Q.layers),
  '--batch',
  String(Q.batch),
  '--seq',
  String(Q.seq),
  '--steps',
  String(steps),
  '--threads',
  String(threads),
];
for (const [part, file, args] of [
  ['prepare', 'prepare.ts', []],
  ['ask', 'ask-cold-start.ts', []],
  ['precision', 'precision.ts', precisionArgs],
  ['serve', 'serve.ts', []],
] as const) {
  if (!parts.has(part)) continue;
  log(`\n## ${part} (bench/${file})`);
  const script = path.join(REPO_ROOT, 'bench', file);
  if (!existsSync(script)) {
    log(`skipped: bench/${file} is not there yet`);
    continue;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) log(`bench/${file} exited with ${r.status ?? r.signal}`);
}
