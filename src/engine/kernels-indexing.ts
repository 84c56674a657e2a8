/**
 * Data movement: `Transpose`, `GatherV2` (embedding look-up) and its scatter-add gradients
 * (`UnsortedSegmentSum`, and `ScatterNd` with one index column: rows of `updates` summed into a zero tensor).
 */
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { Any32, NativeAddon } from './addon.js';
import { allocF32, allocF32Zeroed, f32, isF32, output, valuesOf, type KernelArgs, type NativeKernel } from './kernel-util.js';
import { dim, numberAttr, numbersAttr, optionalNumberAttr, tensorInputs } from './kernel-args.js';

/** Transposes a 4-byte array; size-1 dims dropped and axes that stay adjacent merged first. */
export function transposeValues(
  addon: NativeAddon, x: Any32, shape: readonly number[], perm: readonly number[],
  alloc: (n: number) => Any32 = (n) => new (x.constructor as new (n: number) => Any32)(n),
): Any32 {
  const out = alloc(x.length);
  if (x.length === 0) return out;
  // Keep input axes of size > 1, in output order, and merge runs of consecutive input axes into groups
  // (first and last input axis, product of their sizes).
  const groups: { first: number; last: number; size: number }[] = [];
  for (const p of perm) {
    const n = dim(shape, p, 'Transpose');
    if (n === 1) continue;
    const last = groups[groups.length - 1];
    if (last !== undefined && last.last + 1 === p) {
      last.last = p;
      last.size *= n;
    } else {
      groups.push({ first: p, last: p, size: n });
    }
  }
  if (groups.length <= 1) {
    out.set(x);
    return out;
  }
  // Input order of the groups gives the coalesced input shape; output order gives the permutation.
  const byInput = [...groups].sort((g, h) => g.first - h.first);
  const inShape = Float64Array.from(byInput, (g) => g.size);
  const newPerm = Int32Array.from(groups, (g) => byInput.indexOf(g));
  addon.transpose(x, out, inShape, newPerm);
  return out;
}

function transpose({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x } = tensorInputs(inputs, ['x'], 'Transpose');
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const perm = numbersAttr(attrs, 'perm', 'Transpose');
  if (perm.length !== x.shape.length) return undefined;
  const xs = valuesOf(backend, x) as Any32;
  const out = xs instanceof Float32Array ? transposeValues(addon, xs, x.shape, perm, (n) => allocF32(backend, n)) : transposeValues(addon, xs, x.shape, perm);
  return output(backend, perm.map((p) => dim(x.shape, p, 'Transpose')), x.dtype, out);
}

function gatherV2({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x, indices } = tensorInputs(inputs, ['x', 'indices'], 'GatherV2');
  const batchDims = optionalNumberAttr(attrs, 'batchDims', 'GatherV2') ?? 0; // tf.gather's default
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32' || batchDims !== 0) return undefined;
  const rawAxis = optionalNumberAttr(attrs, 'axis', 'GatherV2') ?? 0; // tf.gather's default
  const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
  if (axis < 0 || axis >= x.shape.length) return undefined;
  const axisDim = dim(x.shape, axis, 'GatherV2');
  const outer = util.sizeFromShape(x.shape.slice(0, axis)), inner = util.sizeFromShape(x.shape.slice(axis + 1));
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const xs = valuesOf(backend, x) as Any32;
  const out = xs instanceof Float32Array ? allocF32(backend, util.sizeFromShape(outShape)) : new Int32Array(util.sizeFromShape(outShape));
  const bad = addon.gather(xs, valuesOf(backend, indices) as Int32Array, out, outer, axisDim, inner);
  if (bad >= 0) return undefined; // the cpu kernel throws its "index not in [0, N-1]" error
  return output(backend, outShape, x.dtype, out);
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x, segmentIds } = tensorInputs(inputs, ['x', 'segmentIds'], 'UnsortedSegmentSum');
  const numSegments = numberAttr(attrs, 'numSegments', 'UnsortedSegmentSum');
  if (!isF32(x) || segmentIds.dtype !== 'int32') return undefined;
  const idRank = segmentIds.shape.length;
  if (idRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) return undefined;
  const rowShape = x.shape.slice(idRank);
  const out = allocF32Zeroed(backend, numSegments * util.sizeFromShape(rowShape));
  if (out.length > 0) {
    addon.segmentSum(f32(backend, x), valuesOf(backend, segmentIds) as Int32Array, out, util.sizeFromShape(rowShape), numSegments);
  }
  return output(backend, [numSegments, ...rowShape], 'float32', out);
}

function scatterNd({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { indices, updates } = tensorInputs(inputs, ['indices', 'updates'], 'ScatterNd');
  const shape = numbersAttr(attrs, 'shape', 'ScatterNd');
  const [v, ...rowShape] = shape; // [V, ...]
  if (!isF32(updates) || indices.dtype !== 'int32' || v === undefined) return undefined;
  // Only the embedding-gradient form: indices [N, 1] addressing rows of a [V, ...] output.
  const [rows, width, ...more] = indices.shape;
  if (width !== 1 || more.length > 0) return undefined;
  if (updates.shape.length !== 1 + rowShape.length || updates.shape[0] !== rows) return undefined;
  if (rowShape.some((d, i) => d !== updates.shape[i + 1])) return undefined;
  const ids = valuesOf(backend, indices) as Int32Array;
  for (const id of ids) if (id < 0 || id >= v) return undefined; // cpu kernel reports it
  const out = allocF32Zeroed(backend, util.sizeFromShape(shape));
  if (out.length > 0) addon.segmentSum(f32(backend, updates), ids, out, util.sizeFromShape(rowShape), v);
  return output(backend, [...shape], 'float32', out);
}

export const indexingKernels: readonly NativeKernel[] = [
  { name: 'Transpose', impl: transpose },
  { name: 'GatherV2', impl: gatherV2 },
  { name: 'UnsortedSegmentSum', impl: unsortedSegmentSum },
  { name: 'ScatterNd', impl: scatterNd },
];
