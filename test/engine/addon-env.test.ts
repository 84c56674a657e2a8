// Loading the native addon tells OpenBLAS's and OpenMP's idle threads to sleep at once instead of spinning between
// matmuls (they would take the cores the engine's own kernel threads need); a user's own settings win.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { nativeAvailable } from '../../src/engine/index.js';
import { repoRoot } from '../helpers/cli.js';
import { skipUnlessRequired } from '../helpers/required.js';

const skip = skipUnlessRequired('native', nativeAvailable() ? undefined : 'the native engine is not built');

/** The thread settings a fresh process has after loading the addon, with `env` added to the test's environment. */
function settingsAfterLoad(env: Record<string, string>): Record<string, string | undefined> {
  const script = `const { loadAddon } = await import('./src/engine/addon.ts'); if ('reason' in loadAddon()) process.exit(3);
    const e = process.env; console.log(JSON.stringify({ blas: e.OPENBLAS_THREAD_TIMEOUT, omp: e.OMP_WAIT_POLICY, spin: e.GOMP_SPINCOUNT }));`;
  const base = { ...process.env };
  for (const k of ['OPENBLAS_THREAD_TIMEOUT', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT']) delete base[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { ...base, ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as Record<string, string | undefined>;
}

test('idle OpenBLAS and OpenMP threads sleep at once unless the user says otherwise', { skip }, () => {
  assert.deepEqual(settingsAfterLoad({}), { blas: '4', omp: 'PASSIVE' });
  assert.deepEqual(settingsAfterLoad({ OPENBLAS_THREAD_TIMEOUT: '20', OMP_WAIT_POLICY: 'ACTIVE' }), {
    blas: '20',
    omp: 'ACTIVE',
  });
  assert.deepEqual(settingsAfterLoad({ GOMP_SPINCOUNT: '1000' }), { blas: '4', spin: '1000' });
});
