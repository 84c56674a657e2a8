/**
 * The `native` TF.js backend: a MathBackendCPU (tensors live in JS typed arrays, so no 4 GB wasm cap) with every
 * cpu kernel re-registered under 'native' and OpenBLAS/threaded C++ kernels (native/) registered over the ones a
 * transformer training step spends its time in. Also an in-place AdamW update for the trainer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import os from 'node:os';
import { guardAliases, NativeBackend } from './backend.js';
import { loadAddon, type NativeAddon } from './addon.js';
import { kernelCalls, withFallback, type NativeKernel } from './kernel-util.js';
import { dropoutKernels } from './dropout.js';
import { elementwiseKernels } from './kernels-elementwise.js';
import { indexingKernels } from './kernels-indexing.js';
import { matmulKernels } from './kernels-matmul.js';
import { reduceKernels } from './kernels-reduce.js';

export const NATIVE_BACKEND = 'native';
export { nativeDropout } from './dropout.js';

/** Every kernel the addon implements (the rest of the backend is the cpu backend's). */
export const NATIVE_KERNELS: readonly NativeKernel[] = [...matmulKernels, ...elementwiseKernels, ...reduceKernels, ...indexingKernels];

export type RegisterResult = { ok: true } | { ok: false; reason: string };

/**
 * Registers the `native` backend (once; later calls only change `threads`). Does not activate it: call
 * `tf.setBackend('native')`. `threads` defaults to all cores. Fails with a one-line reason (how to build the
 * addon) when the addon is missing.
 */
export async function registerNativeBackend(options: { threads?: number } = {}): Promise<RegisterResult> {
  const loaded = loadAddon();
  if (!('addon' in loaded)) return { ok: false, reason: loaded.reason };
  const { addon } = loaded;
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      return { ok: false, reason: `threads must be a positive integer, got ${options.threads}` };
    }
    addon.setThreads(options.threads);
  }
  if (tf.findBackendFactory(NATIVE_BACKEND) !== null) return { ok: true };
  // Released output arrays kept for reuse: up to 1/8 of the machine's memory, at most 2 GiB.
  const poolBytes = Math.min(2 ** 31, Math.floor(os.totalmem() / 8));
  // Priority 0: never chosen implicitly over the defaults; qa-ft selects it by name.
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(poolBytes), 0);
  const native = new Map(NATIVE_KERNELS.map((k) => [k.name, k]));
  for (const k of tf.getKernelsForBackend('cpu')) {
    const mine = native.get(k.kernelName);
    const kernelFunc = mine === undefined ? k.kernelFunc : withFallback(mine, k.kernelFunc, addon);
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: guardAliases(kernelFunc) });
  }
  for (const k of dropoutKernels(addon, NATIVE_BACKEND)) tf.registerKernel(k);
  return { ok: true };
}

/** Calls per native kernel since start (or the last reset): served natively vs handed to the cpu kernel. */
export function nativeKernelCalls(reset = false): Map<string, { native: number; fallback: number }> {
  const copy = new Map([...kernelCalls].map(([k, v]) => [k, { ...v }]));
  if (reset) kernelCalls.clear();
  return copy;
}

/** Whether the addon is built and loads (without registering anything). */
export function nativeAvailable(): RegisterResult {
  const loaded = loadAddon();
  return 'addon' in loaded ? { ok: true } : { ok: false, reason: loaded.reason };
}

/** Threads the native kernels use (after `registerNativeBackend`), or 0 when the addon is missing. */
export function nativeThreads(): number {
  const loaded = loadAddon();
  return 'addon' in loaded ? loaded.addon.getThreads() : 0;
}

export interface NativeAdamWHyper {
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
 * One PyTorch AdamW update of `param`, `m` (exp_avg) and `v` (exp_avg_sq) in place, in one threaded pass.
 * Returns false, touching nothing, unless all four tensors are float32 of one size on the `native` backend with
 * the addon loaded: the caller then runs its TF.js version. A variable whose storage another tensor shares is
 * first given storage of its own, so no other tensor sees the update.
 */
export function nativeAdamWUpdate(param: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, h: NativeAdamWHyper): boolean {
  const loaded = loadAddon();
  if (!('addon' in loaded) || tf.getBackend() !== NATIVE_BACKEND) return false;
  const backend = tf.backend() as MathBackendCPU;
  const size = param.size;
  const all = [param, grad, m, v];
  if (!all.every((t) => t.dtype === 'float32' && t.size === size && backend.data.has(t.dataId))) return false;
  const own = (t: tf.Variable): Float32Array => {
    if (backend.refCount(t.dataId) > 1) {
      const copy = tf.tensor(Float32Array.from(backend.data.get(t.dataId)!.values as Float32Array), t.shape, 'float32');
      t.assign(copy);
      copy.dispose();
    }
    return backend.data.get(t.dataId)!.values as Float32Array;
  };
  const p = own(param), mv = own(m), vv = own(v);
  const g = backend.data.get(grad.dataId)!.values as Float32Array;
  loaded.addon.adamw(p, g, mv, vv, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step, h.gradScale ?? 1);
  return true;
}

/** Σx² of a float32 tensor on the native backend in one threaded pass (for global-norm clipping), or undefined. */
export function nativeSumOfSquares(t: tf.Tensor): number | undefined {
  const loaded = loadAddon();
  if (!('addon' in loaded) || tf.getBackend() !== NATIVE_BACKEND || t.dtype !== 'float32') return undefined;
  const backend = tf.backend() as MathBackendCPU;
  if (!backend.data.has(t.dataId)) return undefined;
  return loaded.addon.sumOfSquares(backend.data.get(t.dataId)!.values as Float32Array);
}

/** The raw addon (benchmarks: sgemm without TF.js), or undefined when it is not built. */
export function nativeAddon(): NativeAddon | undefined {
  const loaded = loadAddon();
  return 'addon' in loaded ? loaded.addon : undefined;
}
