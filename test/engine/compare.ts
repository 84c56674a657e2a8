/**
 * Test helpers: run the same TF.js computation on the `cpu` backend and on `native`, compare within a relative
 * tolerance, and check that the native kernel (not its cpu fallback) served the call.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { nativeKernelCalls, registerNativeBackend } from '../../src/engine/index.js';
import { at } from '../../src/util/checked-index.js';
import { skipUnlessRequired } from '../helpers/required.js';

tf.env().set('PROD', true); // silences the cpu backend's console banner
const registered = await registerNativeBackend({});
/** Why the native tests skip (the addon is not built), or undefined when they run. */
export const skipReason: string | undefined = skipUnlessRequired(
  'native',
  registered.ok ? undefined : registered.reason,
);

/** Deterministic uniform values in [lo, hi) (mulberry32), so both backends see identical inputs. */
export function randomValues(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): () => tf.Tensor {
  const values = randomValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
    lo,
    hi,
  );
  return () => tf.tensor(values, shape, 'float32');
}

interface Result {
  shape: number[];
  dtype: string;
  data: number[];
}

async function runOn(backend: string, build: () => tf.Tensor): Promise<Result> {
  await tf.setBackend(backend);
  const t = tf.tidy(build);
  const r = { shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync() as ArrayLike<number>) };
  t.dispose();
  return r;
}

/**
 * `native` and `cpu` agree: same shape and dtype, |native − cpu| ≤ 1e-5 · max(|cpu|, 1) per element, and
 * `kernel` ran natively (at least once, never falling back). `reference` defaults to `build`.
 */
export async function expectSame(
  kernel: string,
  build: () => tf.Tensor,
  reference: () => tf.Tensor = build,
): Promise<void> {
  const want = await runOn('cpu', reference);
  nativeKernelCalls(true);
  const got = await runOn('native', build);
  const calls = nativeKernelCalls(true).get(kernel);
  assert.ok(calls !== undefined && calls.native > 0, `${kernel} did not run natively`);
  assert.equal(calls.fallback, 0, `${kernel} fell back to the cpu kernel`);
  assert.deepEqual(got.shape, want.shape, `${kernel}: shape`);
  assert.equal(got.dtype, want.dtype, `${kernel}: dtype`);
  let worst = { err: 0, i: -1, w: NaN, g: NaN };
  want.data.forEach((w, i) => {
    const g = at(got.data, i);
    if (Number.isNaN(w) && Number.isNaN(g)) return;
    const err = Math.abs(g - w) / Math.max(Math.abs(w), 1);
    if (!(err <= worst.err)) worst = { err, i, w, g };
  });
  assert.ok(worst.err <= 1e-5, `${kernel}: element ${worst.i} native ${worst.g} vs cpu ${worst.w} (rel ${worst.err})`);
}
