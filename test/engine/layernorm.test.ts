/**
 * The fused LayerNorm(x + r) kernels (src/engine/layernorm.ts) through the model's `addLayerNorm`
 * (src/model/fused-ops.ts) on `native`, against TF.js autodiff (`tf.grads`) of the op-by-op formula on the cpu
 * backend: values and the gradients of x, r, w and b, with no residual, a same-shape one and a [T, D] one under
 * [B, T, D]; odd and BERT-sized rows; both epsilons the families use. Plus: forward bit-identical to the formula's
 * own kernels on native, the weight gradients the same on 1 and 2 threads, memory flat.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernelCalls, nativeThreads, registerNativeBackend } from '../../src/engine/index.js';
import { nativeAddLayerNorm, nativeAddLayerNormBackward } from '../../src/engine/ops.js';
import { registerGradients } from '../../src/model/gradients.js';
import { addLayerNorm } from '../../src/model/fused-ops.js';
import { at } from '../../src/util/checked-index.js';
import { randomValues, skipReason } from './compare.js';

registerGradients();

interface Case {
  readonly name: string;
  readonly x: [number, number, number];
  readonly r: number[] | null;
  readonly eps: number;
}

const CASES: readonly Case[] = [
  { name: 'no residual, D 33', x: [2, 5, 33], r: null, eps: 1e-12 },
  { name: 'same-shape residual, D 33', x: [2, 5, 33], r: [2, 5, 33], eps: 1e-5 },
  { name: '[T, D] residual under [B, T, D], D 33', x: [2, 5, 33], r: [5, 33], eps: 1e-12 },
  {
    name: '[T, D] residual, 150 rows (3 blocks of the weight-gradient sums), D 33',
    x: [3, 50, 33],
    r: [50, 33],
    eps: 1e-5,
  },
  { name: '[T, D] residual, D 768', x: [2, 3, 768], r: [3, 768], eps: 1e-12 },
  { name: 'same-shape residual, D 768', x: [2, 3, 768], r: [2, 3, 768], eps: 1e-5 },
];

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The case's inputs: x with a non-zero mean and spread, w near 1, b and the output gradient dy around 0. */
function inputs(c: Case): { x: tf.Tensor3D; r: tf.Tensor | null; w: tf.Tensor1D; b: tf.Tensor1D; dy: tf.Tensor3D } {
  const d = c.x[2];
  return {
    x: tf.tensor3d(randomValues(size(c.x), 1, -2, 4), c.x),
    r: c.r === null ? null : tf.tensor(randomValues(size(c.r), 2, -1, 1), c.r),
    w: tf.tensor1d(randomValues(d, 3, 0.5, 1.5)),
    b: tf.tensor1d(randomValues(d, 4, -0.5, 0.5)),
    dy: tf.tensor3d(randomValues(size(c.x), 5, -1, 1), c.x),
  };
}

/** LayerNorm(x + r) op by op, differentiated by TF.js itself. */
function formula(x: tf.Tensor3D, r: tf.Tensor | null, w: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor3D {
  const s = r === null ? x : tf.add(x, r);
  const centered = tf.sub(s, tf.mean(s, -1, true));
  const std = tf.sqrt(tf.add(tf.mean(tf.mul(centered, centered), -1, true), eps));
  return tf.add(tf.mul(tf.div(centered, std), w), b) as tf.Tensor3D;
}

type Results = Record<'y' | 'dx' | 'dr' | 'dw' | 'db', Float32Array | null>;

/** y and the gradients of Σ y·dy with respect to x, r, w, b, through `f` on the active backend. */
function run(c: Case, f: typeof formula): Results {
  const t = inputs(c);
  const params = t.r === null ? [t.x, t.w, t.b] : [t.x, t.r, t.w, t.b];
  // the tensors tf.grads hands back, in params' order (its callback's arguments are untyped tensors)
  const call = (...a: tf.Tensor[]): tf.Tensor => {
    const [x, w, b] = [at(a, 0) as tf.Tensor3D, at(a, a.length - 2) as tf.Tensor1D, at(a, a.length - 1) as tf.Tensor1D];
    return f(x, t.r === null ? null : at(a, 1), w, b, c.eps);
  };
  const y = tf.tidy(() => call(...params));
  const dy = t.dy.clone(); // the model's ops free the dy they are given
  const grads = tf.grads(call)(params, dy);
  const data = (v: tf.Tensor | undefined): Float32Array | null =>
    v === undefined ? null : (v.dataSync() as Float32Array).slice();
  const out: Results =
    t.r === null
      ? { y: data(y), dx: data(grads[0]), dr: null, dw: data(grads[1]), db: data(grads[2]) }
      : { y: data(y), dx: data(grads[0]), dr: data(grads[1]), dw: data(grads[2]), db: data(grads[3]) };
  if (t.r !== null) assert.deepEqual(at(grads, 1).shape, c.r, "dr has r's shape");
  tf.dispose([y, dy, ...grads, ...params, t.dy]);
  return out;
}

/** The largest |got − want| over the largest |want| (the tensor's scale). */
function relError(got: Float32Array, want: Float32Array): number {
  let diff = 0,
    scale = 0;
  want.forEach((w, i) => {
    diff = Math.max(diff, Math.abs(at(got, i) - w));
    scale = Math.max(scale, Math.abs(w));
  });
  return diff / scale;
}

describe('fused LayerNorm(x + r)', { skip: skipReason ?? false }, () => {
  for (const c of CASES) {
    test(`${c.name}, eps ${c.eps}: values and dx, dr, dw, db on native within 1e-5 of autodiff on cpu`, async () => {
      await tf.setBackend('cpu');
      const want = run(c, formula);
      await tf.setBackend('native');
      const probe = inputs(c);
      const fused = nativeAddLayerNorm(probe.x, probe.r, probe.w, probe.b, c.eps);
      assert.ok(fused !== undefined, 'the fused kernel does not apply');
      tf.dispose([probe.x, probe.r ?? [], probe.w, probe.b, probe.dy, fused.y, fused.normed, fused.std]);
      const before = tf.memory().numTensors;
      nativeKernelCalls(true);
      const got = run(c, addLayerNorm);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      assert.equal(nativeKernelCalls().get('Mean'), undefined, 'the model ran its op-by-op LayerNorm on native');
      for (const k of ['y', 'dx', 'dr', 'dw', 'db'] as const) {
        const [g, w] = [got[k], want[k]];
        if (w === null || g === null) {
          assert.equal(g, w, `${k}: present on one side only`);
          continue;
        }
        const e = relError(g, w);
        assert.ok(e <= 1e-5, `${k}: ${e.toExponential(2)} of its scale`);
      }
    });
  }

  test('y and dx are bit-identical to the formulas run kernel by kernel on native; dw, db within 1e-6', async () => {
    await tf.setBackend('native');
    for (const c of CASES) {
      const t = inputs(c);
      const fused = nativeAddLayerNorm(t.x, t.r, t.w, t.b, c.eps)!;
      const grads = nativeAddLayerNormBackward(t.dy, fused.normed, fused.std, t.w);
      const ops = tf.tidy(() => {
        // the op-by-op gradient of src/model/fused-ops.ts's addLayerNorm, from the fused forward's normed and std
        const [n, sd] = [fused.normed, fused.std];
        const g = tf.mul(t.dy, t.w);
        const along = tf.mul(n, tf.mean(tf.mul(g, n), -1, true));
        const dx = tf.div(tf.sub(tf.sub(g, tf.mean(g, -1, true)), along), sd);
        return [formula(t.x, t.r, t.w, t.b, c.eps), dx, tf.sum(tf.mul(t.dy, n), [0, 1]), tf.sum(t.dy, [0, 1])];
      });
      const [y, dx, dw, db] = ops.map((o) => o.dataSync() as Float32Array);
      assert.deepEqual(fused.y.dataSync(), y, `${c.name}: y`);
      assert.deepEqual(grads.dx.dataSync(), dx, `${c.name}: dx`);
      assert.ok(relError(grads.dw.dataSync() as Float32Array, dw!) <= 1e-6, `${c.name}: dw`);
      assert.ok(relError(grads.db.dataSync() as Float32Array, db!) <= 1e-6, `${c.name}: db`);
      tf.dispose([
        t.x,
        t.r ?? [],
        t.w,
        t.b,
        t.dy,
        fused.y,
        fused.normed,
        fused.std,
        grads.dx,
        grads.dw,
        grads.db,
        ...ops,
      ]);
    }
  });

  test('gradients are the same on 1 and 2 threads (fixed summation order)', async () => {
    await tf.setBackend('native');
    const threads = nativeThreads();
    const c: Case = {
      name: '200 rows of 768: both threads get rows and blocks',
      x: [2, 100, 768],
      r: [100, 768],
      eps: 1e-12,
    };
    try {
      await registerNativeBackend({ threads: 1 });
      const one = run(c, addLayerNorm);
      await registerNativeBackend({ threads: 2 });
      const two = run(c, addLayerNorm);
      assert.deepEqual(two, one);
    } finally {
      await registerNativeBackend({ threads });
    }
  });

  test("does not apply (the model keeps its op-by-op LayerNorm) on cpu, or to a residual that is not x's rows", async () => {
    await tf.setBackend('cpu');
    const x = tf.zeros([2, 3, 4]),
      w = tf.ones([4]),
      b = tf.zeros([4]);
    assert.equal(nativeAddLayerNorm(x, null, w, b, 1e-5), undefined);
    await tf.setBackend('native');
    const x2 = tf.zeros([2, 3, 4]),
      w2 = tf.ones([4]),
      b2 = tf.zeros([4]),
      perBatch = tf.zeros([2, 1, 4]);
    assert.equal(nativeAddLayerNorm(x2, perBatch, w2, b2, 1e-5), undefined);
    tf.dispose([x2, w2, b2, perBatch]);
    await tf.setBackend('cpu');
    tf.dispose([x, w, b]);
  });
});
