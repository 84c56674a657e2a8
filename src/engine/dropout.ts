/**
 * Dropout on the native backend in one threaded pass. `tf.dropout` draws its uniforms one by one in JS (0.8-1.2 s
 * for the [16, 12, 384, 384] attention weights here, × 6 layers per step) and then runs four full-size kernels;
 * this draws counter-based uniforms in C++ (the same seed gives the same mask on any thread count), writes the
 * output and a 1-byte keep mask, and the gradient is one masked scale of `dy`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32, allocU8, f32, output, sizeOf, valuesOf, type KernelArgs } from './kernel-util.js';

const DROPOUT = 'QaftDropout';
const MASKED_SCALE = 'QaftMaskedScale';

export function dropoutKernels(addon: NativeAddon, backendName: string): KernelConfig[] {
  const dropout = ({ inputs, backend, attrs }: KernelArgs): TensorInfo[] => {
    const x = inputs['x'] as TensorInfo;
    const n = sizeOf(x.shape);
    const out = allocF32(backend, n), mask = allocU8(backend, n);
    const rate = attrs['rate'] as number;
    if (n > 0) addon.dropout(f32(backend, x), out, mask, rate, attrs['seed'] as number, 1 / (1 - rate));
    return [output(backend, [...x.shape], 'float32', out), backend.makeTensorInfo([...x.shape], 'bool', mask)];
  };
  const maskedScale = ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const { x, mask } = inputs as { x: TensorInfo; mask: TensorInfo };
    const out = allocF32(backend, sizeOf(x.shape));
    if (out.length > 0) addon.maskedScale(f32(backend, x), valuesOf(backend, mask) as Uint8Array, out, attrs['scale'] as number);
    return output(backend, [...x.shape], 'float32', out);
  };
  return [
    { kernelName: DROPOUT, backendName, kernelFunc: dropout as unknown as KernelConfig['kernelFunc'] },
    { kernelName: MASKED_SCALE, backendName, kernelFunc: maskedScale as unknown as KernelConfig['kernelFunc'] },
  ];
}

/** Whether `nativeDropoutForward` can serve a float32 tensor now (native backend active, kernel registered). */
function nativeDropoutReady(x: tf.Tensor, rate: number): boolean {
  if (tf.getBackend() !== 'native' || x.dtype !== 'float32' || !(rate >= 0 && rate < 1)) return false;
  return tf.getKernel(DROPOUT, 'native') !== undefined;
}

/**
 * The dropout kernel alone, untaped, for fused ops that write their own gradient: `y` (x scaled where kept, 0
 * elsewhere) and the 1-byte keep `mask` (bool, x's shape). Undefined off the `native` backend or for rate 0.
 */
export function nativeDropoutForward(x: tf.Tensor, rate: number, seed: number): { y: tf.Tensor; mask: tf.Tensor } | undefined {
  if (rate === 0 || !nativeDropoutReady(x, rate)) return undefined;
  const [y, mask] = tf.engine().runKernel(DROPOUT, { x }, { rate, seed }) as tf.Tensor[];
  return { y: y!, mask: mask! };
}

/** dy scaled by 1 / (1 − rate) where `mask` (from `nativeDropoutForward`) kept the element, 0 elsewhere. */
export function nativeDropoutBackward(dy: tf.Tensor, mask: tf.Tensor, rate: number): tf.Tensor {
  return tf.engine().runKernel(MASKED_SCALE, { x: dy, mask }, { scale: 1 / (1 - rate) }) as tf.Tensor;
}

/**
 * Inverted dropout of a float32 tensor with gradient (dy scaled where kept), on the `native` backend; undefined
 * elsewhere, so the caller falls back to `tf.dropout`. `seed`: any integer in [0, 2^53); the mask is a pure
 * function of (seed, element index). Not the same random stream as `tf.dropout`.
 */
export function nativeDropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T | undefined {
  if (!nativeDropoutReady(x, rate)) return undefined;
  if (rate === 0) return x;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { y, mask } = nativeDropoutForward(input, rate, seed)!;
    save([mask]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => nativeDropoutBackward(dy as tf.Tensor, saved[0]!, rate),
    };
  });
  return f(x) as T;
}
