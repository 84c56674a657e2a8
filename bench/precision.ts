/**
 * fp32 against bf16, qa-ft native against transformers + PyTorch (hf_bench.py, python3.11), one training step
 * (forward, backward, clip, AdamW) of distilbert-base-shaped models, each in its own process:
 *
 *   node --import tsx bench/precision.ts [--layers 6] [--batch 16] [--seq 384] [--steps 2] [--warmup 2] [--threads N]
 *     [--infer]
 *
 * Two warm-up steps by default: qa-ft's first two steps fault in the memory its pool of released arrays then
 * recycles (a steady-state step allocates nothing new), so the third step is the first like the thousands after it.
 *
 * Runs as a user would: without this workplace's OpenBLAS pin (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset in the
 * children alone), plus qa-ft fp32 under the pin for comparison. bf16 rows say why when bf16 cannot run here
 * (no oneDNN or no AVX512_BF16: qa-ft refuses; PyTorch's autocast then runs without bf16 hardware, slowly).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bf16Support } from '../src/engine/index.js';
import { REPO_ROOT } from './paths.js';
import { fmt, printTable } from './table.js';
import { hfMissing, runHf } from './torch.js';

const { values: o } = parseArgs({
  options: {
    layers: { type: 'string', default: '6' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '384' },
    steps: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    infer: { type: 'boolean', default: false },
    'skip-hf-bf16': { type: 'boolean', default: false },
  },
});
const shape = {
  layers: Number(o.layers),
  batch: Number(o.batch),
  seq: Number(o.seq),
  steps: Number(o.steps),
  warmup: Number(o.warmup),
  threads: Number(o.threads),
};
const mode = o.infer ? 'infer' : 'train';

type Result = Record<string, unknown> | { error: string };
const isErr = (r: Result): r is { error: string } => 'error' in r;

/** The environment a user runs in: this workplace's OpenBLAS pin removed. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

function qaft(precision: 'fp32' | 'bf16', env: NodeJS.ProcessEnv): Result {
  const args = [
    '--import',
    'tsx',
    path.join(REPO_ROOT, 'bench', 'worker.ts'),
    '--mode',
    mode,
    '--backend',
    'native',
    '--batch',
    String(shape.batch),
    '--seq',
    String(shape.seq),
    '--layers',
    String(shape.layers),
    '--steps',
    String(shape.steps),
    '--warmup',
    String(shape.warmup),
    '--threads',
    String(shape.threads),
    '--precision',
    precision,
  ];
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    // the thrown error's own line (`QaFtError: bf16 is not available: …`), not the source frame tsx prints
    const why = (r.stderr || r.stdout)
      .trim()
      .split('\n')
      .find((l) => /^\w*Error: /.test(l));
    return { error: why?.replace(/^\w*Error: /, '') ?? `worker exited with ${r.status ?? r.signal}` };
  }
}

const support = bf16Support();
const hfWhyNot = hfMissing();
const pinned = process.env['OPENBLAS_CORETYPE'];
console.log(
  `## ${mode} step, distilbert-base shapes, ${shape.layers} layers, batch ${shape.batch}×${shape.seq}, ${shape.steps} timed steps after ${shape.warmup} warm-up, threads ${shape.threads}`,
);
console.log(`bf16 on qa-ft: ${support.ok ? `yes (oneDNN ${support.isa})` : `no: ${support.reason}`}`);
if (hfWhyNot !== undefined) console.log(`transformers rows skipped: ${hfWhyNot}`);

const env = userEnv();
const hf = (bf16: boolean): Result =>
  hfWhyNot !== undefined ? { error: hfWhyNot } : runHf({ ...shape, bf16, ...(o.infer ? { infer: true } : {}) });
const rows: { label: string; r: Result; anchor?: Result }[] = [];
console.log('qa-ft fp32…');
const qf = qaft('fp32', env);
console.log('qa-ft bf16…');
const qb = qaft('bf16', env);
console.log('transformers fp32…');
const hf32 = hf(false);
console.log('transformers bf16 autocast…');
const hb16 = o['skip-hf-bf16'] ? { error: 'skipped (--skip-hf-bf16)' } : hf(true);
rows.push({ label: 'qa-ft native fp32', r: qf, anchor: hf32 }, { label: 'qa-ft native bf16', r: qb, anchor: hb16 });
if (pinned !== undefined) {
  console.log(`qa-ft fp32 under the workplace pin (OPENBLAS_CORETYPE=${pinned})…`);
  rows.push({ label: `qa-ft native fp32, OPENBLAS_CORETYPE=${pinned}`, r: qaft('fp32', process.env), anchor: hf32 });
}
rows.push({ label: 'transformers + torch fp32', r: hf32 }, { label: 'transformers + torch bf16 autocast', r: hb16 });

printTable(
  ['run', 's/step', 'peak RSS MB', 'speed vs transformers, same precision'],
  rows.map(({ label, r, anchor }) => {
    if (isErr(r)) return [label, `— ${r.error}`, '', ''];
    const s = r['s_per_step'] as number;
    const a = anchor && !isErr(anchor) ? (anchor['s_per_step'] as number) : undefined;
    return [label, fmt(s, 2), String(r['peak_rss_mb']), a ? `${fmt(a / s, 2)}×` : ''];
  }),
);
if (!isErr(qf) && !isErr(qb))
  console.log(
    `qa-ft bf16 / fp32 ${mode} step: ${fmt((qb['s_per_step'] as number) / (qf['s_per_step'] as number), 2)}×`,
  );
