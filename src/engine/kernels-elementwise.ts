/**
 * Elementwise float32 kernels: unary maps, binary ops with NumPy broadcasting (dimensions coalesced in TS so the
 * native loop runs over long contiguous rows), `AddN` (gradient accumulation), `Select` (masked attention
 * scores), `Tile` (`broadcastTo` of the masks) and `Fill`/`ZerosLike`/`OnesLike`.
 */
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY, UNARY, type Any32, type NativeAddon } from './addon.js';
import {
  allocF32,
  allocF32Zeroed,
  broadcastDims,
  f32,
  isF32,
  output,
  valuesOf,
  type KernelArgs,
  type NativeKernel,
} from './kernel-util.js';
import { numbersAttr, tensorInputs } from './kernel-args.js';
import { zip } from '../util/checked-index.js';

interface BroadcastPlan {
  outShape: number[];
  shape: Float64Array; // coalesced loop shape
  aStrides: Float64Array; // 0 where a is broadcast
  bStrides: Float64Array;
}

/** NumPy broadcast of two shapes, with adjacent dimensions merged wherever both operands allow. */
function planBroadcast(aShape: readonly number[], bShape: readonly number[]): BroadcastPlan | undefined {
  const aligned = broadcastDims(aShape, bShape);
  if (aligned === undefined) return undefined;
  // Innermost dimension first, so row-major strides are running products; a stride is 0 along a dimension the
  // operand is broadcast over. Size-1 output dims are dropped from the loop.
  const outShape: number[] = [];
  const dims: { n: number; sa: number; sb: number }[] = []; // innermost first
  let strideA = 1,
    strideB = 1;
  for (const { da, db, n } of aligned.reverse()) {
    outShape.push(n);
    if (n !== 1) dims.push({ n, sa: da === 1 ? 0 : strideA, sb: db === 1 ? 0 : strideB });
    strideA *= da;
    strideB *= db;
  }
  outShape.reverse();
  dims.reverse();
  // Merge d into d+1 when both operands are contiguous across the pair.
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

function unary(name: string, op: number) {
  return ({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const { x } = tensorInputs(inputs, ['x'], name);
    if (!isF32(x)) return undefined;
    const out = allocF32(backend, util.sizeFromShape(x.shape));
    addon.unary(op, f32(backend, x), out);
    return output(backend, [...x.shape], 'float32', out);
  };
}

function binary(name: string, op: number) {
  return ({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const { a, b } = tensorInputs(inputs, ['a', 'b'], name);
    if (!isF32(a, b)) return undefined;
    const plan = planBroadcast(a.shape, b.shape);
    if (plan === undefined) return undefined;
    const out = allocF32(backend, util.sizeFromShape(plan.outShape));
    if (out.length > 0)
      addon.binary(op, f32(backend, a), f32(backend, b), out, plan.shape, plan.aStrides, plan.bStrides);
    return output(backend, plan.outShape, 'float32', out);
  };
}

function addN({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const xs = Object.values(inputs).filter((x) => x !== undefined);
  const [first, ...rest] = xs;
  if (first === undefined || !isF32(...xs)) return undefined;
  const shape = first.shape;
  if (!rest.every((x) => x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i]))) return undefined;
  const size = util.sizeFromShape(shape);
  const out = allocF32(backend, size);
  out.set(f32(backend, first));
  const flat = Float64Array.of(size),
    one = Float64Array.of(1);
  for (const x of rest) if (size > 0) addon.binary(BINARY.Add, out, f32(backend, x), out, flat, one, one);
  return output(backend, [...shape], 'float32', out);
}

function select({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { condition, t, e } = tensorInputs(inputs, ['condition', 't', 'e'], 'Select');
  if (condition.dtype !== 'bool' || t.dtype !== e.dtype || (t.dtype !== 'float32' && t.dtype !== 'int32'))
    return undefined;
  const same = (s: number[]): boolean => s.length === t.shape.length && s.every((d, i) => d === t.shape[i]);
  if (!same(condition.shape) || !same(e.shape)) return undefined; // the cpu kernel's row-select form
  const n = util.sizeFromShape(t.shape);
  const out = t.dtype === 'float32' ? allocF32(backend, n) : new Int32Array(n);
  if (n > 0) {
    addon.select(
      valuesOf(backend, condition) as Uint8Array,
      valuesOf(backend, t) as Any32,
      valuesOf(backend, e) as Any32,
      out,
    );
  }
  return output(backend, [...t.shape], t.dtype, out);
}

/** Tile (what `broadcastTo` runs): float32, int32 and bool. */
function tile({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x } = tensorInputs(inputs, ['x'], 'Tile');
  const reps = numbersAttr(attrs, 'reps', 'Tile');
  if (reps.length !== x.shape.length || x.shape.length === 0) return undefined;
  const outShape = zip(x.shape, reps).map(([d, r]) => d * r);
  const n = util.sizeFromShape(outShape);
  let out: Float32Array | Int32Array | Uint8Array;
  if (x.dtype === 'float32') out = allocF32(backend, n);
  else if (x.dtype === 'int32') out = new Int32Array(n);
  else if (x.dtype === 'bool') out = new Uint8Array(n);
  else return undefined;
  if (n > 0) {
    addon.tile(
      valuesOf(backend, x) as Float32Array | Int32Array | Uint8Array,
      out,
      out.BYTES_PER_ELEMENT,
      Float64Array.from(x.shape),
      Float64Array.from(reps),
    );
  }
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

/** `Fill`, `ZerosLike`, `OnesLike` of float32 (big masks and gradient seeds), threaded and from the pool. */
function filled(shape: number[], value: number, backend: KernelArgs['backend'], addon: NativeAddon): TensorInfo {
  const n = util.sizeFromShape(shape);
  const out = value === 0 ? allocF32Zeroed(backend, n) : allocF32(backend, n);
  if (value !== 0 && n > 0) addon.fill(out, value);
  return output(backend, [...shape], 'float32', out);
}

function fill({ backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const value = attrs['value']; // a string for a string tensor: the cpu kernel's
  if (attrs['dtype'] !== 'float32' || typeof value !== 'number') return undefined;
  return filled(numbersAttr(attrs, 'shape', 'Fill'), value, backend, addon);
}

function filledLike(name: string, value: number) {
  return ({ inputs, backend }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const { x } = tensorInputs(inputs, ['x'], name);
    return isF32(x) ? filled(x.shape, value, backend, addon) : undefined;
  };
}

export const elementwiseKernels: readonly NativeKernel[] = [
  ...Object.entries(UNARY).map(([name, op]) => ({ name, impl: unary(name, op) })),
  ...Object.entries(BINARY).map(([name, op]) => ({ name, impl: binary(name, op) })),
  { name: 'AddN', impl: addN },
  { name: 'Select', impl: select },
  { name: 'Tile', impl: tile },
  { name: 'Fill', impl: fill },
  { name: 'ZerosLike', impl: filledLike('ZerosLike', 0) },
  { name: 'OnesLike', impl: filledLike('OnesLike', 1) },
];
