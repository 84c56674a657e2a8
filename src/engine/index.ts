/**
 * The `native` TF.js backend: a MathBackendCPU (tensors live in JS typed arrays, so no 4 GB wasm cap) with every
 * cpu kernel re-registered under 'native' and OpenBLAS/threaded C++ kernels (native/) registered over the ones a
 * transformer training step spends its time in, plus the kernels of qa-ft's own ops (dropout, erf-GELU, LayerNorm,
 * attention's fused mask + softmax + dropout, the fused AdamW update, the sum of squares; see ./ops.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { guardAliases, NativeBackend, type MatmulMode } from './backend.js';
import { field, opt, OptionError, QaFtError } from '../errors.js';
import { loadAddon, type NativeAddon } from './addon.js';
import { kernelCalls, withFallback, type NativeKernel } from './kernel-util.js';
import { adamwKernel } from './adamw.js';
import { dropoutKernels } from './dropout.js';
import { geluKernels } from './gelu.js';
import { layerNormKernels } from './layernorm.js';
import { attentionSoftmaxKernels } from './attention-softmax.js';
import { sumOfSquaresKernel } from './sum-of-squares.js';
import { elementwiseKernels } from './kernels-elementwise.js';
import { indexingKernels } from './kernels-indexing.js';
import { matmulKernels } from './kernels-matmul.js';
import { reduceKernels } from './kernels-reduce.js';

const NATIVE_BACKEND = 'native';

/** Every stock TF.js kernel the addon implements (the rest of the backend is the cpu backend's). */
const NATIVE_KERNELS: readonly NativeKernel[] = [
  ...matmulKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...indexingKernels,
];

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
  // Released output arrays kept for reuse: up to 1/6 of the machine's memory, at most 4 GiB. A distilbert-base
  // 16×384 step saves ~3 GB of activations for its backward; with a 2 GiB pool the next step faulted in fresh
  // pages for the rest (18.1 s a step, against 15.7 s with a bigger pool, at the same peak RSS). The price comes
  // with dynamic padding, whose many lengths fill the pool with assorted sizes: 7.1 GB peak over 4 steps, not 5.8.
  const poolBytes = Math.min(2 ** 32, Math.floor(os.totalmem() / 6));
  // Priority 0: never chosen implicitly over the defaults; qa-ft selects it by name.
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(poolBytes), 0);
  const native = new Map(NATIVE_KERNELS.map((k) => [k.name, k]));
  for (const k of tf.getKernelsForBackend('cpu')) {
    const mine = native.get(k.kernelName);
    const kernelFunc = mine === undefined ? k.kernelFunc : withFallback(mine, k.kernelFunc, addon);
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: guardAliases(kernelFunc) });
  }
  for (const k of [
    ...dropoutKernels(addon, NATIVE_BACKEND),
    ...geluKernels(addon, NATIVE_BACKEND),
    ...layerNormKernels(addon, NATIVE_BACKEND),
    ...attentionSoftmaxKernels(addon, NATIVE_BACKEND),
    adamwKernel(addon, NATIVE_BACKEND),
    sumOfSquaresKernel(addon, NATIVE_BACKEND),
  ]) {
    tf.registerKernel(k);
  }
  return { ok: true };
}

/** Matmul precision: `fp32`, or `bf16` with torch.autocast(cpu, bfloat16)'s semantics (matmuls only). */
export type Precision = 'fp32' | 'bf16';

const BF16_HOW_TO_GET = 'install oneDNN (apt-get install libdnnl-dev), then `npm run build:native`';

/**
 * Whether bf16 matmuls run fast here: the addon is built with oneDNN and oneDNN finds AVX512_BF16 on this CPU
 * (without it, bf16 would be slower than fp32, so it is refused). `isa` is oneDNN's name for the CPU.
 */
export function bf16Support(): { ok: true; isa: string } | { ok: false; reason: string } {
  const loaded = loadAddon();
  if (!('addon' in loaded)) return { ok: false, reason: loaded.reason };
  const s = loaded.addon.bf16Support();
  if (!s.linked) return { ok: false, reason: `the native engine was built without oneDNN (${BF16_HOW_TO_GET})` };
  if (!s.hardware)
    return {
      ok: false,
      reason: `this CPU has no AVX512_BF16 (oneDNN sees ${s.isa}), so bf16 matmuls would be slower than fp32`,
    };
  return { ok: true, isa: s.isa };
}

/**
 * Sets the precision of the active `native` backend's matmuls (a mode of the backend: every model on it runs so).
 * `bf16` throws a one-line BACKEND_UNAVAILABLE error saying why when it cannot run (another backend is active,
 * no oneDNN, no AVX512_BF16). `emulate` (tests only, any CPU): bf16's rounding with float32 products, on the
 * sgemm or through the oneDNN path with a float32 primitive (this needs oneDNN linked).
 */
export function setNativePrecision(precision: Precision, options: { emulate?: 'sgemm' | 'onednn' } = {}): void {
  const backend = tf.getBackend() === NATIVE_BACKEND ? tf.findBackend(NATIVE_BACKEND) : null;
  if (!(backend instanceof NativeBackend)) {
    if (precision === 'fp32') return; // every other backend computes in fp32
    throw new OptionError('BACKEND_UNAVAILABLE', opt`bf16 needs the native backend (active: ${tf.getBackend()})`, {
      hint: opt`use ${field('backend')} native`,
    });
  }
  let mode: MatmulMode = precision;
  if (precision === 'bf16') {
    const support = bf16Support();
    if (options.emulate === 'sgemm') mode = 'bf16-sgemm';
    else if (options.emulate === 'onednn' && nativeAddon()?.bf16Support().linked === true) mode = 'bf16-onednn-f32';
    else if (!support.ok) throw new QaFtError('BACKEND_UNAVAILABLE', `bf16 is not available: ${support.reason}`);
  }
  backend.matmulMode = mode;
}

/** The precision the active backend's matmuls run in (`fp32` on every backend but `native` in bf16 mode). */
export function activePrecision(): Precision {
  const backend = tf.getBackend() === NATIVE_BACKEND ? tf.findBackend(NATIVE_BACKEND) : null;
  return backend instanceof NativeBackend && backend.matmulMode !== 'fp32' ? 'bf16' : 'fp32';
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
