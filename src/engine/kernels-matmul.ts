/**
 * `BatchMatMul` and `_FusedMatMul` on BLAS sgemm, or in the backend's bf16 mode on oneDNN's bf16 matmul: any
 * transposes, batch dimensions broadcast like NumPy. A batch of A against one shared B (a linear layer over
 * [B, T, D]) is folded into one big gemm. Every matmul of a training step (forward, dX, dW, attention) comes here.
 */
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import { ACTIVATION, type NativeAddon } from './addon.js';
import { NativeBackend } from './backend.js';
import { QaFtError } from '../errors.js';
import { allocF32, broadcastDims, f32, isF32, output, type KernelArgs, type NativeKernel } from './kernel-util.js';
import { dim, tensorInputs } from './kernel-args.js';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

interface Plan {
  outShape: number[];
  aIndex: Int32Array; // [batch] matrix index into A per output matrix
  bIndex: Int32Array; // [batch] matrix index into B per output matrix
  m: number;
  n: number;
  k: number;
}

/**
 * Shapes → gemm plan; undefined when the shapes do not multiply (the cpu kernel then throws its own error).
 * `kernel` names the caller in internal errors.
 */
function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transA: boolean,
  transB: boolean,
  kernel: string,
): Plan | undefined {
  if (aShape.length < 2 || bShape.length < 2) return undefined;
  const ra = aShape.length,
    rb = bShape.length;
  const aRows = dim(aShape, ra - 2, kernel),
    aCols = dim(aShape, ra - 1, kernel);
  const bRows = dim(bShape, rb - 2, kernel),
    bCols = dim(bShape, rb - 1, kernel);
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const kb = transB ? bCols : bRows;
  const n = transB ? bRows : bCols;
  if (k !== kb) return undefined;
  const outer = broadcastDims(aShape.slice(0, -2), bShape.slice(0, -2)); // the batch dims
  if (outer === undefined) return undefined;
  const outOuter = outer.map((o) => o.n);
  const innermostFirst = [...outer].reverse();
  const batch = util.sizeFromShape(outOuter);
  const aIndex = new Int32Array(batch),
    bIndex = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    let rem = i,
      ia = 0,
      ib = 0,
      sa = 1,
      sb = 1;
    for (const { n: nd, da, db } of innermostFirst) {
      const idx = rem % nd;
      rem = Math.floor(rem / nd);
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
  addon: NativeAddon,
  aInfo: TensorInfo,
  bInfo: TensorInfo,
  p: Plan,
  transA: boolean,
  transB: boolean,
  bias: Float32Array | null,
  activation: number,
): Float32Array {
  const c = allocF32(backend, util.sizeFromShape(p.outShape));
  const batch = p.aIndex.length;
  const sharedB = batch > 1 && p.bIndex.every((v) => v === 0) && p.aIndex.every((v, i) => v === i);
  const [aIndex, bIndex, m] =
    sharedB && !transA ? [new Int32Array([0]), new Int32Array([0]), batch * p.m] : [p.aIndex, p.bIndex, p.m];
  const mode = backend instanceof NativeBackend ? backend.matmulMode : 'fp32';
  // bf16 reads the inputs' bf16 copies: a bf16-only input's float32 array stays unwritten; every other mode reads
  // the float32 values (filled from the copy if a bf16 run left it bf16-only)
  const values = (t: TensorInfo): Float32Array =>
    mode === 'bf16' ? (backend as NativeBackend).matmulValues(t.dataId) : f32(backend, t);
  const a = values(aInfo),
    b = values(bInfo);
  if (mode === 'fp32') {
    addon.matmul(a, b, c, aIndex, bIndex, m, p.n, p.k, transA, transB, bias, activation);
  } else if (mode === 'bf16-sgemm') {
    addon.matmulBf16(a, b, c, aIndex, bIndex, m, p.n, p.k, transA, transB, bias, activation, 1);
  } else if (backend instanceof NativeBackend) {
    // each input's bf16 copy, made once per tensor (backend.bf16Of), read by oneDNN in its stored layout
    const convert = (src: Float32Array, dst: Uint16Array | Float32Array): void => addon.toBf16(src, dst);
    const bits = mode === 'bf16';
    const ab = backend.bf16Of(a, bits, convert),
      bb = backend.bf16Of(b, bits, convert);
    const error = addon.matmulBf16Ready(ab, bb, c, aIndex, bIndex, m, p.n, p.k, transA, transB, bias, activation);
    // setNativePrecision checked that bf16 runs here; a failure now is a bug, not a user error.
    if (error !== null) throw new QaFtError('INTERNAL', `bf16 matmul [${m},${p.k}]×[${p.k},${p.n}] failed: ${error}`);
  }
  return c;
}

function batchMatMul({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { a, b } = tensorInputs(inputs, ['a', 'b'], 'BatchMatMul');
  if (!isF32(a, b)) return undefined;
  const transA = attrs['transposeA'] === true,
    transB = attrs['transposeB'] === true;
  const plan = planMatMul(a.shape, b.shape, transA, transB, 'BatchMatMul');
  if (plan === undefined) return undefined;
  const c = run(backend, addon, a, b, plan, transA, transB, null, ACTIVATION.linear);
  return output(backend, plan.outShape, 'float32', c);
}

function fusedMatMul({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { a, b } = tensorInputs(inputs, ['a', 'b'], '_FusedMatMul');
  const { bias, preluActivationWeights } = inputs; // optional
  if (!isF32(a, b) || preluActivationWeights !== undefined) return undefined;
  const act = attrs['activation'] ?? 'linear';
  if (typeof act !== 'string' || (act !== 'linear' && act !== 'relu')) return undefined; // others: the cpu kernel
  const transA = attrs['transposeA'] === true,
    transB = attrs['transposeB'] === true;
  const plan = planMatMul(a.shape, b.shape, transA, transB, '_FusedMatMul');
  if (plan === undefined) return undefined;
  let biasValues: Float32Array | null = null;
  if (bias !== undefined) {
    // Natively only a bias along the last (N) axis; other broadcasts go to the cpu kernel.
    if (
      !isF32(bias) ||
      util.sizeFromShape(bias.shape) !== plan.n ||
      (bias.shape.length > 0 && bias.shape[bias.shape.length - 1] !== plan.n)
    ) {
      return undefined;
    }
    biasValues = f32(backend, bias);
  }
  const c = run(backend, addon, a, b, plan, transA, transB, biasValues, ACTIVATION[act]);
  return output(backend, plan.outShape, 'float32', c);
}

export const matmulKernels: readonly NativeKernel[] = [
  { name: 'BatchMatMul', impl: batchMatMul },
  { name: '_FusedMatMul', impl: fusedMatMul },
];
