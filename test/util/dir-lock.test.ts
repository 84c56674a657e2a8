import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isQaFtError } from '../../src/errors.js';
import { acquireDirLock, LOCK_FILE, lockPathBeside, lockPathIn } from '../../src/util/dir-lock.js';
import { makeTempDir } from '../helpers/cli.js';

/** Above Linux's largest pid (2^22): never running. */
const DEAD_PID = 4194311;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await makeTempDir('qa-ft-lock-');
  try {
    await fn(dir);
  } finally {
    await cleanup();
  }
}

function holderJson(pid: number, host = hostname()): string {
  return JSON.stringify({ pid, hostname: host, command: 'qa-ft train --out x', startedAt: '2024-01-01T00:00:00.000Z' });
}

test('acquire writes {pid, hostname, command, startedAt}; release removes the lock', () =>
  withDir(async (dir) => {
    const path = lockPathIn(join(dir, 'out'));
    assert.equal(path, join(dir, 'out', LOCK_FILE));
    const lock = await acquireDirLock(path, { command: 'qa-ft train' });
    const holder = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.equal(holder.pid, process.pid);
    assert.equal(holder.hostname, hostname());
    assert.equal(holder.command, 'qa-ft train');
    assert.ok(!Number.isNaN(Date.parse(String(holder.startedAt))));
    await lock.release();
    assert.ok(!existsSync(path));
    await lock.release(); // twice is fine
  }));

test('a second acquire while the lock is held fails in one line naming the holder pid and command', () =>
  withDir(async (dir) => {
    const path = lockPathIn(dir);
    const lock = await acquireDirLock(path, { command: 'qa-ft train --seed 1' });
    try {
      await assert.rejects(acquireDirLock(path, { what: `--out ${dir}` }), (e: unknown) => {
        assert.ok(isQaFtError(e));
        assert.ok(e.message.includes(`--out ${dir} is in use by another qa-ft run: pid ${process.pid}`), e.message);
        assert.ok(e.message.includes('qa-ft train --seed 1'), e.message);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    } finally {
      await lock.release();
    }
    await (await acquireDirLock(path)).release();
  }));

test('a lock of a dead pid on this host is taken over, with a notice', () =>
  withDir(async (dir) => {
    const path = lockPathIn(dir);
    await writeFile(path, holderJson(DEAD_PID));
    const notices: string[] = [];
    const lock = await acquireDirLock(path, { onNotice: (m) => notices.push(m) });
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { pid: number }).pid, process.pid);
    assert.equal(notices.length, 1);
    assert.match(notices[0] ?? '', new RegExp(`stale lock .*pid ${DEAD_PID}.* is no longer running`));
    await lock.release();
  }));

test('a lock of a live pid blocks; one from another host blocks whatever its pid', () =>
  withDir(async (dir) => {
    const path = lockPathIn(dir);
    await writeFile(path, holderJson(process.pid));
    await assert.rejects(acquireDirLock(path), new RegExp(`pid ${process.pid}`));
    await writeFile(path, holderJson(DEAD_PID, 'some-other-host'));
    await assert.rejects(acquireDirLock(path), /pid 4194311 on host some-other-host/);
    assert.ok(existsSync(path), 'the holder’s lock is left alone');
  }));

test('unreadable lock content is stale once it is over a second old (a writer may be between open and write)', () =>
  withDir(async (dir) => {
    const path = lockPathIn(dir);
    await writeFile(path, 'not json');
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const notices: string[] = [];
    const lock = await acquireDirLock(path, { onNotice: (m) => notices.push(m) });
    assert.match(notices.join('\n'), /stale lock .*\(unreadable\)/);
    await lock.release();

    await writeFile(path, ''); // fresh and empty: waited for, then taken over
    const started = Date.now();
    const again = await acquireDirLock(path);
    assert.ok(Date.now() - started >= 900, 'a fresh unreadable lock is given time to be written');
    await again.release();
  }));

test('release leaves a lock that is no longer this process’s (taken over meanwhile)', () =>
  withDir(async (dir) => {
    const path = lockPathIn(dir);
    const lock = await acquireDirLock(path);
    await writeFile(path, holderJson(DEAD_PID));
    await lock.release();
    assert.ok(existsSync(path));
  }));

test('lockPathBeside keys the lock by the directory name, in its parent', () => {
  assert.equal(lockPathBeside('/a/b/data'), '/a/b/.data.qa-ft.lock');
});
