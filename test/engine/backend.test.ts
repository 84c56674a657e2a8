import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { loadAddonFile } from '../../src/engine/addon.js';
import { pooledCapacity, type NativeBackend } from '../../src/engine/backend.js';
import { nativeThreads, registerNativeBackend } from '../../src/engine/index.js';

const skip = skipReason ?? false;

describe('loading the addon', () => {
  test('a missing addon → one-line reason naming libopenblas-dev and npm run build:native', () => {
    const r = loadAddonFile('/nonexistent/qaft_native.node');
    assert.ok('reason' in r);
    assert.doesNotMatch(r.reason, /\n/);
    assert.match(r.reason, /libopenblas-dev/);
    assert.match(r.reason, /npm run build:native/);
  });
});

describe('registering the native backend', { skip }, () => {
  test('clones every cpu kernel under the name native', () => {
    const cpu = new Set(tf.getKernelsForBackend('cpu').map((k) => k.kernelName));
    const native = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
    assert.ok(cpu.size > 100);
    assert.deepEqual(
      [...cpu].filter((k) => !native.has(k)),
      [],
    );
  });

  test('threads: set by the option, a bad count is refused with a reason', async () => {
    assert.deepEqual(await registerNativeBackend({ threads: 1 }), { ok: true });
    assert.equal(nativeThreads(), 1);
    const bad = await registerNativeBackend({ threads: 0 });
    assert.ok(!bad.ok && /positive integer/.test(bad.reason));
    await registerNativeBackend({ threads: 2 });
    assert.equal(nativeThreads(), 2);
  });
});

describe('the output pool of the native backend', { skip }, () => {
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
});
