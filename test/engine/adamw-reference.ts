/**
 * Test helper: PyTorch's AdamW update (src/engine/adamw.ts) on plain arrays in float64, the reference the
 * optimizer, the engine's `adamwUpdate` op and the trainer are checked against.
 */

/** One AdamW update of `state` by `grad` (betas and eps default to torch's: 0.9, 0.999, 1e-8). */
export function adamwReference(
  state: { param: readonly number[]; m: readonly number[]; v: readonly number[] },
  grad: readonly number[],
  hyper: { lr: number; weightDecay: number; step: number; beta1?: number; beta2?: number; eps?: number },
): { param: number[]; m: number[]; v: number[] } {
  const { lr, weightDecay, step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = hyper;
  const bc1 = 1 - beta1 ** step;
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const param: number[] = [];
  const m: number[] = [];
  const v: number[] = [];
  state.param.forEach((p0, i) => {
    const g = grad[i] ?? 0;
    const mi = beta1 * (state.m[i] ?? 0) + (1 - beta1) * g;
    const vi = beta2 * (state.v[i] ?? 0) + (1 - beta2) * g * g;
    const decayed = p0 * (1 - lr * weightDecay);
    param.push(decayed - (lr / bc1) * (mi / (Math.sqrt(vi) / bc2Sqrt + eps)));
    m.push(mi);
    v.push(vi);
  });
  return { param, m, v };
}
