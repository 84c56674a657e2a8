/**
 * Σx² over every element of a list of tensors (the squared global norm of the gradients) as an op,
 * `sumOfSquares`, on any backend. Where the active backend has the `QaftSumOfSquares` kernel (`native`), each
 * tensor is one threaded pass accumulating in float64, with no temporaries; elsewhere it is `Σ sum(square(x))`
 * in TF.js ops (float32).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedTensorMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { f32, type KernelArgs } from './kernel-util.js';

const SUM_OF_SQUARES = 'QaftSumOfSquares';

/** The kernel: any number of float32 inputs → a float32 scalar (the float64 sum, rounded once). */
export function sumOfSquaresKernel(addon: NativeAddon, backendName: string): KernelConfig {
  const kernelFunc = ({ inputs, backend }: KernelArgs): TensorInfo => {
    let sum = 0;
    for (const [name, x] of Object.entries(inputs)) {
      if (x === undefined) throw new Error(`${SUM_OF_SQUARES}: input '${name}' is undefined`);
      sum += addon.sumOfSquares(f32(backend, x));
    }
    return backend.makeTensorInfo([], 'float32', Float32Array.of(sum));
  };
  return { kernelName: SUM_OF_SQUARES, backendName, kernelFunc: kernelFunc as unknown as KernelConfig['kernelFunc'] };
}

/** Σx² over all elements of all `tensors`, as a float32 scalar (0 for none). */
export function sumOfSquares(tensors: readonly tf.Tensor[]): tf.Scalar {
  const kernel =
    tensors.length > 0 &&
    tf.getKernel(SUM_OF_SQUARES, tf.getBackend()) !== undefined &&
    tensors.every((t) => t.dtype === 'float32');
  if (kernel) {
    const inputs: NamedTensorMap = Object.fromEntries(tensors.map((t, i) => [String(i), t]));
    return tf.engine().runKernel(SUM_OF_SQUARES, inputs) as tf.Scalar;
  }
  return tf.tidy(() =>
    tensors.length === 0 ? tf.scalar(0) : (tf.addN(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Scalar),
  ); // []
}
