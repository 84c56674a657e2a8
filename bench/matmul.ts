/**
 * Part `matmul`: GFLOP/s of every matmul variant a DistilBERT step runs, through the TF.js `native` backend
 * (kernel + output allocation + TF.js bookkeeping) against the same gemm called on the raw addon into a warm,
 * preallocated output ("raw sgemm"), at distilbert-base shapes (B·T = 16·384 = 6144 tokens); and, where bf16 runs
 * (oneDNN, AVX512_BF16), the same kernel in the backend's bf16 mode: with both inputs rounded to bf16 in the call,
 * and with their bf16 copies already made (the backend keeps one per tensor: a weight is rounded once a step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { bf16Support, nativeAddon, setNativePrecision } from '../src/engine/index.js';
import type { NativeBackend } from '../src/engine/backend.js';

export interface MatmulRow {
  variant: string;
  shapes: string;
  nativeGflops: number;
  rawGflops: number;
  ratio: number;
  /** The native kernel in bf16 mode, both inputs rounded to bf16 in the call; undefined where bf16 cannot run. */
  bf16Gflops?: number;
  /** The same with both inputs' bf16 copies already made (a weight within a step, an input read twice). */
  bf16CachedGflops?: number;
}

interface Variant {
  name: string;
  a: number[];
  b: number[];
  transA: boolean;
  transB: boolean;
  bias?: boolean;
}

export function variants(scale: number): Variant[] {
  const n = Math.max(1, Math.round(6144 * scale)),
    bh = Math.max(1, Math.round(192 * scale));
  return [
    { name: 'plain (q/k/v/out_lin fwd)', a: [n, 768], b: [768, 768], transA: false, transB: false },
    { name: 'plain (lin1 fwd)', a: [n, 768], b: [768, 3072], transA: false, transB: false },
    { name: 'plain (lin2 fwd)', a: [n, 3072], b: [3072, 768], transA: false, transB: false },
    { name: 'transposeB (x·Wᵀ, dX)', a: [n, 768], b: [3072, 768], transA: false, transB: true },
    { name: 'transposeA (dW = xᵀ·dY)', a: [n, 768], b: [n, 3072], transA: true, transB: false },
    { name: 'both transposed', a: [768, n], b: [3072, 768], transA: true, transB: true },
    { name: 'fused bias (x·Wᵀ + b)', a: [n, 768], b: [3072, 768], transA: false, transB: true, bias: true },
    {
      name: 'broadcast [B,T,D]×[D,F]',
      a: [Math.max(1, Math.round(16 * scale)), 384, 768],
      b: [768, 768],
      transA: false,
      transB: false,
    },
    { name: 'batched QKᵀ (attention)', a: [bh, 384, 64], b: [bh, 384, 64], transA: false, transB: true },
    { name: 'batched P·V (attention)', a: [bh, 384, 384], b: [bh, 384, 64], transA: false, transB: false },
    { name: 'batched dP = dY·Vᵀ', a: [bh, 384, 64], b: [bh, 384, 64], transA: false, transB: true },
    { name: 'batched dV = Pᵀ·dY', a: [bh, 384, 384], b: [bh, 384, 64], transA: true, transB: false },
  ];
}

function flops(v: Variant): { flops: number; m: number; n: number; k: number; batch: number } {
  const ra = v.a.length,
    rb = v.b.length;
  const m = v.transA ? v.a[ra - 1]! : v.a[ra - 2]!;
  const k = v.transA ? v.a[ra - 2]! : v.a[ra - 1]!;
  const n = v.transB ? v.b[rb - 2]! : v.b[rb - 1]!;
  const batch = v.a.slice(0, -2).reduce((x, y) => x * y, 1);
  return { flops: 2 * m * n * k * batch, m, n, k, batch };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** Median seconds of each of two functions over `reps` alternating runs after one warm-up each (so both see the
 * same background load). */
function timePair(f: () => void, g: () => void, reps: number): [number, number] {
  f();
  g();
  const tf_: number[] = [],
    tg: number[] = [];
  for (let i = 0; i < reps; i++) {
    let t0 = performance.now();
    f();
    tf_.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    g();
    tg.push((performance.now() - t0) / 1000);
  }
  return [median(tf_), median(tg)];
}

/** Runs every variant on the active `native` backend. */
export function benchMatmul(options: { scale: number; reps: number }): MatmulRow[] {
  const addon = nativeAddon();
  if (addon === undefined || tf.getBackend() !== 'native') throw new Error('the native backend must be active');
  const rows: MatmulRow[] = [];
  const bf16 = bf16Support().ok;
  for (const v of variants(options.scale)) {
    const { flops: f, m, n, k, batch } = flops(v);
    const a = tf.randomUniform(v.a, -1, 1);
    const b = tf.randomUniform(v.b, -1, 1);
    const bias = v.bias ? tf.randomUniform([n], -1, 1) : undefined;
    const run = (): void => {
      const c = bias
        ? tf.fused.matMul({ a, b, transposeA: v.transA, transposeB: v.transB, bias })
        : tf.matMul(a, b, v.transA, v.transB);
      c.dispose();
    };
    const av = a.dataSync() as Float32Array,
      bv = b.dataSync() as Float32Array;
    const biasV = bias ? (bias.dataSync() as Float32Array) : null;
    const out = new Float32Array(batch * m * n);
    const rawRank = v.b.length === 2 && batch > 1; // one shared B: the kernel folds it into one gemm, as raw does
    const idx = Int32Array.from({ length: rawRank ? 1 : batch }, (_, i) => i);
    const bIdx = v.b.length === 2 ? new Int32Array(idx.length) : idx;
    const raw = (): void =>
      addon.matmul(av, bv, out, idx, bIdx, rawRank ? batch * m : m, n, k, v.transA, v.transB, biasV, 0);
    const [nativeS, rawS] = timePair(run, raw, options.reps);
    let bf16S: number | undefined, bf16CachedS: number | undefined;
    if (bf16) {
      setNativePrecision('bf16');
      // the backend keeps each input's bf16 copy while the input lives: dropped before each call, rounding is timed
      const backend = tf.backend() as NativeBackend;
      const arrays = [a, b].map((t) => backend.data.get(t.dataId)!.values as Float32Array);
      const fresh = (): void => {
        for (const x of arrays) backend.forgetBf16(x);
        run();
      };
      [bf16S, bf16CachedS] = timePair(fresh, run, options.reps);
      setNativePrecision('fp32');
    }
    rows.push({
      variant: v.name,
      shapes: `${JSON.stringify(v.a)}${v.transA ? 'ᵀ' : ''}×${JSON.stringify(v.b)}${v.transB ? 'ᵀ' : ''}`,
      nativeGflops: f / nativeS / 1e9,
      rawGflops: f / rawS / 1e9,
      ratio: rawS / nativeS,
      ...(bf16S === undefined || bf16CachedS === undefined
        ? {}
        : { bf16Gflops: f / bf16S / 1e9, bf16CachedGflops: f / bf16CachedS / 1e9 }),
    });
    tf.dispose([a, b, ...(bias ? [bias] : [])]);
  }
  return rows;
}
