/**
 * Fused erf-GELU kernels. The model's op-by-op GELU runs 5 full-size kernels forward and 9 backward over the
 * [B, T, 4D] FFN activations (the biggest tensors of a layer after attention's); `QaftGelu` and `QaftGeluGrad`
 * are one threaded, vectorized pass each (erfc and exp as float polynomials, native/elementwise.cc), within 1e-6 of a
 * float64 GELU. In bf16 mode the gradient also writes its output's bf16 copy in the same pass (matmuls read it
 * next), and GELU's output is held in bf16 only (the FFN's second linear is its one reader; autocast's GELU of a
 * linear's bf16 output is bf16 too).
 *
 * Registered for `native` only: elsewhere `nativeGelu` returns undefined and the model keeps its op-by-op GELU.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32, bf16Beside, f32, matmulInputOutput, output, type KernelArgs } from './kernel-util.js';
import { tensorInputs } from './kernel-args.js';

const GELU = 'QaftGelu';
const GELU_GRAD = 'QaftGeluGrad';

export function geluKernels(addon: NativeAddon, backendName: string): KernelConfig[] {
  const gelu = ({ inputs, backend }: KernelArgs): TensorInfo => {
    const { x } = tensorInputs(inputs, ['x'], GELU);
    const n = util.sizeFromShape(x.shape);
    const out = matmulInputOutput(backend, n, true); // the next linear's matmul input, its only reader
    if (n > 0) addon.gelu(f32(backend, x), out.fp32, out.copy);
    return out.tensor([...x.shape]);
  };
  const geluGrad = ({ inputs, backend }: KernelArgs): TensorInfo => {
    const { x, dy } = tensorInputs(inputs, ['x', 'dy'], GELU_GRAD);
    const out = allocF32(backend, util.sizeFromShape(x.shape));
    const bf16 = bf16Beside(backend, out); // the input of the linear's dX and dW matmuls
    if (out.length > 0) addon.geluGrad(f32(backend, x), f32(backend, dy), out, bf16.copy);
    bf16.adopt();
    return output(backend, [...x.shape], 'float32', out);
  };
  return [
    { kernelName: GELU, backendName, kernelFunc: gelu as unknown as KernelConfig['kernelFunc'] },
    { kernelName: GELU_GRAD, backendName, kernelFunc: geluGrad as unknown as KernelConfig['kernelFunc'] },
  ];
}

/**
 * The fused kernels, untaped, for a GELU op that writes its own gradient: `forward` is x·Φ(x), `backward` is
 * dy·(Φ(x) + x·φ(x)) for the same x. Undefined for a tensor that is not float32 or a backend without the kernels.
 */
export function nativeGelu(
  x: tf.Tensor,
): { forward: () => tf.Tensor; backward: (dy: tf.Tensor) => tf.Tensor } | undefined {
  if (x.dtype !== 'float32' || tf.getKernel(GELU, tf.getBackend()) === undefined) return undefined;
  return {
    forward: () => tf.engine().runKernel(GELU, { x }) as tf.Tensor,
    backward: (dy) => {
      if (!util.arraysEqual(dy.shape, x.shape))
        throw new Error(`${GELU_GRAD}: dy ${JSON.stringify(dy.shape)} vs x ${JSON.stringify(x.shape)}`);
      return tf.engine().runKernel(GELU_GRAD, { x, dy }) as tf.Tensor;
    },
  };
}
