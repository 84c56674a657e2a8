import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAvailable } from '../../src/engine/index.js';
import { QaFtError } from '../../src/errors.js';
import { selectBackend } from '../../src/model/backend.js';
import type { BackendName } from '../../src/model/types.js';

describe('backend selection', () => {
  test('cpu and wasm activate and are reported by name', async () => {
    assert.deepEqual(await selectBackend('wasm'), { name: 'wasm' });
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(await selectBackend('cpu'), { name: 'cpu' });
    assert.equal(tf.getBackend(), 'cpu');
  });

  test('tensorflow without @tensorflow/tfjs-node installed → one-line error with the install command', async () => {
    await assert.rejects(selectBackend('tensorflow'), (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.equal(e.code, 'BACKEND_UNAVAILABLE');
      assert.match(e.message, /backend 'tensorflow' is not available: @tensorflow\/tfjs-node is not installed/);
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

  test('auto picks the fastest available and says which and why in one line', async () => {
    const choice = await selectBackend('auto');
    assert.equal(choice.name, tf.getBackend());
    assert.ok(['native', 'wasm', 'cpu'].includes(choice.name));
    assert.match(choice.notice ?? '', new RegExp(`^backend: ${choice.name}, the fastest available \\(tensorflow: @tensorflow/tfjs-node is not installed`));
    assert.ok(!(choice.notice ?? '').includes('\n'));
  });

  test('unknown backend name → BAD_ARGUMENT listing the choices', async () => {
    await assert.rejects(selectBackend('gpu' as BackendName), /unknown backend 'gpu'/);
  });
});
