/** The parity fixtures' loader refuses a stale or missing fixture with the command that regenerates it. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../helpers/cli.js';
import { FAMILIES, fixtureDir, readFixtureJson } from './tiny-fixture.js';

test('every family fixture the tests read is of the version the generators write (none written: version 1)', () => {
  for (const family of FAMILIES) assert.ok(readFixtureJson(fixtureDir(family), family).batches.length > 0, family);
});

test('a fixture of another version fails naming both versions and the regeneration command', async () => {
  const tmp = await makeTempDir();
  try {
    await writeFile(join(tmp.dir, 'fixture.json'), JSON.stringify({ fixture_version: 2, batches: [] }));
    assert.throws(
      () => readFixtureJson(tmp.dir, 'albert'),
      /fixture\.json: fixture version 2, but the tests read version 1 .*regenerate it: python3\.11 test\/fixtures\/make_hf_fixture\.py \S+tiny-albert-qa --arch albert --seed 11/,
    );
  } finally {
    await tmp.cleanup();
  }
});

test('a missing fixture fails with the regeneration command', async () => {
  const tmp = await makeTempDir();
  try {
    const dir = join(tmp.dir, 'tiny-distilbert-qa');
    await mkdir(dir);
    assert.throws(
      () => readFixtureJson(dir, 'distilbert'),
      /cannot read the distilbert parity fixture .*regenerate it: python3\.11 test\/fixtures\/make_fixture\.py/,
    );
  } finally {
    await tmp.cleanup();
  }
});
