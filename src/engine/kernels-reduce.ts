/** Reductions (`Sum`, `Mean`, `Max`, `Min`) over any axes and `Softmax` over the last axis. */
import { backend_util, util, type TensorInfo } from '@tensorflow/tfjs-core';
import { REDUCE, type NativeAddon } from './addon.js';
import { allocF32, f32, isF32, output, type KernelArgs, type NativeKernel } from './kernel-util.js';
import { transposeValues } from './kernels-indexing.js';
import { dim, numberAttr, numberOrListAttr, tensorInputs } from './kernel-args.js';

function reduce(name: keyof typeof REDUCE, axisAttr: 'axis' | 'reductionIndices'): NativeKernel {
  const op = REDUCE[name];
  const impl = ({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined => {
    const { x } = tensorInputs(inputs, ['x'], name);
    if (!isF32(x)) return undefined;
    const rank = x.shape.length;
    // An absent (null) axis, as in tf.sum(x), is every axis: what TF.js's parseAxisParam makes of it.
    const axisParam = numberOrListAttr(attrs, axisAttr, name) ?? x.shape.map((_, d) => d);
    const axes = [...util.parseAxisParam(axisParam, x.shape)].sort((p, q) => p - q);
    const outShape = x.shape.filter((_, d) => !axes.includes(d));
    const first = axes[0] ?? 0,
      last = axes[axes.length - 1] ?? -1;
    const red = util.sizeFromShape(x.shape.slice(first, last + 1));
    if (red === 0 && op !== REDUCE.Sum) return undefined; // max/mean of nothing: the cpu kernel's answer
    const out = allocF32(backend, util.sizeFromShape(outShape));
    if (axes.length === 0) {
      out.set(f32(backend, x));
    } else if (last - first + 1 === axes.length) {
      // One contiguous block of axes (the last ones, the leading ones, or a middle run): no transpose needed.
      if (out.length > 0)
        addon.reduceMiddle(
          op,
          f32(backend, x),
          out,
          util.sizeFromShape(x.shape.slice(0, first)),
          red,
          util.sizeFromShape(x.shape.slice(last + 1)),
        );
    } else {
      const perm = backend_util.getAxesPermutation(axes, rank)!;
      const moved = transposeValues(addon, f32(backend, x), x.shape, perm) as Float32Array; // reduced axes last
      const reduceSize = util.sizeFromShape(axes.map((d) => dim(x.shape, d, name)));
      if (out.length > 0) addon.reduce(op, moved, out, out.length, reduceSize);
    }
    const keepDims = attrs['keepDims'] === true;
    return output(backend, keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32', out);
  };
  return { name, impl };
}

function softmax({ inputs, backend, attrs }: KernelArgs, addon: NativeAddon): TensorInfo | undefined {
  const { logits } = tensorInputs(inputs, ['logits'], 'Softmax');
  if (!isF32(logits) || logits.shape.length === 0) return undefined;
  const rank = logits.shape.length;
  const axis = numberAttr(attrs, 'dim', 'Softmax');
  if (axis !== -1 && axis !== rank - 1) return undefined;
  const inner = dim(logits.shape, rank - 1, 'Softmax');
  const out = allocF32(backend, util.sizeFromShape(logits.shape));
  if (out.length > 0) addon.softmax(f32(backend, logits), out, out.length / inner, inner);
  return output(backend, [...logits.shape], 'float32', out);
}

export const reduceKernels: readonly NativeKernel[] = [
  reduce('Sum', 'axis'),
  reduce('Mean', 'axis'),
  reduce('Max', 'reductionIndices'),
  reduce('Min', 'axis'),
  { name: 'Softmax', impl: softmax },
];
