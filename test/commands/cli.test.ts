import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

test('unknown sub-command exits with a usage error and no stack trace', async () => {
  const r = await runCli(['no-such-command']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('--help lists the program and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: qa-ft/);
});

test('every command takes --quiet (as the HF scripts let every run be quiet)', async () => {
  for (const command of ['prepare', 'train', 'ask', 'evaluate', 'export', 'serve']) {
    const r = await runCli([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--quiet/, `${command} --help`);
  }
});
