import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAvailable } from '../../src/engine/index.js';
import { QaFtError } from '../../src/errors.js';
import { backendUnavailable, selectBackend } from '../../src/model/backend.js';
import type { BackendName } from '../../src/model/types.js';

describe('backend selection', () => {
  test('cpu and wasm activate and are reported by name', async () => {
    assert.deepEqual(await selectBackend('wasm'), { name: 'wasm' });
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(await selectBackend('cpu'), { name: 'cpu' });
    assert.equal(tf.getBackend(), 'cpu');
  });

  test('tensorflow activates where tfjs-node loads, else one-line error with the install command', async () => {
    const missing = await backendUnavailable('tensorflow');
    if (missing === undefined) {
      assert.deepEqual(await selectBackend('tensorflow'), { name: 'tensorflow' });
      assert.equal(tf.getBackend(), 'tensorflow');
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      const p = tf.matMul(a, a);
      assert.deepEqual(Array.from(await p.data()), [7, 10, 15, 22]);
      tf.dispose([a, p]);
      return;
    }
    await assert.rejects(selectBackend('tensorflow'), (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.equal(e.code, 'BACKEND_UNAVAILABLE');
      assert.equal(e.message, `backend 'tensorflow' is not available: ${missing}`);
      assert.match(e.hint ?? '', /npm install @tensorflow\/tfjs-node/);
      return true;
    });
  });

  test('native activates when the addon is built, else one-line BACKEND_UNAVAILABLE saying how to build it', async () => {
    if (nativeAvailable().ok) {
      assert.deepEqual(await selectBackend('native', { threads: 2 }), { name: 'native' });
      assert.equal(tf.getBackend(), 'native');
      return;
    }
    await assert.rejects(selectBackend('native'), (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.equal(e.code, 'BACKEND_UNAVAILABLE');
      assert.match(e.message, /^backend 'native' is not available: .*npm run build:native/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  });

  test('auto times every available backend, picks the fastest, and says which and why in one line', async () => {
    const choice = await selectBackend('auto');
    assert.equal(choice.name, tf.getBackend());
    const notice = choice.notice ?? '';
    assert.ok(!notice.includes('\n'));
    const m = /^backend: (\w+), the fastest here on a 128×256·256×256 matmul \(([^;)]*)(?:; unavailable: (.*))?\)$/.exec(notice);
    assert.ok(m, notice);
    assert.equal(m[1], choice.name);
    const times = new Map((m[2] ?? '').split(', ').map((e) => {
      const [name, ms] = e.split(' ');
      return [name, Number(ms)] as const;
    }));
    for (const backend of ['native', 'tensorflow', 'wasm', 'cpu'] as const) {
      const missing = await backendUnavailable(backend);
      if (missing === undefined) assert.ok((times.get(backend) ?? NaN) > 0, `${backend} timed in: ${notice}`);
      else assert.ok(notice.includes(`${backend}: ${missing}`), `${backend}'s reason in: ${notice}`);
    }
    assert.equal(Math.min(...times.values()), times.get(choice.name), 'the pick is the fastest timed');
    // decided once per process: the second call reuses the timing
    const started = performance.now();
    assert.deepEqual(await selectBackend('auto'), choice);
    assert.ok(performance.now() - started < 1000);
  });

  test('unknown backend name → BAD_ARGUMENT listing the choices', async () => {
    await assert.rejects(selectBackend('gpu' as BackendName), /unknown backend 'gpu'/);
  });
});
