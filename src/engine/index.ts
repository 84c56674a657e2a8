/**
 * The `native` TF.js backend: a MathBackendCPU (tensors live in JS typed arrays, so no 4 GB wasm cap) with every
 * cpu kernel re-registered under 'native' and OpenBLAS/threaded C++ kernels (native/) registered over the ones a
 * transformer training step spends its time in, plus the kernels of qa-ft's own ops (dropout, the fused AdamW
 * update, the sum of squares; see ./ops.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { guardAliases, NativeBackend } from './backend.js';
import { loadAddon, type NativeAddon } from './addon.js';
import { kernelCalls, withFallback, type NativeKernel } from './kernel-util.js';
import { adamwKernel } from './adamw.js';
import { dropoutKernels } from './dropout.js';
import { sumOfSquaresKernel } from './sum-of-squares.js';
import { elementwiseKernels } from './kernels-elementwise.js';
import { indexingKernels } from './kernels-indexing.js';
import { matmulKernels } from './kernels-matmul.js';
import { reduceKernels } from './kernels-reduce.js';

const NATIVE_BACKEND = 'native';

/** Every stock TF.js kernel the addon implements (the rest of the backend is the cpu backend's). */
const NATIVE_KERNELS: readonly NativeKernel[] = [...matmulKernels, ...elementwiseKernels, ...reduceKernels, ...indexingKernels];

type RegisterResult = { ok: true } | { ok: false; reason: string };

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
  for (const k of [...dropoutKernels(addon, NATIVE_BACKEND), adamwKernel(addon, NATIVE_BACKEND), sumOfSquaresKernel(addon, NATIVE_BACKEND)]) {
    tf.registerKernel(k);
  }
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

/** The raw addon (benchmarks: sgemm without TF.js), or undefined when it is not built. */
export function nativeAddon(): NativeAddon | undefined {
  const loaded = loadAddon();
  return 'addon' in loaded ? loaded.addon : undefined;
}
