import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAvailable } from '../../src/engine/index.js';
import { QaFtError } from '../../src/errors.js';
import { backendUnavailable, selectBackend } from '../../src/model/backend-select.js';
import type { BackendName } from '../../src/model/types.js';
import { repoRoot } from '../helpers/cli.js';

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
      const a = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
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

  test('auto takes the first backend of native > tensorflow > wasm > cpu that starts, and says which and why', async () => {
    const choice = await selectBackend('auto');
    assert.equal(choice.name, tf.getBackend());
    const notice = choice.notice ?? '';
    assert.ok(!notice.includes('\n'));
    const m =
      /^backend: (\w+), the fastest that starts here \(order native > tensorflow > wasm > cpu(?:; unavailable: (.*))?\)$/.exec(
        notice,
      );
    assert.ok(m, notice);
    assert.equal(m[1], choice.name);
    let expected: string | undefined;
    for (const backend of ['native', 'tensorflow', 'wasm', 'cpu'] as const) {
      const missing = await backendUnavailable(backend);
      if (missing === undefined) {
        expected = backend;
        break;
      }
      assert.ok((m[2] ?? '').includes(`${backend}: ${missing}`), `${backend}'s reason in: ${notice}`);
    }
    assert.equal(choice.name, expected);
  });

  test('auto loads no backend past the one it takes: with native built, libtensorflow stays unloaded', async (t) => {
    if (!nativeAvailable().ok) return t.skip('native not built: auto goes on to tensorflow');
    const script = [
      "import { selectBackend } from './src/model/backend-select.ts';",
      "import * as tf from '@tensorflow/tfjs-core';",
      "const c = await selectBackend('auto');",
      "console.log(JSON.stringify({ name: c.name, tensorflow: tf.findBackendFactory('tensorflow') !== null,",
      "  libtensorflow: (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8').includes('libtensorflow') }));",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { name: 'native', tensorflow: false, libtensorflow: false });
    assert.equal(r.stderr, '');
  });

  test('unknown backend name → BAD_ARGUMENT listing the choices', async () => {
    await assert.rejects(selectBackend('gpu' as BackendName), /unknown backend 'gpu'/);
  });
});
