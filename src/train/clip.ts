/**
 * Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` does it: the L2 norm over all
 * gradients together, and a coefficient `maxNorm / (norm + 1e-6)` applied only when it is below 1.
 * The coefficient is not multiplied into the gradients here: AdamW takes it as a scalar `gradScale`, so
 * clipping costs no full-size temporary per parameter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sumOfSquares } from '../engine/ops.js';

/** torch's `clip_grad_norm_` adds this to the norm before dividing. */
const CLIP_EPS = 1e-6;

/** The factor the gradients are multiplied by: `min(1, maxNorm / (totalNorm + 1e-6))`; 1 when clipping is off. */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return 1; // maxNorm <= 0 or Infinity: no clipping
  const coef = maxNorm / (totalNorm + CLIP_EPS);
  // biome-ignore lint/complexity/useMathMinMax: a NaN norm gives 1 here (no scaling); Math.min would give NaN.
  return coef < 1 ? coef : 1;
}

/** The L2 norm of all gradients taken as one vector (float32 on the backend, as torch computes it). */
export async function globalNorm(grads: Iterable<tf.Tensor>): Promise<number> {
  const norm = tf.tidy(() => tf.sqrt(sumOfSquares([...grads]))); // []
  const [value] = await norm.data();
  norm.dispose();
  return value ?? 0;
}
