/**
 * The AdamW update of one parameter as an op, `adamwUpdate`, on any backend: PyTorch's `torch.optim.AdamW`
 * (decoupled weight decay), with the gradient g first multiplied by `gradScale` (the clipping coefficient), at step
 * t ≥ 1:
 *   p ← p · (1 − lr·wd)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 * Where the active backend has the `QaftAdamW` kernel (`native`), the update is one threaded pass over p, g, m, v
 * that writes p, m and v in place: no temporary at all. Elsewhere it is TF.js ops, each line above computed and
 * assigned before the next starts, so at most three temporaries of p's size are alive at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { replace } from '../util/tensor-chain.js';
import type { NativeAddon } from './addon.js';
import { f32, type KernelArgs } from './kernel-util.js';
import { NativeBackend } from './backend.js';
import { numberAttr, tensorInputs } from './kernel-args.js';

const ADAMW = 'QaftAdamW';

interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled (PyTorch AdamW): p ← p·(1 − lr·wd) before the Adam step. 0 for no-decay parameters. */
  readonly weightDecay: number;
  /** 1-based step count after this update (torch's state['step']), for the bias corrections. */
  readonly step: number;
  /** The gradient is multiplied by this first (the clipping coefficient); default 1. */
  readonly gradScale?: number;
}

/**
 * The kernel: inputs `param`, `grad`, `m`, `v` (float32, one size), attrs the fields of `AdamWHyper`. It writes
 * param, m and v in place and has no outputs; `adamwUpdate` makes sure no other tensor shares their storage.
 */
export function adamwKernel(addon: NativeAddon, backendName: string): KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: KernelArgs): TensorInfo[] => {
    const { param, grad, m, v } = tensorInputs(inputs, ['param', 'grad', 'm', 'v'], ADAMW);
    // the weight changes in place: its bf16 copy (bf16 matmuls) is stale from here
    if (backend instanceof NativeBackend) backend.forgetBf16(f32(backend, param));
    const h = (name: keyof AdamWHyper): number => numberAttr(attrs, name, ADAMW);
    addon.adamw(
      f32(backend, param),
      f32(backend, grad),
      f32(backend, m),
      f32(backend, v),
      h('lr'),
      h('beta1'),
      h('beta2'),
      h('eps'),
      h('weightDecay'),
      h('step'),
      h('gradScale'),
    );
    return [];
  };
  return { kernelName: ADAMW, backendName, kernelFunc: kernelFunc as unknown as KernelConfig['kernelFunc'] };
}

/**
 * One AdamW update of `param`, `m` (exp_avg) and `v` (exp_avg_sq) by `grad`. The caller still owns `grad`. On the
 * fused kernel, a variable whose storage another tensor shares is first given storage of its own, so no other
 * tensor sees the update.
 */
export function adamwUpdate(param: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamWHyper): void {
  const all = [param, grad, m, v];
  const fused =
    tf.getKernel(ADAMW, tf.getBackend()) !== undefined &&
    all.every((t) => t.dtype === 'float32' && t.size === param.size);
  if (!fused) {
    updateWithOps(param, grad, m, v, h);
    return;
  }
  for (const t of [param, m, v]) ownStorage(t);
  const attrs: Required<AdamWHyper> = { ...h, gradScale: h.gradScale ?? 1 };
  tf.engine().runKernel(ADAMW, { param, grad, m, v }, attrs as unknown as NamedAttrMap);
}

/** Gives `t` storage of its own unless it alone holds it on the active backend (the kernel writes in place). */
function ownStorage(t: tf.Variable): void {
  if (tf.backend().refCount(t.dataId) === 1) return;
  const copy = tf.tensor(Float32Array.from(t.dataSync()), t.shape, 'float32');
  t.assign(copy);
  copy.dispose();
}

/**
 * The update in TF.js ops. The clipping coefficient s is folded into the scalar factors ((1−β1)·s, (1−β2)·s²), so
 * the scaled gradient is never materialised; each line holds at most three temporaries of p's size, freed at once.
 */
function updateWithOps(p: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamWHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = h;
  const scale = h.gradScale ?? 1;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  if (weightDecay !== 0) assign(p, () => tf.mul(p, 1 - lr * weightDecay));
  assign(m, () => tf.add(tf.mul(m, beta1), tf.mul(grad, (1 - beta1) * scale)));
  assign(v, () => tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), (1 - beta2) * scale * scale)));
  let x = tf.tidy(() => tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps)); // √v̂ + ε
  x = replace(x, (denom) => tf.div(m, denom)); // m / (√v̂ + ε)
  x = replace(x, (ratio) => tf.sub(p, tf.mul(ratio, stepSize))); // p − lr/(1−β1^t) · ratio
  p.assign(x);
  x.dispose();
}

/** Sets a variable to `fn()` (inside tidy, so scalar operands are freed). */
function assign(target: tf.Variable, fn: () => tf.Tensor): void {
  const next = tf.tidy(fn);
  target.assign(next);
  next.dispose();
}
