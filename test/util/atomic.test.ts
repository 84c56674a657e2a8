import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sweepStaleTemps, writeDirAtomic } from '../../src/util/atomic.js';
import { makeTempDir } from '../helpers/cli.js';

const DEAD_PID = 4_194_304 + 11; // above Linux's largest pid: never running

async function dirWith(path: string, content: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'f'), content);
}

test('writeDirAtomic replaces a directory with the filled one and leaves no temporary sibling', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await dirWith(join(dir, 'ckpt'), 'old');
    await writeDirAtomic(join(dir, 'ckpt'), (tmp) => writeFile(join(tmp, 'f'), 'new'));
    assert.equal(await readFile(join(dir, 'ckpt', 'f'), 'utf8'), 'new');
    assert.deepEqual(await readdir(dir), ['ckpt']);
  } finally {
    await cleanup();
  }
});

test('a swap killed between its two renames is finished by the next sweep: the new directory takes the name', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    // what a kill right after `rename(dir, old)` leaves: no `ckpt`, the complete new one and the old one aside
    await dirWith(join(dir, `.ckpt.tmp-${DEAD_PID}-k1`), 'new');
    await dirWith(join(dir, `.ckpt.tmp-${DEAD_PID}-k1.old`), 'old');
    const removed = await sweepStaleTemps(dir, (name) => name === 'ckpt');
    assert.deepEqual(removed, [`.ckpt.tmp-${DEAD_PID}-k1.old`]);
    assert.deepEqual(await readdir(dir), ['ckpt']);
    assert.equal(await readFile(join(dir, 'ckpt', 'f'), 'utf8'), 'new');
  } finally {
    await cleanup();
  }
});

test('a swap killed after its second rename only loses the old copy; a lone old copy is put back', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await dirWith(join(dir, 'a'), 'new');
    await dirWith(join(dir, `.a.tmp-${DEAD_PID}-k2.old`), 'old');
    await dirWith(join(dir, `.b.tmp-${DEAD_PID}-k3.old`), 'only copy');
    await sweepStaleTemps(dir, () => true);
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'b']);
    assert.equal(await readFile(join(dir, 'a', 'f'), 'utf8'), 'new');
    assert.equal(await readFile(join(dir, 'b', 'f'), 'utf8'), 'only copy');
  } finally {
    await cleanup();
  }
});

test("the sweep removes only dead writers' leftovers of the names it owns", async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await dirWith(join(dir, `.mine.tmp-${DEAD_PID}-k4`), 'half-written');
    await writeFile(join(dir, `.theirs.tmp-${DEAD_PID}-k5`), 'another program');
    await writeFile(join(dir, `.mine.tmp-${process.pid}-k6`), 'a live writer');
    await writeFile(join(dir, 'mine'), 'not a temporary name');
    const removed = await sweepStaleTemps(dir, (name) => name === 'mine');
    assert.deepEqual(removed, [`.mine.tmp-${DEAD_PID}-k4`]);
    assert.deepEqual((await readdir(dir)).sort(), [
      `.mine.tmp-${process.pid}-k6`,
      `.theirs.tmp-${DEAD_PID}-k5`,
      'mine',
    ]);
  } finally {
    await cleanup();
  }
});
