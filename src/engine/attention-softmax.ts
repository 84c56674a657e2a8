/**
 * Fused attention-probability kernels. Op by op, attention's weights took five full passes over the [B, H, T, T]
 * scores forward (mask Add, Softmax, Dropout) and five backward (MaskedScale, Multiply, Sum, Sub, Multiply), each
 * reading and writing ~100 MB per layer at training sizes; `QaftAttentionProbs` and `QaftAttentionProbsGrad` are one
 * threaded pass each, a row at a time, with a vectorized exp: within 1e-6 of those kernels, and the dropout mask is
 * `QaftDropout`'s (./dropout.ts) bit for bit. In bf16 mode each also writes the bf16 copy of the output a matmul reads
 * next (the weights for P·V, the scores' gradient for dq and dk) in the same pass, and holds the dropped weights (and
 * the gradient, when the caller says only matmuls read it) in bf16 only.
 *
 * Registered for `native` only: elsewhere `nativeAttentionProbs` returns undefined and the model's attention
 * (src/model/fused-ops.ts) keeps its op-by-op path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32, allocU8, f32, matmulInputOutput, output, valuesOf, type KernelArgs } from './kernel-util.js';
import { numberAttr, tensorInputs } from './kernel-args.js';

const PROBS = 'QaftAttentionProbs';
const PROBS_GRAD = 'QaftAttentionProbsGrad';

/** The mask's query rows per batch: 1 for [B, 1, 1, Tk], Tq for [B, 1, Tq, Tk]; undefined for any other shape. */
function maskRows(scores: readonly number[], mask: readonly number[]): number | undefined {
  const [b, , tq, tk] = scores;
  if (mask.length !== 4 || mask[0] !== b || mask[1] !== 1 || mask[3] !== tk) return undefined;
  return mask[2] === 1 ? 1 : mask[2] === tq ? tq : undefined;
}

export function attentionSoftmaxKernels(addon: NativeAddon, backendName: string): KernelConfig[] {
  // inputs: scores [B, H, Tq, Tk], maskBias (optional) [B, 1, 1 | Tq, Tk]; attrs: rate (0: no dropout), seed
  const probs = ({ inputs, backend, attrs }: KernelArgs): TensorInfo[] => {
    const { scores } = tensorInputs(inputs, ['scores'], PROBS);
    const mask = inputs['maskBias'];
    const rate = numberAttr(attrs, 'rate', PROBS),
      seed = numberAttr(attrs, 'seed', PROBS);
    const shape = [...scores.shape];
    const [b = 0, h = 0, tq = 0, tk = 0] = shape;
    const rows = mask === undefined ? 1 : maskRows(shape, mask.shape);
    if (shape.length !== 4 || rows === undefined) {
      throw new Error(
        `${PROBS}: expected scores [B, H, Tq, Tk] and a mask [B, 1, 1 | Tq, Tk], got ${JSON.stringify(shape)} and ${JSON.stringify(mask?.shape)}`,
      );
    }
    const n = util.sizeFromShape(shape);
    // the weights P·V reads: with dropout the dropped ones, which only matmuls read (bf16 only in bf16 mode); else
    // the probabilities themselves, which the gradient reads too
    const drop = rate > 0;
    const weights = matmulInputOutput(backend, n, drop);
    const p = drop ? allocF32(backend, n) : weights.fp32!; // not bf16-only without dropout
    const keep = drop ? allocU8(backend, n) : null;
    if (n > 0) {
      addon.attentionProbs(
        f32(backend, scores),
        mask === undefined ? null : f32(backend, mask),
        p,
        drop ? weights.fp32 : null,
        keep,
        b,
        h,
        tq,
        tk,
        rows,
        rate,
        seed,
        drop ? 1 / (1 - rate) : 1,
        weights.copy,
      );
    }
    if (keep === null) return [weights.tensor(shape)];
    return [output(backend, shape, 'float32', p), weights.tensor(shape), backend.makeTensorInfo(shape, 'bool', keep)];
  };
  // inputs: dy (the gradient of the probabilities, after dropout when mask is given), probs, mask (optional, bool);
  // attrs: scale (dropout's 1 / (1 − rate)), matmulOnly (true: only matmuls read the result, so in bf16 mode it is
  // held in bf16 only)
  const probsGrad = ({ inputs, backend, attrs }: KernelArgs): TensorInfo => {
    const { dy, probs: p } = tensorInputs(inputs, ['dy', 'probs'], PROBS_GRAD);
    const mask = inputs['mask'];
    const shape = [...p.shape];
    const tk = shape.at(-1) ?? 0;
    if (!util.arraysEqual(dy.shape, shape) || (mask !== undefined && !util.arraysEqual(mask.shape, shape))) {
      throw new Error(
        `${PROBS_GRAD}: dy ${JSON.stringify(dy.shape)} and mask ${JSON.stringify(mask?.shape)} should match probs ${JSON.stringify(shape)}`,
      );
    }
    const n = util.sizeFromShape(shape);
    // the input of the dq and dk matmuls; bf16 only in bf16 mode when nothing else reads it
    const out = matmulInputOutput(backend, n, attrs['matmulOnly'] === true);
    if (n > 0) {
      const keep = mask === undefined ? null : (valuesOf(backend, mask) as Uint8Array);
      addon.attentionProbsGrad(
        f32(backend, dy),
        f32(backend, p),
        keep,
        out.fp32,
        n / tk,
        tk,
        numberAttr(attrs, 'scale', PROBS_GRAD),
        out.copy,
      );
    }
    return out.tensor(shape);
  };
  return [
    { kernelName: PROBS, backendName, kernelFunc: probs as unknown as KernelConfig['kernelFunc'] },
    { kernelName: PROBS_GRAD, backendName, kernelFunc: probsGrad as unknown as KernelConfig['kernelFunc'] },
  ];
}

/** Attention's weights: the probabilities and, in training, their dropout (`y`) and its 1-byte keep `mask` (bool). */
export interface AttentionProbs {
  readonly probs: tf.Tensor; // [B, H, Tq, Tk]
  readonly dropped: { readonly y: tf.Tensor; readonly mask: tf.Tensor } | null; // [B, H, Tq, Tk] each
}

/**
 * The fused forward kernel, untaped, for an attention op that writes its own gradient: softmax(scores + maskBias)
 * over the last axis and, with `dropout`, inverted dropout of it as `nativeDropoutForward` draws it (the same mask
 * for the same seed). `maskBias`: [B, 1, 1, Tk] or [B, 1, Tq, Tk], or null. Undefined for a backend without the
 * kernel, tensors that are not float32, scores not of rank 4, another mask shape, or a rate outside (0, 1).
 */
export function nativeAttentionProbs(
  scores: tf.Tensor,
  maskBias: tf.Tensor | null,
  dropout: { readonly rate: number; readonly seed: number } | null,
): AttentionProbs | undefined {
  if (tf.getKernel(PROBS, tf.getBackend()) === undefined) return undefined;
  if (
    scores.dtype !== 'float32' ||
    scores.rank !== 4 ||
    (maskBias !== null && (maskBias.dtype !== 'float32' || maskRows(scores.shape, maskBias.shape) === undefined))
  )
    return undefined;
  if (dropout !== null && !(dropout.rate > 0 && dropout.rate < 1)) return undefined;
  const inputs: tf.NamedTensorMap = maskBias === null ? { scores } : { scores, maskBias };
  const attrs = { rate: dropout?.rate ?? 0, seed: dropout?.seed ?? 0 };
  const outs = tf.engine().runKernel(PROBS, inputs, attrs) as tf.Tensor[];
  const [probs, y, mask] = outs;
  if (probs === undefined || (dropout !== null && (y === undefined || mask === undefined))) {
    throw new Error(`${PROBS}: expected ${dropout === null ? 1 : 3} outputs, got ${outs.length}`);
  }
  return { probs, dropped: y === undefined || mask === undefined ? null : { y, mask } };
}

/**
 * The fused backward kernel: the gradient of the scores, p ⊙ (g − Σ_row g ⊙ p), from `dy`, the gradient of the
 * weights the forward returned (its `y` when `dropped`, else `probs`), with g = dy masked and scaled by
 * 1 / (1 − rate) when `dropped` is given (its mask from `nativeAttentionProbs`), else dy. `matmulOnly`: the caller
 * reads the result only through matmuls (so in bf16 mode it is held in bf16 only; read elsewhere, it is rounded).
 */
export function nativeAttentionProbsGrad(
  dy: tf.Tensor,
  probs: tf.Tensor,
  dropped: { readonly mask: tf.Tensor; readonly rate: number } | null,
  matmulOnly = false,
): tf.Tensor {
  const inputs: tf.NamedTensorMap = dropped === null ? { dy, probs } : { dy, probs, mask: dropped.mask };
  const attrs = { scale: dropped === null ? 1 : 1 / (1 - dropped.rate), matmulOnly };
  return tf.engine().runKernel(PROBS_GRAD, inputs, attrs) as tf.Tensor;
}
