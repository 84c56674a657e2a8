/**
 * Data movement: `Transpose`, `GatherV2` (embedding look-up) and its scatter-add gradients
 * (`UnsortedSegmentSum`, and `ScatterNd` with one index column: rows of `updates` summed into a zero tensor),
 * `Slice` and `PadV2` (the QA head's start/end split and its gradient).
 */
import { slice_util, util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { Any32, NativeAddon } from './addon.js';
import {
  allocF32,
  allocF32Zeroed,
  bf16Beside,
  f32,
  isF32,
  output,
  valuesOf,
  type KernelArgs,
  type NativeKernel,
} from './kernel-util.js';
import { dim, numberAttr, numberOrListAttr, numbersAttr, optionalNumberAttr, tensorInputs } from './kernel-args.js';

/**
 * Transposes a 4-byte array; size-1 dims dropped and axes that stay adjacent merged first. `bf16For` (float32
 * only): an array for out's bf16 copy, written in the same pass, or null; not called when nothing moves (a copy).
 */
export function transposeValues(
  addon: NativeAddon,
  x: Any32,
  shape: readonly number[],
  perm: readonly number[],
  alloc: (n: number) => Any32 = (n) => new (x.constructor as new (n: number) => Any32)(n),
  bf16For?: (out: Float32Array) => Uint16Array | null,
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
  addon.transpose(x, out, inShape, newPerm, out instanceof Float32Array ? bf16For?.(out) : null);
  return out;
}

function transpose({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x } = tensorInputs(inputs, ['x'], 'Transpose');
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const perm = numbersAttr(attrs, 'perm', 'Transpose');
  if (perm.length !== x.shape.length) return undefined;
  const xs = valuesOf(backend, x) as Any32;
  // In bf16 mode the output's bf16 copy in the same pass: attention's head transposes feed bf16 matmuls.
  let adoptCopy = (): void => {};
  const out =
    xs instanceof Float32Array
      ? transposeValues(
          addon,
          xs,
          x.shape,
          perm,
          (n) => allocF32(backend, n),
          (o) => {
            const bf16 = bf16Beside(backend, o);
            adoptCopy = bf16.adopt;
            return bf16.copy;
          },
        )
      : transposeValues(addon, xs, x.shape, perm);
  adoptCopy();
  return output(
    backend,
    perm.map((p) => dim(x.shape, p, 'Transpose')),
    x.dtype,
    out,
  );
}

function gatherV2({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { x, indices } = tensorInputs(inputs, ['x', 'indices'], 'GatherV2');
  const batchDims = optionalNumberAttr(attrs, 'batchDims', 'GatherV2') ?? 0; // tf.gather's default
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32' || batchDims !== 0) return undefined;
  const rawAxis = optionalNumberAttr(attrs, 'axis', 'GatherV2') ?? 0; // tf.gather's default
  const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
  if (axis < 0 || axis >= x.shape.length) return undefined;
  const axisDim = dim(x.shape, axis, 'GatherV2');
  const outer = util.sizeFromShape(x.shape.slice(0, axis)),
    inner = util.sizeFromShape(x.shape.slice(axis + 1));
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const xs = valuesOf(backend, x) as Any32;
  const out =
    xs instanceof Float32Array
      ? allocF32(backend, util.sizeFromShape(outShape))
      : new Int32Array(util.sizeFromShape(outShape));
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
    addon.segmentSum(
      f32(backend, x),
      valuesOf(backend, segmentIds) as Int32Array,
      out,
      util.sizeFromShape(rowShape),
      numSegments,
    );
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

/**
 * Copies the box of extent `size` at `srcBegin` in `src` (shape `srcShape`) to `dstBegin` in `dst` (shape
 * `dstShape`), row by row along the last axis. Written in TypeScript: TF.js's cpu Slice and Pad address every
 * element through coordinate arrays (~0.3-1.8 µs an element, measured on the QA head's [16, 192, 2] logits), while
 * this loop is plain typed-array indexing; the boxes here are small, so a native pass would gain little more.
 */
function copyBox(
  src: Any32,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dst: Any32,
  dstShape: readonly number[],
  dstBegin: readonly number[],
  size: readonly number[],
): void {
  const rank = size.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  const strides = (shape: readonly number[]): number[] => {
    const st = new Array<number>(rank).fill(1);
    for (let d = rank - 2; d >= 0; d--) st[d] = st[d + 1]! * shape[d + 1]!;
    return st;
  };
  const ss = strides(srcShape),
    ds = strides(dstShape);
  const inner = size[rank - 1]!;
  const rows = util.sizeFromShape(size.slice(0, -1));
  const idx = new Array<number>(rank).fill(0); // position in the box, odometer over all but the last axis
  let so = srcBegin.reduce((o, b, d) => o + b * ss[d]!, 0),
    dOff = dstBegin.reduce((o, b, d) => o + b * ds[d]!, 0);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < inner; j++) dst[dOff + j] = src[so + j]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]! += 1;
      so += ss[d]!;
      dOff += ds[d]!;
      if (idx[d]! < size[d]!) break;
      so -= size[d]! * ss[d]!;
      dOff -= size[d]! * ds[d]!;
      idx[d] = 0;
    }
  }
}

function slice({ inputs, backend, attrs }: KernelArgs): TensorInfo | undefined {
  const { x } = tensorInputs(inputs, ['x'], 'Slice');
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return undefined;
  const begin = numberOrListAttr(attrs, 'begin', 'Slice');
  if (begin === undefined) return undefined;
  const [begins, sizes] = slice_util.parseSliceParams(x, begin, numberOrListAttr(attrs, 'size', 'Slice'));
  if (begins === undefined || sizes === undefined) return undefined;
  const n = util.sizeFromShape(sizes);
  const out = x.dtype === 'float32' ? allocF32(backend, n) : new Int32Array(n);
  if (n > 0)
    copyBox(valuesOf(backend, x) as Any32, x.shape, begins, out, sizes, new Array<number>(sizes.length).fill(0), sizes);
  return output(backend, sizes, x.dtype, out);
}

function padV2({ inputs, backend, attrs }: KernelArgs): TensorInfo | undefined {
  const { x } = tensorInputs(inputs, ['x'], 'PadV2');
  const paddings = attrs['paddings'],
    value = attrs['constantValue'];
  if (
    x.dtype !== 'float32' ||
    typeof value !== 'number' ||
    !Array.isArray(paddings) ||
    paddings.length !== x.shape.length
  )
    return undefined;
  const before: number[] = [],
    outShape: number[] = [];
  for (const [d, p] of paddings.entries()) {
    if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'number') return undefined;
    before.push(p[0]);
    outShape.push(p[0] + dim(x.shape, d, 'PadV2') + p[1]);
  }
  const n = util.sizeFromShape(outShape);
  const out = value === 0 ? allocF32Zeroed(backend, n) : allocF32(backend, n).fill(value);
  if (util.sizeFromShape(x.shape) > 0)
    copyBox(f32(backend, x), x.shape, new Array<number>(x.shape.length).fill(0), out, outShape, before, x.shape);
  return output(backend, outShape, 'float32', out);
}

export const indexingKernels: readonly NativeKernel[] = [
  { name: 'Transpose', impl: transpose },
  { name: 'GatherV2', impl: gatherV2 },
  { name: 'UnsortedSegmentSum', impl: unsortedSegmentSum },
  { name: 'ScatterNd', impl: scatterNd },
  { name: 'Slice', impl: slice },
  { name: 'PadV2', impl: padV2 },
];
