/**
 * Elementwise float32 kernels: unary maps, binary ops with NumPy broadcasting (dimensions coalesced in TS so the
 * native loop runs over long contiguous rows), and `AddN` (gradient accumulation).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY, UNARY, type NativeAddon } from './addon.js';
import { allocF32, f32, isF32, output, sizeOf, stridesOf, type KernelArgs, type NativeKernel } from './kernel-util.js';

export interface BroadcastPlan {
  outShape: number[];
  shape: Float64Array; // coalesced loop shape
  aStrides: Float64Array; // 0 where a is broadcast
  bStrides: Float64Array;
}

/** NumPy broadcast of two shapes, with adjacent dimensions merged wherever both operands allow. */
export function planBroadcast(aShape: readonly number[], bShape: readonly number[]): BroadcastPlan | undefined {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const a = pad(aShape), b = pad(bShape);
  const outShape: number[] = [];
  for (let d = 0; d < rank; d++) {
    if (a[d] !== b[d] && a[d] !== 1 && b[d] !== 1) return undefined;
    outShape.push(a[d] === 1 ? b[d]! : a[d]!);
  }
  const sa = stridesOf(a).map((s, d) => (a[d] === 1 ? 0 : s));
  const sb = stridesOf(b).map((s, d) => (b[d] === 1 ? 0 : s));
  // Drop size-1 dims, then merge d into d+1 when both operands are contiguous across the pair.
  const dims: { n: number; sa: number; sb: number }[] = [];
  for (let d = 0; d < rank; d++) if (outShape[d] !== 1) dims.push({ n: outShape[d]!, sa: sa[d]!, sb: sb[d]! });
  const merged: { n: number; sa: number; sb: number }[] = [];
  for (const dim of dims) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.sa === dim.sa * dim.n && last.sb === dim.sb * dim.n) {
      last.n *= dim.n;
      last.sa = dim.sa;
      last.sb = dim.sb;
    } else {
      merged.push({ ...dim });
    }
  }
  if (merged.length === 0) merged.push({ n: 1, sa: 0, sb: 0 });
  return {
    outShape,
    shape: Float64Array.from(merged, (m) => m.n),
    aStrides: Float64Array.from(merged, (m) => m.sa),
    bStrides: Float64Array.from(merged, (m) => m.sb),
  };
}

function unary(op: number) {
  return ({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const x = inputs['x'] as TensorInfo;
    if (!isF32(x)) return undefined;
    const out = allocF32(backend, sizeOf(x.shape));
    addon.unary(op, f32(backend, x), out);
    return output(backend, [...x.shape], 'float32', out);
  };
}

function binary(op: number) {
  return ({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (!isF32(a, b)) return undefined;
    const plan = planBroadcast(a.shape, b.shape);
    if (plan === undefined) return undefined;
    const out = allocF32(backend, sizeOf(plan.outShape));
    if (out.length > 0) addon.binary(op, f32(backend, a), f32(backend, b), out, plan.shape, plan.aStrides, plan.bStrides);
    return output(backend, plan.outShape, 'float32', out);
  };
}

function addN({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const xs = Object.values(inputs) as TensorInfo[];
  if (xs.length === 0 || !isF32(...xs)) return undefined;
  const shape = xs[0]!.shape;
  if (!xs.every((x) => x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i]))) return undefined;
  const size = sizeOf(shape);
  const out = allocF32(backend, size);
  out.set(f32(backend, xs[0]!));
  const flat = Float64Array.of(size), one = Float64Array.of(1);
  for (const x of xs.slice(1)) if (size > 0) addon.binary(BINARY.Add, out, f32(backend, x), out, flat, one, one);
  return output(backend, [...shape], 'float32', out);
}

export const elementwiseKernels: readonly NativeKernel[] = [
  ...Object.entries(UNARY).map(([name, op]) => ({ name, impl: unary(op) })),
  ...Object.entries(BINARY).map(([name, op]) => ({ name, impl: binary(op) })),
  { name: 'AddN', impl: addN },
];
