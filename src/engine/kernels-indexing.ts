/**
 * Data movement: `Transpose`, `GatherV2` (embedding look-up) and its scatter-add gradients
 * (`UnsortedSegmentSum`, and `ScatterNd` with one index column: rows of `updates` summed into a zero tensor).
 */
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { Any32, NativeAddon } from './addon.js';
import { allocF32, allocF32Zeroed, f32, isF32, output, valuesOf, type KernelArgs, type NativeKernel } from './kernel-util.js';

/** Transposes a 4-byte array; size-1 dims dropped and axes that stay adjacent merged first. */
export function transposeValues(
  addon: NativeAddon, x: Any32, shape: readonly number[], perm: readonly number[],
  alloc: (n: number) => Any32 = (n) => new (x.constructor as new (n: number) => Any32)(n),
): Any32 {
  const out = alloc(x.length);
  if (x.length === 0) return out;
  // Keep input axes of size > 1, in output order, then merge runs of consecutive input axes.
  const kept = perm.filter((p) => shape[p]! !== 1);
  const groups: number[][] = [];
  for (const p of kept) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1]! + 1 === p) last.push(p);
    else groups.push([p]);
  }
  if (groups.length <= 1) {
    out.set(x);
    return out;
  }
  // Input order of the groups gives the coalesced input shape; output order gives the permutation.
  const byInput = [...groups].sort((g, h) => g[0]! - h[0]!);
  const inShape = Float64Array.from(byInput, (g) => g.reduce((n, p) => n * shape[p]!, 1));
  const newPerm = Int32Array.from(groups, (g) => byInput.indexOf(g));
  addon.transpose(x, out, inShape, newPerm);
  return out;
}

function transpose({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const x = inputs['x'] as TensorInfo;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const perm = attrs['perm'] as number[];
  if (perm.length !== x.shape.length) return undefined;
  const xs = valuesOf(backend, x) as Any32;
  const out = xs instanceof Float32Array ? transposeValues(addon, xs, x.shape, perm, (n) => allocF32(backend, n)) : transposeValues(addon, xs, x.shape, perm);
  return output(backend, perm.map((p) => x.shape[p]!), x.dtype, out);
}

function gatherV2({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  const batchDims = (attrs['batchDims'] as number | undefined) ?? 0;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32' || batchDims !== 0) return undefined;
  const rawAxis = (attrs['axis'] as number | undefined) ?? 0;
  const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
  if (axis < 0 || axis >= x.shape.length) return undefined;
  const outer = util.sizeFromShape(x.shape.slice(0, axis)), inner = util.sizeFromShape(x.shape.slice(axis + 1));
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const xs = valuesOf(backend, x) as Any32;
  const out = xs instanceof Float32Array ? allocF32(backend, util.sizeFromShape(outShape)) : new Int32Array(util.sizeFromShape(outShape));
  const bad = addon.gather(xs, valuesOf(backend, indices) as Int32Array, out, outer, x.shape[axis]!, inner);
  if (bad >= 0) return undefined; // the cpu kernel throws its "index not in [0, N-1]" error
  return output(backend, outShape, x.dtype, out);
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = attrs['numSegments'] as number;
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
  const { indices, updates } = inputs as { indices: TensorInfo; updates: TensorInfo };
  const shape = attrs['shape'] as number[];
  if (!isF32(updates) || indices.dtype !== 'int32' || shape.length === 0) return undefined;
  // Only the embedding-gradient form: indices [N, 1] addressing rows of a [V, ...] output.
  if (indices.shape.length !== 2 || indices.shape[1] !== 1) return undefined;
  const rows = indices.shape[0]!, rowShape = shape.slice(1);
  if (updates.shape.length !== 1 + rowShape.length || updates.shape[0] !== rows) return undefined;
  if (rowShape.some((d, i) => d !== updates.shape[i + 1])) return undefined;
  const ids = valuesOf(backend, indices) as Int32Array;
  const v = shape[0]!;
  for (let i = 0; i < ids.length; i++) if (ids[i]! < 0 || ids[i]! >= v) return undefined; // cpu kernel reports it
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
