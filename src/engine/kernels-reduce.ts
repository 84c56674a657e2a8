/** Reductions (`Sum`, `Mean`, `Max`, `Min`) over any axes and `Softmax` over the last axis. */
import { backend_util, util, type TensorInfo } from '@tensorflow/tfjs-core';
import { REDUCE, type NativeAddon } from './addon.js';
import { allocF32, f32, isF32, output, type KernelArgs, type NativeKernel } from './kernel-util.js';
import { transposeValues } from './kernels-indexing.js';

function reduce(op: number, axisAttr: 'axis' | 'reductionIndices') {
  return ({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const x = inputs['x'] as TensorInfo;
    if (!isF32(x)) return undefined;
    const rank = x.shape.length;
    const axes = [...util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape)].sort((p, q) => p - q);
    const outShape = x.shape.filter((_, d) => !axes.includes(d));
    const first = axes[0] ?? 0, last = axes[axes.length - 1] ?? -1;
    const red = util.sizeFromShape(x.shape.slice(first, last + 1));
    if (red === 0 && op !== REDUCE.Sum) return undefined; // max/mean of nothing: the cpu kernel's answer
    const out = allocF32(backend, util.sizeFromShape(outShape));
    if (axes.length === 0) {
      out.set(f32(backend, x));
    } else if (last - first + 1 === axes.length) {
      // One contiguous block of axes (the last ones, the leading ones, or a middle run): no transpose needed.
      if (out.length > 0) addon.reduceMiddle(op, f32(backend, x), out, util.sizeFromShape(x.shape.slice(0, first)), red, util.sizeFromShape(x.shape.slice(last + 1)));
    } else {
      const perm = backend_util.getAxesPermutation(axes, rank)!;
      const moved = transposeValues(addon, f32(backend, x), x.shape, perm) as Float32Array; // reduced axes last
      const reduceSize = util.sizeFromShape(axes.map((d) => x.shape[d]!));
      if (out.length > 0) addon.reduce(op, moved, out, out.length, reduceSize);
    }
    const keepDims = attrs['keepDims'] === true;
    return output(backend, keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32', out);
  };
}

function softmax({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const logits = inputs['logits'] as TensorInfo;
  if (!isF32(logits) || logits.shape.length === 0) return undefined;
  const rank = logits.shape.length;
  const dim = attrs['dim'] as number;
  if (dim !== -1 && dim !== rank - 1) return undefined;
  const inner = logits.shape[rank - 1]!;
  const out = allocF32(backend, util.sizeFromShape(logits.shape));
  if (out.length > 0) addon.softmax(f32(backend, logits), out, out.length / inner, inner);
  return output(backend, [...logits.shape], 'float32', out);
}

export const reduceKernels: readonly NativeKernel[] = [
  { name: 'Sum', impl: reduce(REDUCE.Sum, 'axis') },
  { name: 'Mean', impl: reduce(REDUCE.Mean, 'axis') },
  { name: 'Max', impl: reduce(REDUCE.Max, 'reductionIndices') },
  { name: 'Min', impl: reduce(REDUCE.Min, 'axis') },
  { name: 'Softmax', impl: softmax },
];
