/**
 * Dropout kernels. `tf.dropout` draws its uniforms one by one in JS (0.8-1.2 s for the [16, 12, 384, 384] attention
 * weights here, × 6 layers per step) and then runs four full-size kernels; `QaftDropout` draws counter-based uniforms
 * in C++ (the same seed gives the same mask on any thread count) and writes the output and a 1-byte keep mask in one
 * threaded pass, and its gradient `QaftMaskedScale` is one masked scale of `dy`.
 *
 * Registered for `native` only: elsewhere `nativeDropoutForward` returns undefined and the model's dropout
 * (src/model/fused-ops.ts) multiplies by its own seeded JS mask (`dropoutMask`), a random stream of its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32, allocU8, f32, output, valuesOf, type KernelArgs } from './kernel-util.js';
import { numberAttr, tensorInputs } from './kernel-args.js';

const DROPOUT = 'QaftDropout';
const MASKED_SCALE = 'QaftMaskedScale';

export function dropoutKernels(addon: NativeAddon, backendName: string): KernelConfig[] {
  const dropout = ({ inputs, backend, attrs }: KernelArgs): TensorInfo[] => {
    const { x } = tensorInputs(inputs, ['x'], DROPOUT);
    const n = util.sizeFromShape(x.shape);
    const out = allocF32(backend, n),
      mask = allocU8(backend, n);
    const rate = numberAttr(attrs, 'rate', DROPOUT),
      seed = numberAttr(attrs, 'seed', DROPOUT);
    if (n > 0) addon.dropout(f32(backend, x), out, mask, rate, seed, 1 / (1 - rate));
    return [output(backend, [...x.shape], 'float32', out), backend.makeTensorInfo([...x.shape], 'bool', mask)];
  };
  const maskedScale = ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const { x, mask } = tensorInputs(inputs, ['x', 'mask'], MASKED_SCALE);
    const scale = numberAttr(attrs, 'scale', MASKED_SCALE);
    const out = allocF32(backend, util.sizeFromShape(x.shape));
    if (out.length > 0) addon.maskedScale(f32(backend, x), valuesOf(backend, mask) as Uint8Array, out, scale);
    return output(backend, [...x.shape], 'float32', out);
  };
  return [
    { kernelName: DROPOUT, backendName, kernelFunc: dropout as unknown as KernelConfig['kernelFunc'] },
    { kernelName: MASKED_SCALE, backendName, kernelFunc: maskedScale as unknown as KernelConfig['kernelFunc'] },
  ];
}

/**
 * The dropout kernel alone, untaped, for fused ops that write their own gradient: `y` (x scaled by 1 / (1 − rate)
 * where kept, 0 elsewhere) and the 1-byte keep `mask` (bool, x's shape). `seed`: any integer in [0, 2^53); the
 * mask is a pure function of (seed, element index). Undefined for a rate outside (0, 1), a tensor that is not
 * float32, or a backend without the kernel.
 */
export function nativeDropoutForward(
  x: tf.Tensor,
  rate: number,
  seed: number,
): { y: tf.Tensor; mask: tf.Tensor } | undefined {
  if (!(rate > 0 && rate < 1) || x.dtype !== 'float32') return undefined;
  if (tf.getKernel(DROPOUT, tf.getBackend()) === undefined) return undefined;
  const [y, mask] = tf.engine().runKernel(DROPOUT, { x }, { rate, seed }) as tf.Tensor[];
  if (y === undefined || mask === undefined) throw new Error(`${DROPOUT}: expected two outputs (y, mask)`);
  return { y, mask };
}

/** dy scaled by 1 / (1 − rate) where `mask` (from `nativeDropoutForward`) kept the element, 0 elsewhere. */
export function nativeDropoutBackward(dy: tf.Tensor, mask: tf.Tensor, rate: number): tf.Tensor {
  return tf.engine().runKernel(MASKED_SCALE, { x: dy, mask }, { scale: 1 / (1 - rate) }) as tf.Tensor;
}
