/**
 * A fresh clone's first run: npm 11 runs no dependency install script that package.json has not decided, and the
 * default backend costs nothing extra: a bad-input error under `--backend auto` is one line even where tfjs-node
 * (libtensorflow, which logs to stderr as it loads) is installed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, repoRoot, runCli } from '../helpers/cli.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';

describe('first run', () => {
  test("every dependency with an install script is allowed or denied in package.json's allowScripts", () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript === true) // '' is qa-ft itself
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    assert.ok(withScripts.includes('onnxruntime-node'), withScripts.join(', '));
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    const decided = pkg.allowScripts ?? {};
    for (const name of withScripts)
      assert.equal(typeof decided[name], 'boolean', `allowScripts has no decision for ${name}`);
    assert.equal(
      decided['onnxruntime-node'],
      false,
      "onnxruntime-node's script fetches CUDA binaries from outside the registry",
    );
  });

  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    tmp = await makeTempDir('qa-ft-first-run-');
  });
  after(() => tmp.cleanup());

  test('with --quiet, a model error found after the default backend has loaded is the one line on stderr', async () => {
    const model = join(tmp.dir, 'model');
    await writeTinyModelDir(model);
    await writeFile(join(model, 'model.safetensors'), Buffer.from('not a safetensors file'));
    const r = await runCli(['ask', '--model', model, '--question', 'Who?', '--context', 'Sylvain is here.', '--quiet']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^qa-ft: error: .*model\.safetensors/);
  });
});
