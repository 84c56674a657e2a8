/**
 * Fused LayerNorm kernels. The model's op-by-op LayerNorm(x + r) runs ~10 full-size kernels forward and ~11
 * backward over [B, T, D]; `QaftAddLayerNorm` and `QaftAddLayerNormGrad` are one threaded pass each
 * (native/layernorm.cc), in the same float32 operations in the same order: on `native` the output, the saved
 * normalised values and standard deviations, and the input gradient are bit-identical to the op-by-op forms; the
 * weight and bias gradients are the same double sums added in a fixed blocked order (a last-bit difference at most).
 * In bf16 mode each also writes, in the same pass, the bf16 copy of the output a matmul reads next (y, dx).
 *
 * Registered for `native` only: elsewhere `nativeAddLayerNorm` returns undefined and the model keeps its op-by-op
 * LayerNorm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32, bf16Beside, f32, output, type KernelArgs } from './kernel-util.js';
import { dim, numberAttr, tensorInputs } from './kernel-args.js';

const LAYER_NORM = 'QaftAddLayerNorm';
const LAYER_NORM_GRAD = 'QaftAddLayerNormGrad';

/** x's shape with its last axis 1: the shape of the per-row standard deviations. */
function rowShape(shape: readonly number[]): number[] {
  return [...shape.slice(0, -1), 1];
}

export function layerNormKernels(addon: NativeAddon, backendName: string): KernelConfig[] {
  // inputs x, w, b and optionally r (x's shape or its trailing axes; nativeAddLayerNorm checks); attr eps
  const forward = ({ inputs, backend, attrs }: KernelArgs): TensorInfo[] => {
    const { x, w, b } = tensorInputs(inputs, ['x', 'w', 'b'], LAYER_NORM);
    const r = inputs['r'];
    const eps = numberAttr(attrs, 'eps', LAYER_NORM);
    const d = dim(x.shape, x.shape.length - 1, LAYER_NORM);
    const n = util.sizeFromShape(x.shape);
    const y = allocF32(backend, n),
      normed = allocF32(backend, n),
      std = allocF32(backend, n / d);
    const rRows = r === undefined ? 0 : util.sizeFromShape(r.shape) / d;
    const bf16 = bf16Beside(backend, y); // the next linear's matmul input
    addon.addLayerNorm(
      f32(backend, x),
      r === undefined ? null : f32(backend, r),
      rRows,
      f32(backend, w),
      f32(backend, b),
      eps,
      d,
      y,
      normed,
      std,
      bf16.copy,
    );
    bf16.adopt();
    return [
      output(backend, [...x.shape], 'float32', y),
      output(backend, [...x.shape], 'float32', normed),
      output(backend, rowShape(x.shape), 'float32', std),
    ];
  };
  const grad = ({ inputs, backend }: KernelArgs): TensorInfo[] => {
    const { dy, normed, std, w } = tensorInputs(inputs, ['dy', 'normed', 'std', 'w'], LAYER_NORM_GRAD);
    const d = dim(dy.shape, dy.shape.length - 1, LAYER_NORM_GRAD);
    const dx = allocF32(backend, util.sizeFromShape(dy.shape)),
      dw = allocF32(backend, d),
      db = allocF32(backend, d);
    const bf16 = bf16Beside(backend, dx); // dY of the previous linear's dX and dW matmuls
    addon.addLayerNormGrad(
      f32(backend, dy),
      f32(backend, normed),
      f32(backend, std),
      f32(backend, w),
      d,
      dx,
      dw,
      db,
      bf16.copy,
    );
    bf16.adopt();
    return [
      output(backend, [...dy.shape], 'float32', dx),
      output(backend, [d], 'float32', dw),
      output(backend, [d], 'float32', db),
    ];
  };
  return [
    { kernelName: LAYER_NORM, backendName, kernelFunc: forward as unknown as KernelConfig['kernelFunc'] },
    { kernelName: LAYER_NORM_GRAD, backendName, kernelFunc: grad as unknown as KernelConfig['kernelFunc'] },
  ];
}

/**
 * Whether `r` adds to `x` row by row: x's shape, or its trailing axes (leading 1s allowed), e.g. [T, D] under
 * [B, T, D].
 */
function rowsOfX(r: tf.Tensor, x: tf.Tensor): boolean {
  const first = r.shape.findIndex((s) => s !== 1);
  const core = first < 0 ? [] : r.shape.slice(first);
  return core.length >= 1 && core.length <= x.rank && util.arraysEqual(core, x.shape.slice(x.rank - core.length));
}

/**
 * The fused kernels, untaped, for a LayerNorm op that writes its own gradient: `forward` is LayerNorm(x + r) over
 * the last axis (biased variance, `eps` inside the square root) with the normalised values and the standard
 * deviations ([..., 1]) its gradient needs; `backward` gives dx, dw and db from dy and those two (the residual's
 * gradient is dx, summed down to r's shape by the caller). Undefined where the kernels do not apply: a backend
 * without them, a tensor that is not float32, an empty x, w or b not [D], or an r that does not add row by row.
 */
export function nativeAddLayerNorm(
  x: tf.Tensor,
  r: tf.Tensor | null,
  w: tf.Tensor,
  b: tf.Tensor,
  eps: number,
): { y: tf.Tensor; normed: tf.Tensor; std: tf.Tensor } | undefined {
  if (tf.getKernel(LAYER_NORM, tf.getBackend()) === undefined) return undefined;
  const d = x.shape.at(-1);
  if (d === undefined || x.size === 0 || [x, r ?? x, w, b].some((t) => t.dtype !== 'float32')) return undefined;
  if (!util.arraysEqual(w.shape, [d]) || !util.arraysEqual(b.shape, [d]) || (r !== null && !rowsOfX(r, x)))
    return undefined;
  const [y, normed, std] = tf
    .engine()
    .runKernel(LAYER_NORM, r === null ? { x, w, b } : { x, r, w, b }, { eps }) as tf.Tensor[];
  if (y === undefined || normed === undefined || std === undefined)
    throw new Error(`${LAYER_NORM}: expected three outputs (y, normed, std)`);
  return { y, normed, std };
}

/** The gradient of `nativeAddLayerNorm`'s y: dx (dy's shape), dw and db ([D]). */
export function nativeAddLayerNormBackward(
  dy: tf.Tensor,
  normed: tf.Tensor,
  std: tf.Tensor,
  w: tf.Tensor,
): { dx: tf.Tensor; dw: tf.Tensor; db: tf.Tensor } {
  if (!util.arraysEqual(dy.shape, normed.shape))
    throw new Error(`${LAYER_NORM_GRAD}: dy ${JSON.stringify(dy.shape)} vs normed ${JSON.stringify(normed.shape)}`);
  const [dx, dw, db] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy, normed, std, w }) as tf.Tensor[];
  if (dx === undefined || dw === undefined || db === undefined)
    throw new Error(`${LAYER_NORM_GRAD}: expected three outputs (dx, dw, db)`);
  return { dx, dw, db };
}
