/** scripts/build-tfjs-node.mjs on a machine without the TensorFlow wheel: it says so in one line and exits 0. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/cli.js';

test('without the wheel the tfjs-node assembly says why and that the tensorflow tests are skipped, exit 0', () => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-tfjs-node.mjs')], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, QAFT_TF_WHEEL: join(repoRoot, 'no-such-tensorflow.whl') },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^qa-ft: tfjs-node not assembled: no TensorFlow 2\.21 CPU wheel .*its tests are skipped\n$/);
});
