/**
 * One benchmark measurement in its own process (so peak RSS is this measurement's alone): a full training step
 * (forward, backward, clip, AdamW: `createTrainer(...).step`), inference, or a per-kernel profile of one
 * training step, of a random-weight QA model (bench/models.ts) on one backend. Prints one JSON line; a profile
 * also says, per kernel, how many calls the native engine served and how many went to TF.js's JS cpu kernel.
 *
 *   node --import tsx bench/worker.ts --mode train|infer|profile --backend native --batch 16 --seq 384
 *     [--model distilbert-base|bert-base|small] [--lengths FILE] [--layers N] [--steps 2] [--warmup 1] [--threads N]
 *     [--precision fp32|bf16]
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadConfig } from '../src/model/config.js';
import { createRandomQaModel } from '../src/model/qa-model.js';
import type { BackendName, Precision } from '../src/model/types.js';
import type { QaBatch } from '../src/records.js';
import { createTrainer } from '../src/train/trainer.js';
import { nativeKernelCalls } from '../src/engine/index.js';
import { batchShapes, randomBatch } from './batches.js';
import { BENCH_MODELS, writeBenchConfig, type BenchModel } from './models.js';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'train' },
    backend: { type: 'string', default: 'native' },
    model: { type: 'string', default: 'distilbert-base' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '384' },
    lengths: { type: 'string' },
    layers: { type: 'string' },
    steps: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string' },
    precision: { type: 'string', default: 'fp32' },
  },
});

const batch = Number(a.batch),
  seq = Number(a.seq),
  steps = Number(a.steps),
  warmup = Number(a.warmup);
if (!(BENCH_MODELS as readonly string[]).includes(a.model))
  throw new Error(`--model: one of ${BENCH_MODELS.join(', ')}`);
const configDir = writeBenchConfig(a.model as BenchModel, a.layers === undefined ? undefined : Number(a.layers));
const config = await loadConfig(configDir);
rmSync(configDir, { recursive: true, force: true });
const threads = a.threads === undefined ? undefined : Number(a.threads);
const precision = a.precision as Precision; // checked where the model loads
const model = await createRandomQaModel(config, {
  backend: a.backend as BackendName,
  precision,
  seed: 0,
  ...(threads ? { threads } : {}),
});
const shapes = await batchShapes(batch, seq, a.lengths, warmup + steps);
const trainer = createTrainer(model, { learningRate: 2e-5, weightDecay: 0.01, maxGradNorm: 1, totalSteps: 1000 });

async function once(b: QaBatch): Promise<void> {
  if (a.mode === 'infer') {
    const { startLogits, endLogits } = model.logits(b);
    await startLogits.data();
    await endLogits.data();
    tf.dispose([startLogits, endLogits]);
  } else {
    await trainer.step(b);
  }
}

const times: number[] = [];
let tokens = 0;
let profile: { name: string; ms: number; calls: number; engine: string }[] | undefined;

/**
 * Who ran a kernel's calls: `native` (qa-ft's own kernels, which the cpu backend lacks, or every call served by the
 * addon), `JS` (TF.js's cpu kernel, which the native engine does not implement), or `native N/M` when M-N calls fell
 * back to the JS kernel.
 */
function engineOf(name: string, calls: { native: number; fallback: number } | undefined): string {
  if (tf.getKernel(name, 'cpu') === undefined) return 'native';
  if (calls === undefined) return 'JS';
  return calls.fallback === 0 ? 'native' : `native ${calls.native}/${calls.native + calls.fallback}`;
}
for (let i = 0; i < warmup + steps; i++) {
  const b = randomBatch(batch, shapes[i]!, config.vocabSize, i);
  if (a.mode === 'profile' && i === warmup) {
    nativeKernelCalls(true);
    const t0 = performance.now();
    const info = await tf.profile(() => once(b));
    times.push((performance.now() - t0) / 1000);
    const byName = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(await k.kernelTimeMs);
      e.calls += 1;
      byName.set(k.name, e);
    }
    const calls = nativeKernelCalls();
    profile = [...byName]
      .map(([name, e]) => ({ name, ...e, engine: engineOf(name, calls.get(name)) }))
      .sort((x, y) => y.ms - x.ms);
    break;
  }
  const t0 = performance.now();
  await once(b);
  if (i >= warmup) {
    times.push((performance.now() - t0) / 1000);
    tokens += batch * shapes[i]!;
  }
}
const total = times.reduce((s, t) => s + t, 0);
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(
  JSON.stringify({
    impl: `qa-ft ${tf.getBackend()}${model.precision === 'bf16' ? ', bf16' : ''}`,
    precision: model.precision,
    mode: a.mode,
    backend: tf.getBackend(),
    batch,
    padding: a.lengths ? 'dynamic' : `max_length ${seq}`,
    layers: config.nLayers,
    steps: times.length,
    s_per_step: total / times.length,
    examples_per_s: (batch * times.length) / total,
    tokens_per_s: tokens / total,
    peak_rss_mb: peakRssMb,
    ...(profile ? { profile } : {}),
  }),
);
trainer.dispose();
model.dispose();
