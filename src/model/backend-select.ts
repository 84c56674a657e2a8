/**
 * Choosing the TF.js backend: `cpu` (pure JS, always there), `wasm` (XNNPACK matmuls, one thread in Node),
 * `tensorflow` (libtensorflow through `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`, if the user
 * installed one), `native` (qa-ft's own OpenBLAS engine in src/engine, when built) and `auto`: the first of
 * `AUTO_ORDER` that starts here, an order measured at real model sizes, so nothing is loaded or timed in vain.
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
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/**
 * `auto`'s order, fastest first at real sizes (distilbert-base training step, 16×384, 2 threads: native 14.3 s,
 * tensorflow 37.1 s; wasm runs one thread with scalar transposed/batched matmuls at ~2 GFLOP/s; cpu is pure JS).
 * It replaces a start-up probe that cost 1.2 s and 340 MB per command and, timing one small matmul, picked wasm
 * or native by chance. Only the backends tried are loaded: where native starts, libtensorflow never loads.
 */
export const AUTO_ORDER: readonly ConcreteBackend[] = ['native', 'tensorflow', 'wasm', 'cpu'];

type Attempt = { ok: true } | { ok: false; reason: string; hint?: string };

/** Activates `name` (and registers the gradients the model needs). Unavailable backends throw one-line errors. */
export async function selectBackend(name: BackendName, options: BackendOptions = {}): Promise<BackendChoice> {
  if (!BACKENDS.includes(name)) {
    throw new QaFtError('BAD_ARGUMENT', `unknown backend '${String(name)}'`, {
      hint: `choose one of ${BACKENDS.join(', ')}`,
    });
  }
  // The library never prints; TF.js would otherwise warn on the console (e.g. the cpu backend's "install
  // tfjs-node" banner). Production mode only silences warnings and skips debug checks.
  tf.env().set('PROD', true);
  registerGradients();
  if (name !== 'auto') {
    const r = await tryBackend(name, options);
    if (!r.ok)
      throw new QaFtError(
        'BACKEND_UNAVAILABLE',
        `backend '${name}' is not available: ${r.reason}`,
        r.hint ? { hint: r.hint } : {},
      );
    return { name: tf.getBackend() };
  }
  const skipped: string[] = [];
  for (const candidate of AUTO_ORDER) {
    const r = await tryBackend(candidate, options);
    if (r.ok) {
      const why = skipped.length > 0 ? `; unavailable: ${skipped.join('; ')}` : '';
      return {
        name: tf.getBackend(),
        notice: `backend: ${candidate}, the fastest that starts here (order ${AUTO_ORDER.join(' > ')}${why})`,
      };
    }
    skipped.push(`${candidate}: ${r.reason}`);
  }
  throw new QaFtError('BACKEND_UNAVAILABLE', `no TF.js backend could start (${skipped.join('; ')})`);
}

/** Whether `name` can run here, found without making it the active backend: undefined, or the one-line reason. */
export async function backendUnavailable(
  name: ConcreteBackend,
  options: BackendOptions = {},
): Promise<string | undefined> {
  const r = await loadBackend(name, options);
  return r.ok ? undefined : r.reason;
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
