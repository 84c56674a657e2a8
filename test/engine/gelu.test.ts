/**
 * The fused erf-GELU kernels (src/engine/gelu.ts) against the op-by-op GELU: bit-identical to its kernels on
 * `native` (the same float32 operations in the same order), and within 1e-6 of TF.js's cpu kernels (whose erf is
 * an approximation), values and gradients, directly and through the model's `gelu` (src/model/ops.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeGelu } from '../../src/engine/ops.js';
import { registerGradients } from '../../src/model/gradients.js';
import { gelu } from '../../src/model/ops.js';
import { at } from '../../src/util/checked-index.js';
import { randomValues, skipReason } from './compare.js';

registerGradients();
const SHAPE = [3, 17, 41]; // odd sizes: threads split mid-row
const xs = randomValues(3 * 17 * 41, 7, -6, 6);
xs.set([0, -0, 1e-30, -1e-30, 10, -10, 30, -30, 0.5, -0.5]); // zeros, tiny, saturated tails
const dys = randomValues(xs.length, 8);

/** GELU(x) and d/dx of Σ GELU(x)·dy through the model's op (op-by-op off native), on `backend`. */
async function reference(backend: string): Promise<{ y: Float32Array; dx: Float32Array }> {
  await tf.setBackend(backend);
  const x = tf.tensor(xs, SHAPE), dy = tf.tensor(dys, SHAPE);
  const y = tf.tidy(() => gelu(x));
  const dx = tf.grad((t: tf.Tensor) => gelu(t))(x, dy);
  const out = { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  tf.dispose([x, dy, y, dx]);
  return out;
}

/**
 * The op-by-op formulas of the model's GELU (src/model/ops.ts, which on native now calls the fused kernels), kernel
 * by kernel on native: y = x·((erf(x/√2) + 1)·0.5), dx = dy·((erf(x/√2) + 1)·0.5 + x·(exp(x²·−0.5)·(1/√(2π)))).
 */
async function opByOp(): Promise<{ y: Float32Array; dx: Float32Array }> {
  await tf.setBackend('native');
  const out = tf.tidy(() => {
    const x = tf.tensor(xs, SHAPE), dy = tf.tensor(dys, SHAPE);
    const cdf = tf.mul(tf.add(tf.erf(tf.div(x, Math.SQRT2)), 1), 0.5);
    const pdf = tf.mul(x, tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI)));
    return { y: tf.mul(x, cdf).dataSync() as Float32Array, dx: tf.mul(dy, tf.add(cdf, pdf)).dataSync() as Float32Array };
  });
  return out;
}

async function fused(): Promise<{ y: Float32Array; dx: Float32Array }> {
  await tf.setBackend('native');
  const x = tf.tensor(xs, SHAPE), dy = tf.tensor(dys, SHAPE);
  const before = tf.memory().numTensors;
  const k = nativeGelu(x);
  assert.ok(k !== undefined, 'nativeGelu is undefined on native');
  const y = k.forward(), dx = k.backward(dy);
  assert.equal(tf.memory().numTensors, before + 2);
  assert.deepEqual([y.shape, dx.shape], [SHAPE, SHAPE]);
  const out = { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  tf.dispose([x, dy, y, dx]);
  return out;
}

function worst(got: Float32Array, want: Float32Array): { rel: number; i: number } {
  let w = { rel: 0, i: -1 };
  for (let i = 0; i < got.length; i++) {
    const rel = Math.abs(at(got, i) - at(want, i)) / Math.max(Math.abs(at(want, i)), 1);
    if (rel > w.rel) w = { rel, i };
  }
  return w;
}

describe('fused erf-GELU', { skip: skipReason ?? false }, () => {
  test('forward and gradient are bit-identical to the op-by-op GELU on native', async () => {
    const [want, got] = [await opByOp(), await fused()];
    assert.deepEqual(Array.from(got.y), Array.from(want.y));
    assert.deepEqual(Array.from(got.dx), Array.from(want.dx));
  });

  test("the model's gelu on native (fused) matches it on cpu (op by op) within 1e-6, values and gradients", async () => {
    const [want, got] = [await reference('cpu'), await reference('native')];
    for (const [name, g, w] of [['GELU', got.y, want.y], ['dGELU', got.dx, want.dx]] as const) {
      const e = worst(g, w);
      assert.ok(e.rel <= 1e-6, `${name}: element ${e.i} (x ${at(xs, e.i)}): ${at(g, e.i)} vs cpu ${at(w, e.i)}`);
    }
  });

  test('forward and gradient match the TF.js cpu kernels within 1e-6', async () => {
    const [want, got] = [await reference('cpu'), await fused()];
    for (const [name, g, w] of [['GELU', got.y, want.y], ['dGELU', got.dx, want.dx]] as const) {
      const e = worst(g, w);
      assert.ok(e.rel <= 1e-6, `${name}: element ${e.i} (x ${at(xs, e.i)}): ${at(g, e.i)} vs cpu ${at(w, e.i)}`);
    }
    // hand-worked: GELU(1) = Φ(1) = 0.841344746, GELU'(1) = Φ(1) + φ(1) = 0.841344746 + 0.241970725
    await tf.setBackend('native');
    const x1 = tf.tensor1d([1, -1]), ones = tf.onesLike(x1);
    const k = nativeGelu(x1)!;
    const y1 = k.forward(), d1 = k.backward(ones);
    const [ya, yb] = Array.from(y1.dataSync()), [da, db] = Array.from(d1.dataSync());
    assert.ok(Math.abs(ya! - 0.841344746) < 1e-6 && Math.abs(yb! + 0.158655254) < 1e-6, `GELU(±1) ${ya} ${yb}`);
    assert.ok(Math.abs(da! - 1.083315471) < 1e-6 && Math.abs(db! + 0.083315471) < 1e-6, `GELU'(±1) ${da} ${db}`);
    tf.dispose([x1, ones, y1, d1]);
  });

  test('other backends: undefined (the model keeps its op-by-op GELU)', async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor1d([1]);
    assert.equal(nativeGelu(x), undefined);
    x.dispose();
  });
});
