/**
 * What every native kernel shares: reading a tensor's typed array from the cpu backend's storage (zero-copy),
 * allocating outputs, and falling back to the cpu backend's own kernel for dtypes or cases not handled natively.
 */
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo, TypedArray } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { NativeBackend } from './backend.js';
import { zip } from '../util/checked-index.js';

export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: MathBackendCPU;
  attrs: NamedAttrMap;
}

/** A native kernel: returns `undefined` to hand the call to the cpu backend's kernel of the same name. */
type NativeImpl = (args: KernelArgs, addon: NativeAddon) => TensorInfo | undefined;

export interface NativeKernel {
  readonly name: string;
  readonly impl: NativeImpl;
}

/** One dimension of two broadcast shapes: a's size, b's, and the output's. */
export interface BroadcastDim {
  da: number;
  db: number;
  n: number;
}

/**
 * NumPy broadcasting of two shapes, outermost dimension first: the shorter is padded with leading 1s, and each pair
 * of sizes must be equal or have a 1 (undefined otherwise: the cpu kernel then reports the error).
 */
export function broadcastDims(aShape: readonly number[], bShape: readonly number[]): BroadcastDim[] | undefined {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const dims = zip(pad(aShape), pad(bShape)).map(([da, db]) => ({ da, db, n: da === 1 ? db : da }));
  return dims.some(({ da, db }) => da !== db && da !== 1 && db !== 1) ? undefined : dims;
}

/** The backing array of a tensor stored on a MathBackendCPU (the one the tensor lives on). */
export function valuesOf(backend: MathBackendCPU, t: TensorInfo): TypedArray {
  return backend.data.get(t.dataId)!.values as TypedArray;
}

export function f32(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return valuesOf(backend, t) as Float32Array;
}

export function isF32(...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t !== undefined && t.dtype === 'float32');
}

/** An output array of `n` floats, recycled when the backend can (contents arbitrary: the kernel writes all). */
export function allocF32(backend: MathBackendCPU, n: number): Float32Array {
  return backend instanceof NativeBackend ? backend.allocF32(n) : new Float32Array(n);
}

/** A byte output array (bool masks), recycled when the backend can (contents arbitrary). */
export function allocU8(backend: MathBackendCPU, n: number): Uint8Array {
  return backend instanceof NativeBackend ? backend.allocU8(n) : new Uint8Array(n);
}

/**
 * In bf16 mode, the bf16 copy a kernel writes beside its float32 output `values` (the input of bf16 matmuls, which
 * then skip rounding it): `copy` to pass to the addon (null otherwise), `adopt` to call once the kernel has run.
 */
export function bf16Beside(
  backend: MathBackendCPU,
  values: Float32Array,
): { copy: Uint16Array | null; adopt: () => void } {
  const copy = backend instanceof NativeBackend ? backend.bf16Output(values.length) : null;
  return {
    copy,
    adopt: () => {
      if (copy !== null) (backend as NativeBackend).adoptBf16(values, copy);
    },
  };
}

/**
 * The output of a kernel that bf16 matmuls read next: its float32 array and, in bf16 mode, the bf16 copy the kernel
 * writes in the same pass (else null). With `bf16Only` (the matmuls are its only readers), in bf16 mode the kernel
 * writes only the copy (`fp32` null) and the tensor is held in bf16 (`NativeBackend.bf16OnlyTensor`).
 */
export function matmulInputOutput(
  backend: MathBackendCPU,
  n: number,
  bf16Only: boolean,
): { fp32: Float32Array | null; copy: Uint16Array | null; tensor: (shape: number[]) => TensorInfo } {
  const values = allocF32(backend, n);
  const copy = bf16Only && backend instanceof NativeBackend ? backend.bf16Output(n) : null;
  if (copy !== null) {
    return { fp32: null, copy, tensor: (shape) => (backend as NativeBackend).bf16OnlyTensor(shape, values, copy) };
  }
  const beside = bf16Beside(backend, values);
  return {
    fp32: values,
    copy: beside.copy,
    tensor: (shape) => {
      beside.adopt();
      return output(backend, shape, 'float32', values);
    },
  };
}

/** A zeroed output array (scatter-add targets). */
export function allocF32Zeroed(backend: MathBackendCPU, n: number): Float32Array {
  return backend instanceof NativeBackend ? backend.allocF32Zeroed(n) : new Float32Array(n);
}

/** Registers `values` as a new tensor on the backend (no copy). */
export function output(
  backend: MathBackendCPU,
  shape: number[],
  dtype: 'float32' | 'int32',
  values: TypedArray,
): TensorInfo {
  return backend.makeTensorInfo(shape, dtype, values);
}

/** Per kernel name: calls served natively and calls handed to the cpu kernel (tests and the bench read these). */
export const kernelCalls = new Map<string, { native: number; fallback: number }>();

/** Wraps a native kernel so that an `undefined` result runs the cpu kernel instead. */
export function withFallback(kernel: NativeKernel, fallback: KernelFunc, addon: NativeAddon): KernelFunc {
  return (params) => {
    const args = params as unknown as KernelArgs; // the cpu backend is what this backend is
    const out = kernel.impl({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} }, addon);
    let count = kernelCalls.get(kernel.name);
    if (count === undefined) kernelCalls.set(kernel.name, (count = { native: 0, fallback: 0 }));
    if (out !== undefined) count.native += 1;
    else count.fallback += 1;
    return out ?? fallback(params);
  };
}
