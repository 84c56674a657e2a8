/**
 * `npm run bench -- serve`: `qa-ft serve` beside ../shared/reference/hf_serve.py (FastAPI + transformers 4.57's
 * pipeline, one request at a time) on the same distilbert-base-size random-init model directory, in the same run:
 * median and p99 latency of a single client, requests/s and p99 at 16 concurrent clients, errors. The requests are
 * real SQuAD (question, context) pairs. Our own closed-loop client (fetch, keep-alive): each client sends its next
 * request when the previous one is answered.
 *
 * Options: --seconds N (each concurrent run, default 20), --single N (sequential requests, default 30),
 * --clients N (default 16), --python PATH (default ~/.cache/tf4/bin/python).
 * Run it in the user's environment: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE npm run bench -- serve
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRandomQaModel } from '../src/model/qa-model.js';
import { parseDistilBertConfig } from '../src/model/config.js';
import { readSquad } from '../src/data/read.js';
import { nativeAvailable } from '../src/engine/index.js';
import { MODEL_DIR, REPO_ROOT, SHARED_DIR } from './paths.js';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    single: { type: 'string', default: '30' },
    clients: { type: 'string', default: '16' },
    python: { type: 'string', default: path.join(os.homedir(), '.cache', 'tf4', 'bin', 'python') },
  },
});
const SECONDS = Number(opt.seconds);
const SINGLE = Number(opt.single);
const CLIENTS = Number(opt.clients);
const BENCH_MODEL = path.join(REPO_ROOT, '.bench', 'serve-distilbert-base-random');
const HF_SERVE = path.join(SHARED_DIR, 'reference', 'hf_serve.py');
const SQUAD = path.join(SHARED_DIR, 'data', 'squad-v1.1', 'train-first5000.parquet');

/** distilbert-base-uncased's config and tokenizer with random weights (none are stored here), made once. */
async function benchModel(): Promise<string> {
  if (existsSync(path.join(BENCH_MODEL, 'model.safetensors'))) return BENCH_MODEL;
  const config = parseDistilBertConfig(
    JSON.parse(await readFile(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>,
    'distilbert-base-uncased',
  );
  const model = await createRandomQaModel(config, { backend: 'cpu', seed: 42 });
  try {
    await model.save(BENCH_MODEL);
  } finally {
    model.dispose();
  }
  await mkdir(BENCH_MODEL, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt'])
    await copyFile(path.join(MODEL_DIR, f), path.join(BENCH_MODEL, f));
  return BENCH_MODEL;
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up`);
}

interface Load {
  requests: number;
  errors: number;
  /** The first few errors, for the report. */
  samples: string[];
  seconds: number;
  latencies: number[];
}

/** `clients` closed-loop clients for `seconds` (or `count` requests in all), cycling through `bodies`. */
async function load(
  url: string,
  bodies: readonly string[],
  clients: number,
  limit: { seconds?: number; count?: number },
): Promise<Load> {
  const latencies: number[] = [];
  const samples: string[] = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const deadline = limit.seconds === undefined ? Infinity : t0 + limit.seconds * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < deadline && (limit.count === undefined || next < limit.count)) {
      const body = bodies[next++ % bodies.length]!;
      const s = performance.now();
      try {
        const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const text = await r.text();
        const json = JSON.parse(text) as { answer?: unknown };
        if (!r.ok || typeof json.answer !== 'string') {
          errors++;
          if (samples.length < 3) samples.push(`${r.status} ${text.slice(0, 120)}`);
        }
      } catch (e) {
        errors++;
        if (samples.length < 3) samples.push(`${String(e)} ${String((e as { cause?: unknown }).cause ?? '')}`);
      }
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { requests: latencies.length, errors, samples, seconds: (performance.now() - t0) / 1000, latencies };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Row {
  server: string;
  singleMedian: number;
  singleP99: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  samples: string[];
  /** qa-ft only, from its /metrics over the concurrent run: windows per forward pass, share of the time in passes. */
  passes?: { windows: number; busy: number };
}

/** The sums and counts of qa-ft serve's batch histograms (undefined for a server without them). */
async function batchTotals(url: string): Promise<{ windows: number; passes: number; seconds: number } | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const windows = value('qaft_batch_windows_sum'),
    passes = value('qaft_batch_windows_count'),
    seconds = value('qaft_batch_duration_seconds_sum');
  return windows === undefined || passes === undefined || seconds === undefined
    ? undefined
    : { windows, passes, seconds };
}

async function measure(name: string, url: string, bodies: string[]): Promise<Row> {
  await load(url, bodies.slice(0, 8), 4, { count: 8 }); // warm-up
  const single = await load(url, bodies, 1, { count: SINGLE });
  const before = await batchTotals(url);
  const many = await load(url, bodies.slice(SINGLE), CLIENTS, { seconds: SECONDS });
  const after = await batchTotals(url);
  return {
    ...(before && after
      ? {
          passes: {
            windows: (after.windows - before.windows) / (after.passes - before.passes),
            busy: (after.seconds - before.seconds) / many.seconds,
          },
        }
      : {}),
    server: name,
    singleMedian: pct(single.latencies, 50),
    singleP99: pct(single.latencies, 99),
    rps: many.requests / many.seconds,
    p50: pct(many.latencies, 50),
    p99: pct(many.latencies, 99),
    errors: single.errors + many.errors,
    samples: [...single.samples, ...many.samples],
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
}

const dir = await benchModel();
const { rows } = await readSquad(SQUAD);
const bodies = rows.slice(0, 1000).map((r) => JSON.stringify({ inputs: { question: r.question, context: r.context } }));
console.log(
  `serve bench — ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `model: ${dir} (distilbert-base-uncased config, random weights); SQuAD train pairs; single client ${SINGLE} requests, ${CLIENTS} clients for ${SECONDS} s`,
);
const env = { ...process.env };
delete env['OPENBLAS_CORETYPE'];
delete env['OPENBLAS_L2_SIZE'];

const results: Row[] = [];
const backend = nativeAvailable() ? 'native' : 'auto';
const ours = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    path.join(REPO_ROOT, 'src', 'cli.ts'),
    'serve',
    '--model',
    dir,
    '--port',
    '18431',
    '--backend',
    backend,
    '--quiet',
  ],
  { env, stdio: ['ignore', 'ignore', 'inherit'] },
);
try {
  await waitFor('http://127.0.0.1:18431', ours, 'qa-ft serve');
  results.push(await measure(`qa-ft serve (${backend}, batched)`, 'http://127.0.0.1:18431', bodies));
} finally {
  await stop(ours);
}
if (!existsSync(opt.python)) {
  console.log(`reference skipped: ${opt.python} is missing (bash ../shared/reference/make_tf4_venv.sh ~/.cache/tf4)`);
} else {
  const ref = spawn(opt.python, [HF_SERVE, dir, '18432'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitFor('http://127.0.0.1:18432', ref, 'hf_serve.py');
    results.push(await measure('hf_serve.py (transformers 4.57 pipeline)', 'http://127.0.0.1:18432', bodies));
  } finally {
    await stop(ref);
  }
}
console.log(
  `\n| server | 1 client median ms | 1 client p99 ms | req/s at ${CLIENTS} | p50 ms at ${CLIENTS} | p99 ms at ${CLIENTS} | errors |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.server} | ${r.singleMedian.toFixed(0)} | ${r.singleP99.toFixed(0)} | ${r.rps.toFixed(2)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.errors} |`,
  );
}
for (const r of results) for (const e of r.samples) console.log(`error (${r.server}): ${e}`);
for (const r of results) {
  if (r.passes)
    console.log(
      `${r.server} at ${CLIENTS} clients: ${r.passes.windows.toFixed(1)} windows per forward pass, ${(100 * r.passes.busy).toFixed(0)}% of the time in passes`,
    );
}
const [a, b] = results;
if (a && b)
  console.log(
    `\nthroughput at ${CLIENTS} clients: ${(a.rps / b.rps).toFixed(2)}× the reference; single-client median ${(a.singleMedian / b.singleMedian).toFixed(2)}× its latency`,
  );
