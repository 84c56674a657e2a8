/**
 * The fused erf-GELU kernels (src/engine/gelu.ts) against a float64 GELU computed here (erf by its Taylor series,
 * erfc by its continued fraction in the tails) and within 1e-6 of TF.js's cpu kernels (whose erf is an
 * approximation), values and gradients, directly and through the model's `gelu` (src/model/fused-ops.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeGelu } from '../../src/engine/ops.js';
import { registerGradients } from '../../src/model/gradients.js';
import { gelu } from '../../src/model/fused-ops.js';
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
  const x = tf.tensor(xs, SHAPE),
    dy = tf.tensor(dys, SHAPE);
  const y = tf.tidy(() => gelu(x));
  const dx = tf.grad((t: tf.Tensor) => gelu(t))(x, dy);
  const out = { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  tf.dispose([x, dy, y, dx]);
  return out;
}

/** erfc(z) in float64: 1 − the Taylor series of erf for |z| < 3, the continued fraction (Lentz) beyond. */
function erfc64(z: number): number {
  if (z < 0) return 2 - erfc64(-z);
  if (z < 3) {
    let term = z,
      sum = z; // Σ (−1)^n z^(2n+1) / (n! (2n+1))
    for (let n = 1; n < 200 && Math.abs(term) > 1e-18; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))
  let f = z,
    c = z,
    d = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    d = 1 / (z + a * d);
    c = z + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/**
 * GELU(x) and dy·GELU'(x) in float64: x·Φ(x) and dy·(Φ(x) + x·φ(x)), Φ(x) = erfc(−x/√2)/2; and the scale each
 * float32 result is judged at: |GELU(x)|, and |dy|·(Φ(x) + |x|·φ(x)) for the gradient, whose two terms cancel near
 * x = −0.75 (no float32 sum of them is more precise than that), both at least 1e-6.
 */
function float64Gelu(): { y: Float64Array; dx: Float64Array; yScale: Float64Array; dxScale: Float64Array } {
  const n = xs.length;
  const out = {
    y: new Float64Array(n),
    dx: new Float64Array(n),
    yScale: new Float64Array(n),
    dxScale: new Float64Array(n),
  };
  xs.forEach((x, i) => {
    const cdf = erfc64(-x / Math.SQRT2) / 2,
      pdf = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI),
      dy = at(dys, i);
    out.y[i] = x * cdf;
    out.dx[i] = dy * (cdf + x * pdf);
    out.yScale[i] = Math.max(Math.abs(x * cdf), 1e-6);
    out.dxScale[i] = Math.max(Math.abs(dy) * (cdf + Math.abs(x) * pdf), 1e-6);
  });
  return out;
}

async function fused(): Promise<{ y: Float32Array; dx: Float32Array }> {
  await tf.setBackend('native');
  const x = tf.tensor(xs, SHAPE),
    dy = tf.tensor(dys, SHAPE);
  const before = tf.memory().numTensors;
  const k = nativeGelu(x);
  assert.ok(k !== undefined, 'nativeGelu is undefined on native');
  const y = k.forward(),
    dx = k.backward(dy);
  assert.equal(tf.memory().numTensors, before + 2);
  assert.deepEqual([y.shape, dx.shape], [SHAPE, SHAPE]);
  const out = { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  tf.dispose([x, dy, y, dx]);
  return out;
}

/** The largest |got − want| / scale and where; scale max(|want|, 1) unless given per element. */
function worst(got: Float32Array, want: Float32Array | Float64Array, scale?: Float64Array): { rel: number; i: number } {
  let w = { rel: 0, i: -1 };
  for (let i = 0; i < got.length; i++) {
    const rel =
      Math.abs(at(got, i) - at(want, i)) / (scale === undefined ? Math.max(Math.abs(at(want, i)), 1) : at(scale, i));
    if (rel > w.rel) w = { rel, i };
  }
  return w;
}

describe('fused erf-GELU', { skip: skipReason ?? false }, () => {
  test('forward and gradient are within 1e-6 of float64 GELU at its scale, tails included', async () => {
    const [want, got] = [float64Gelu(), await fused()];
    for (const [name, g, w, scale] of [
      ['GELU', got.y, want.y, want.yScale],
      ['dGELU', got.dx, want.dx, want.dxScale],
    ] as const) {
      const e = worst(g, w, scale);
      assert.ok(
        e.rel <= 1e-6,
        `${name}: element ${e.i} (x ${at(xs, e.i)}): ${at(g, e.i)} vs float64 ${at(w, e.i)} (${e.rel.toExponential(2)})`,
      );
    }
  });

  test("the model's gelu on native (fused) matches it on cpu (op by op) within 1e-6, values and gradients", async () => {
    const [want, got] = [await reference('cpu'), await reference('native')];
    for (const [name, g, w] of [
      ['GELU', got.y, want.y],
      ['dGELU', got.dx, want.dx],
    ] as const) {
      const e = worst(g, w);
      assert.ok(e.rel <= 1e-6, `${name}: element ${e.i} (x ${at(xs, e.i)}): ${at(g, e.i)} vs cpu ${at(w, e.i)}`);
    }
  });

  test('forward and gradient match the TF.js cpu kernels within 1e-6', async () => {
    const [want, got] = [await reference('cpu'), await fused()];
    for (const [name, g, w] of [
      ['GELU', got.y, want.y],
      ['dGELU', got.dx, want.dx],
    ] as const) {
      const e = worst(g, w);
      assert.ok(e.rel <= 1e-6, `${name}: element ${e.i} (x ${at(xs, e.i)}): ${at(g, e.i)} vs cpu ${at(w, e.i)}`);
    }
    // hand-worked: GELU(1) = Φ(1) = 0.841344746, GELU'(1) = Φ(1) + φ(1) = 0.841344746 + 0.241970725
    await tf.setBackend('native');
    const x1 = tf.tensor1d([1, -1]),
      ones = tf.onesLike(x1);
    const k = nativeGelu(x1)!;
    const y1 = k.forward(),
      d1 = k.backward(ones);
    const [ya, yb] = Array.from(y1.dataSync()),
      [da, db] = Array.from(d1.dataSync());
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
