/**
 * `BatchMatMul` and `_FusedMatMul` on BLAS sgemm: any transposes, batch dimensions broadcast like NumPy.
 * A batch of A against one shared B (a linear layer over [B, T, D]) is folded into one big gemm.
 */
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import { ACTIVATION, type NativeAddon } from './addon.js';
import { allocF32, f32, isF32, output, type KernelArgs, type NativeKernel } from './kernel-util.js';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

interface Plan {
  outShape: number[];
  aIndex: Int32Array; // [batch] matrix index into A per output matrix
  bIndex: Int32Array; // [batch] matrix index into B per output matrix
  m: number;
  n: number;
  k: number;
}

/** Shapes → gemm plan; undefined when the shapes do not multiply (the cpu kernel then throws its own error). */
function planMatMul(aShape: readonly number[], bShape: readonly number[], transA: boolean, transB: boolean): Plan | undefined {
  if (aShape.length < 2 || bShape.length < 2) return undefined;
  const ra = aShape.length, rb = bShape.length;
  const m = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const k = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const kb = transB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const n = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  if (k !== kb) return undefined;
  const aOuter = aShape.slice(0, -2), bOuter = bShape.slice(0, -2);
  const rank = Math.max(aOuter.length, bOuter.length);
  const outOuter: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = aOuter[d - (rank - aOuter.length)] ?? 1;
    const db = bOuter[d - (rank - bOuter.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    outOuter.push(da === 1 ? db : da);
  }
  const batch = util.sizeFromShape(outOuter);
  const aIndex = new Int32Array(batch), bIndex = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    let rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rem % outOuter[d]!;
      rem = Math.floor(rem / outOuter[d]!);
      const da = aOuter[d - (rank - aOuter.length)] ?? 1;
      const db = bOuter[d - (rank - bOuter.length)] ?? 1;
      if (da !== 1) ia += idx * sa;
      if (db !== 1) ib += idx * sb;
      sa *= da;
      sb *= db;
    }
    aIndex[i] = ia;
    bIndex[i] = ib;
  }
  return { outShape: [...outOuter, m, n], aIndex, bIndex, m, n, k };
}

/** Runs the plan; folds "many A, one B" into a single gemm when A's matrices are contiguous rows. */
function run(
  backend: MathBackendCPU,
  addon: NativeAddon, a: Float32Array, b: Float32Array, p: Plan, transA: boolean, transB: boolean,
  bias: Float32Array | null, activation: number,
): Float32Array {
  const c = allocF32(backend, util.sizeFromShape(p.outShape));
  const batch = p.aIndex.length;
  const sharedB = batch > 1 && p.bIndex.every((v) => v === 0) && p.aIndex.every((v, i) => v === i);
  if (sharedB && !transA) {
    addon.matmul(a, b, c, new Int32Array([0]), new Int32Array([0]), batch * p.m, p.n, p.k, false, transB, bias, activation);
  } else {
    addon.matmul(a, b, c, p.aIndex, p.bIndex, p.m, p.n, p.k, transA, transB, bias, activation);
  }
  return c;
}

function batchMatMul({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  if (!isF32(a, b)) return undefined;
  const transA = attrs['transposeA'] === true, transB = attrs['transposeB'] === true;
  const plan = planMatMul(a.shape, b.shape, transA, transB);
  if (plan === undefined) return undefined;
  const c = run(backend, addon, f32(backend, a), f32(backend, b), plan, transA, transB, null, ACTIVATION.linear);
  return output(backend, plan.outShape, 'float32', c);
}

function fusedMatMul({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
  if (a === undefined || b === undefined || !isF32(a, b) || preluActivationWeights !== undefined) return undefined;
  const act = (attrs['activation'] ?? 'linear') as string;
  if (act !== 'linear' && act !== 'relu') return undefined;
  const transA = attrs['transposeA'] === true, transB = attrs['transposeB'] === true;
  const plan = planMatMul(a.shape, b.shape, transA, transB);
  if (plan === undefined) return undefined;
  let biasValues: Float32Array | null = null;
  if (bias !== undefined) {
    // Natively only a bias along the last (N) axis; other broadcasts go to the cpu kernel.
    if (!isF32(bias) || util.sizeFromShape(bias.shape) !== plan.n || (bias.shape.length > 0 && bias.shape[bias.shape.length - 1] !== plan.n)) {
      return undefined;
    }
    biasValues = f32(backend, bias);
  }
  const c = run(backend, addon, f32(backend, a), f32(backend, b), plan, transA, transB, biasValues, ACTIVATION[act]);
  return output(backend, plan.outShape, 'float32', c);
}

export const matmulKernels: readonly NativeKernel[] = [
  { name: 'BatchMatMul', impl: batchMatMul },
  { name: '_FusedMatMul', impl: fusedMatMul },
];
