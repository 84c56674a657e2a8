/** Reductions (`Sum`, `Mean`, `Max`, `Min`) over any axes and `Softmax` over the last axis. */
import { backend_util, util, type TensorInfo } from '@tensorflow/tfjs-core';
import { REDUCE, type NativeAddon } from './addon.js';
import { allocF32, f32, isF32, output, sizeOf, type KernelArgs, type NativeKernel } from './kernel-util.js';
import { transposeValues } from './kernels-indexing.js';

function reduce(op: number, axisAttr: 'axis' | 'reductionIndices') {
  return ({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const x = inputs['x'] as TensorInfo;
    if (!isF32(x)) return undefined;
    const rank = x.shape.length;
    const axes = util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
    let values = f32(backend, x);
    let shape = [...x.shape];
    const perm = backend_util.getAxesPermutation(axes, rank);
    let inner = axes;
    if (perm !== null) {
      values = transposeValues(addon, values, shape, perm) as Float32Array; // reduced axes last
      shape = perm.map((p) => x.shape[p]!);
      inner = backend_util.getInnerMostAxes(axes.length, rank);
    }
    const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(shape, inner);
    const reduceSize = sizeOf(reduceShape);
    const out = allocF32(backend, sizeOf(outShape));
    if (reduceSize === 0 && op !== REDUCE.Sum) return undefined; // max/mean of nothing: the cpu kernel's answer
    if (out.length > 0) addon.reduce(op, values, out, out.length, reduceSize);
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
  const out = allocF32(backend, sizeOf(logits.shape));
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
