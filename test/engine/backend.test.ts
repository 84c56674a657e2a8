import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { loadAddonFile } from '../../src/engine/addon.js';
import { pooledCapacity, type NativeBackend } from '../../src/engine/backend.js';
import { nativeAdamWUpdate, nativeSumOfSquares, nativeThreads, registerNativeBackend } from '../../src/engine/index.js';
import { adamwReference } from '../../src/train/adamw.js';

const skip = skipReason ?? false;

test('a missing addon → one-line reason naming libopenblas-dev and npm run build:native', () => {
  const r = loadAddonFile('/nonexistent/qaft_native.node');
  assert.ok('reason' in r);
  assert.doesNotMatch(r.reason, /\n/);
  assert.match(r.reason, /libopenblas-dev/);
  assert.match(r.reason, /npm run build:native/);
});

describe('the native backend', { skip }, () => {
  test('clones every cpu kernel under the name native', () => {
    const cpu = new Set(tf.getKernelsForBackend('cpu').map((k) => k.kernelName));
    const native = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
    assert.ok(cpu.size > 100);
    assert.deepEqual([...cpu].filter((k) => !native.has(k)), []);
  });

  test('threads: set by the option, a bad count is refused with a reason', async () => {
    assert.deepEqual(await registerNativeBackend({ threads: 1 }), { ok: true });
    assert.equal(nativeThreads(), 1);
    const bad = await registerNativeBackend({ threads: 0 });
    assert.ok(!bad.ok && /positive integer/.test(bad.reason));
    await registerNativeBackend({ threads: 2 });
    assert.equal(nativeThreads(), 2);
  });

  test('AdamW update in place matches the float64 reference over two steps, decay and clipping scale', async () => {
    await tf.setBackend('native');
    const n = 1001;
    const p0 = Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
    const grads = [1, 2].map((s) => Array.from({ length: n }, (_, i) => Math.cos(i * s) * 0.01 * s));
    const param = tf.variable(tf.tensor(p0, [7, 143]));
    const m = tf.variable(tf.zeros([7, 143]));
    const v = tf.variable(tf.zeros([7, 143]));
    let ref = { param: p0, m: new Array<number>(n).fill(0), v: new Array<number>(n).fill(0) };
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    for (const [i, g] of grads.entries()) {
      const scale = i === 0 ? 1 : 0.5;
      const grad = tf.tensor(g, [7, 143]);
      assert.equal(nativeAdamWUpdate(param, grad, m, v, { ...hyper, step: i + 1, gradScale: scale }), true);
      grad.dispose();
      ref = adamwReference(ref, g.map((x) => x * scale), { ...hyper, step: i + 1 });
    }
    for (const [got, want] of [[param, ref.param], [m, ref.m], [v, ref.v]] as const) {
      const data = got.dataSync();
      want.forEach((w, i) => assert.ok(Math.abs(data[i]! - w) <= 1e-6 * Math.max(Math.abs(w), 1e-3), `${i}: ${data[i]} vs ${w}`));
    }
    tf.dispose([param, m, v]);
  });

  test('AdamW leaves a tensor that shares the variable storage untouched', async () => {
    await tf.setBackend('native');
    const init = tf.tensor([1, 2, 3]);
    const param = tf.variable(init); // shares init's storage
    const m = tf.variable(tf.zeros([3])), v = tf.variable(tf.zeros([3]));
    const grad = tf.tensor([0.1, 0.1, 0.1]);
    nativeAdamWUpdate(param, grad, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
    assert.deepEqual(Array.from(init.dataSync()), [1, 2, 3]);
    assert.ok(Math.abs(param.dataSync()[0]! - 0.9) < 1e-6); // Adam's first step moves by lr·sign(g)
    tf.dispose([init, param, m, v, grad]);
  });

  test('AdamW on another backend returns false and changes nothing', async () => {
    await tf.setBackend('cpu');
    const param = tf.variable(tf.tensor([1, 2]));
    const m = tf.variable(tf.zeros([2])), v = tf.variable(tf.zeros([2]));
    const grad = tf.tensor([1, 1]);
    assert.equal(nativeAdamWUpdate(param, grad, m, v, { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 }), false);
    assert.deepEqual(Array.from(param.dataSync()), [1, 2]);
    tf.dispose([param, m, v, grad]);
  });

  test('a released kernel output is recycled for the next output of its size', async () => {
    await tf.setBackend('native');
    const backend = tf.backend() as NativeBackend;
    const x = tf.ones([300_000]);
    const a = tf.mul(x, 2);
    const before = backend.pooled;
    a.dispose();
    assert.equal(backend.pooled, before + 4 * pooledCapacity(300_000));
    const b = tf.mul(x, 3);
    assert.equal(backend.pooled, before);
    assert.equal(b.dataSync()[123], 3);
    tf.dispose([x, b]);
  });

  test('pooled capacities: classes of 2^(k/4) elements, at most 19% slack, so nearby lengths share a buffer', () => {
    for (const n of [1, 65_536, 65_537, 300_000, 1_000_003, 37_748_736, 123_456_789]) {
      const cap = pooledCapacity(n);
      assert.ok(cap >= n && cap <= Math.max(1024, Math.ceil((n * 2 ** 0.25) / 1024) * 1024), `${n} → ${cap}`);
    }
    assert.equal(pooledCapacity(16 * 4 * 170 * 170), pooledCapacity(16 * 4 * 175 * 175)); // two dynamic-padding batches
  });

  test('an output of another length in the same class reuses the released buffer; reads copy exactly its length', async () => {
    await tf.setBackend('native');
    const backend = tf.backend() as NativeBackend;
    const x = tf.ones([300_000]);
    const y = tf.ones([299_000]);
    const a = tf.mul(x, 2);
    const before = backend.pooled;
    a.dispose();
    const b = tf.mul(y, 3); // another length, same capacity class
    assert.equal(backend.pooled, before); // taken back out of the pool
    const read = b.dataSync();
    assert.equal(read.length, 299_000);
    assert.equal(read.buffer.byteLength, 299_000 * 4); // not a view of the pooled buffer
    assert.equal((await b.bytes()).length, 299_000 * 4);
    tf.dispose([x, y, b]);
  });

  test('an array read out with dataSync is never recycled under the reader', async () => {
    await tf.setBackend('native');
    const x = tf.ones([300_000]);
    const a = tf.mul(x, 2);
    const seen = a.dataSync();
    a.dispose();
    const b = tf.mul(x, 5);
    assert.equal(seen[7], 2);
    tf.dispose([x, b]);
  });

  test('a slice that views its input keeps that buffer out of the pool', async () => {
    await tf.setBackend('native');
    const x = tf.ones([300_000]);
    const a = tf.mul(x, 2);
    const s = tf.slice(a, [0], [150_000]); // the cpu Slice returns a subarray of a's buffer
    a.dispose();
    const b = tf.mul(x, 7); // would land in a's buffer if it had been pooled
    assert.equal(s.dataSync()[9], 2);
    tf.dispose([x, s, b]);
  });

  test('sum of squares: 1² + 2² + … + 100² = 338350', async () => {
    await tf.setBackend('native');
    const t = tf.range(1, 101, 1, 'float32');
    assert.equal(nativeSumOfSquares(t), 338350);
    t.dispose();
  });
});
