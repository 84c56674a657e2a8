/**
 * Choosing the TF.js backend: `cpu` (pure JS, always there), `wasm` (XNNPACK matmuls, one thread in Node),
 * `tensorflow` (libtensorflow through `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`, if the user
 * installed one), `native` (qa-ft's own OpenBLAS engine in src/engine, when built) and `auto`, the fastest of
 * these that works here, found by timing one matmul on each (once per process).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerNativeBackend } from '../engine/index.js';
import { firstLine, QaFtError } from '../errors.js';
import type { BackendName } from './types.js';
import { registerGradients } from './gradients.js';

export interface BackendChoice {
  /** The TF.js backend now active. */
  name: string;
  /** One line for the user (e.g. why `auto` chose this backend). */
  notice?: string;
}

interface BackendOptions {
  /** Threads for engines that take a count (native); wasm runs one thread under Node. */
  threads?: number;
}

type ConcreteBackend = Exclude<BackendName, 'auto'>;

const BACKENDS: readonly BackendName[] = ['auto', 'native', 'tensorflow', 'wasm', 'cpu'];
const CONCRETE: readonly ConcreteBackend[] = ['native', 'tensorflow', 'wasm', 'cpu'];
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/**
 * `auto`'s probe: one [M, K]·[K, N] matmul, a small transformer's projection (a 128-token window, width 256):
 * matmuls are most of a training step's time. Big enough that per-op overheads (a binding's call, a GPU's
 * transfer) do not decide it, small enough that the slowest backend (cpu, pure JS) takes some tens of ms.
 */
const PROBE = { m: 128, k: 256, n: 256 } as const;

type Attempt = { ok: true } | { ok: false; reason: string; hint?: string };

/** `auto`'s decision, made once per process (per thread count): the timing is noisy and costs a fraction of a second. */
const autoChoices = new Map<number | undefined, Promise<{ name: ConcreteBackend; notice: string }>>();

/** Activates `name` (and registers the gradients the model needs). Unavailable backends throw one-line errors. */
export async function selectBackend(name: BackendName, options: BackendOptions = {}): Promise<BackendChoice> {
  if (!BACKENDS.includes(name)) {
    throw new QaFtError('BAD_ARGUMENT', `unknown backend '${String(name)}'`, { hint: `choose one of ${BACKENDS.join(', ')}` });
  }
  // The library never prints; TF.js would otherwise warn on the console (e.g. the cpu backend's "install
  // tfjs-node" banner). Production mode only silences warnings and skips debug checks.
  tf.env().set('PROD', true);
  registerGradients();
  if (name !== 'auto') {
    const r = await tryBackend(name, options);
    if (!r.ok) throw new QaFtError('BACKEND_UNAVAILABLE', `backend '${name}' is not available: ${r.reason}`, r.hint ? { hint: r.hint } : {});
    return { name: tf.getBackend() };
  }
  let choice = autoChoices.get(options.threads);
  if (choice === undefined) {
    choice = chooseByProbe(options);
    autoChoices.set(options.threads, choice);
  }
  const { name: picked, notice } = await choice;
  const r = await tryBackend(picked, options);
  if (!r.ok) throw new QaFtError('BACKEND_UNAVAILABLE', `backend '${picked}' is not available: ${r.reason}`);
  return { name: tf.getBackend(), notice };
}

/** Whether `name` can run here, found without making it the active backend: undefined, or the one-line reason. */
export async function backendUnavailable(name: ConcreteBackend, options: BackendOptions = {}): Promise<string | undefined> {
  const r = await loadBackend(name, options);
  return r.ok ? undefined : r.reason;
}

/** Times the probe on every backend that starts, and picks the fastest; the notice names each time. */
async function chooseByProbe(options: BackendOptions): Promise<{ name: ConcreteBackend; notice: string }> {
  const times: { name: ConcreteBackend; ms: number }[] = [];
  const missing: string[] = [];
  for (const candidate of CONCRETE) {
    const r = await tryBackend(candidate, options);
    if (!r.ok) {
      missing.push(`${candidate}: ${r.reason}`);
      continue;
    }
    times.push({ name: candidate, ms: probeMs(Math.min(...times.map((t) => t.ms))) });
  }
  const best = times.reduce<{ name: ConcreteBackend; ms: number } | undefined>((b, t) => (b === undefined || t.ms < b.ms ? t : b), undefined);
  if (best === undefined) throw new QaFtError('BACKEND_UNAVAILABLE', `no TF.js backend could start (${missing.join('; ')})`);
  const measured = [...times].sort((a, b) => a.ms - b.ms).map((t) => `${t.name} ${formatMs(t.ms)}`).join(', ');
  const unavailable = missing.length > 0 ? `; unavailable: ${missing.join('; ')}` : '';
  return {
    name: best.name,
    notice: `backend: ${best.name}, the fastest here on a ${PROBE.m}×${PROBE.k}·${PROBE.k}×${PROBE.n} matmul (${measured}${unavailable})`,
  };
}

/**
 * Milliseconds of one probe matmul on the active backend, the best of a few after an untimed warm-up (first calls
 * pay for set-up: kernel creation, a GPU's libraries). A backend whose first timed run takes 4× the best time so
 * far is not timed further.
 */
function probeMs(bestSoFar: number): number {
  const [a, b] = tf.tidy(() => [tf.randomUniform([PROBE.m, PROBE.k], -1, 1, 'float32', 1), tf.randomUniform([PROBE.k, PROBE.n], -1, 1, 'float32', 2)]);
  const once = (): number => {
    const start = performance.now();
    tf.tidy(() => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D).dataSync());
    return performance.now() - start;
  };
  try {
    once();
    let best = once();
    if (best > 4 * bestSoFar) return best;
    for (let rep = 0; rep < 3; rep++) best = Math.min(best, once());
    return best;
  } finally {
    tf.dispose([a, b] as tf.Tensor[]);
  }
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

/** Loads and activates `name`. */
async function tryBackend(name: ConcreteBackend, options: BackendOptions): Promise<Attempt> {
  const r = await loadBackend(name, options);
  return r.ok ? activate(name) : r;
}

/** Loads `name`'s package or engine and registers its backend with TF.js, without activating it. */
async function loadBackend(name: ConcreteBackend, options: BackendOptions): Promise<Attempt> {
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return { ok: true };
    case 'wasm': {
      try {
        await import('@tensorflow/tfjs-backend-wasm');
      } catch (e) {
        return { ok: false, reason: `@tensorflow/tfjs-backend-wasm failed to load (${firstLine(e)})` };
      }
      return { ok: true };
    }
    case 'tensorflow':
      return loadTensorflow();
    case 'native': {
      // The addon may be missing (not built, no OpenBLAS): `registerNativeBackend` then says why and how to build it.
      const r = await registerNativeBackend(options.threads === undefined ? {} : { threads: options.threads });
      return r.ok ? { ok: true } : { ok: false, reason: r.reason };
    }
  }
}

async function loadTensorflow(): Promise<Attempt> {
  // libtensorflow logs its CPU-feature banner to stderr when loaded; the library never prints.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  let loaded: string | undefined;
  for (const pkg of TFJS_NODE_PACKAGES) {
    try {
      await importOptional(pkg);
      loaded = pkg;
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') continue;
      return { ok: false, reason: `${pkg} is installed but failed to load (${firstLine(e)})` };
    }
  }
  if (loaded === undefined) {
    return {
      ok: false,
      reason: '@tensorflow/tfjs-node is not installed',
      hint: 'npm install @tensorflow/tfjs-node@4.22 (or @tensorflow/tfjs-node-gpu@4.22 with CUDA 11.2/cuDNN 8.1)',
    };
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    return {
      ok: false,
      reason: `${loaded} registered its backend with another copy of @tensorflow/tfjs-core`,
      hint: `install ${loaded} at the version of qa-ft's @tensorflow/tfjs-core (${tf.version_core})`,
    };
  }
  return { ok: true };
}

async function activate(name: string): Promise<Attempt> {
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      return { ok: true };
    }
    return { ok: false, reason: `TF.js could not initialise the ${name} backend` };
  } catch (e) {
    return { ok: false, reason: `TF.js could not initialise the ${name} backend (${firstLine(e)})` };
  }
}

/** `import()` of a package that may be absent; the specifier is a variable so TypeScript does not resolve it. */
async function importOptional(specifier: string): Promise<unknown> {
  return (await import(specifier)) as unknown;
}
