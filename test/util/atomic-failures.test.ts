/**
 * The atomic writers on a failing file system: a one-line DISK error at the final path, nothing half-written.
 * Two methods: "injected" (the write/fill callback throws the errno, as the kernel would mid-write; runs
 * everywhere) and "tmpfs" (a real 64 KiB / read-only tmpfs; skipped where mounting is not permitted).
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeDirAtomic, writeFileAtomic, writeFileAtomicWith } from '../../src/util/atomic.js';
import { FileSystemError } from '../../src/util/fs-errors.js';
import { makeTempDir } from '../helpers/cli.js';
import { mountTmpfs } from '../helpers/tmpfs.js';

const enospc = (): NodeJS.ErrnoException =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });

async function rejectsWithDisk(p: Promise<unknown>, message: RegExp): Promise<FileSystemError> {
  const e = await p.then(
    () => assert.fail('expected the write to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof FileSystemError, `expected a FileSystemError, got ${String(e)}`);
  assert.equal(e.code, 'DISK');
  assert.match(e.message, message);
  return e;
}

test('injected: ENOSPC while a streamed file is written → DISK error naming the file and its size; no temp file left', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const path = join(dir, 'model.safetensors');
    const write = writeFileAtomicWith(
      path,
      async (fh) => {
        await fh.write(new Uint8Array(100));
        throw enospc();
      },
      { bytes: 5 * 2 ** 20 },
    );
    await rejectsWithDisk(
      write,
      new RegExp(`^cannot write ${path}: no space left on device \\(the write needed about 5\\.0 MiB\\)$`),
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await cleanup();
  }
});

test('injected: a failure inside a directory fill is named at its final path with at least the bytes written; nothing left', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const target = join(dir, 'checkpoint-16');
    const fill = writeDirAtomic(target, async (tmp) => {
      await writeFile(join(tmp, 'config.json'), 'x'.repeat(2048));
      await writeFileAtomicWith(join(tmp, 'optimizer.safetensors'), () => Promise.reject(enospc()), {
        bytes: 3 * 2 ** 20,
      });
    });
    await rejectsWithDisk(
      fill,
      new RegExp(
        `^cannot write ${target}/optimizer\\.safetensors: no space left on device \\(the write needed at least 3\\.0 MiB\\)$`,
      ),
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await cleanup();
  }
});

test('injected: a raw errno thrown by a fill (no path) names the directory; a fill that knows its total says "about"', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const target = join(dir, 'data');
    const fill = writeDirAtomic(target, () => Promise.reject(enospc()), { bytes: 2 * 2 ** 20 });
    await rejectsWithDisk(
      fill,
      new RegExp(`^cannot write ${target}: no space left on device \\(the write needed about 2\\.0 MiB\\)$`),
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await cleanup();
  }
});

test('injected: a bug inside a fill keeps its own error (not worded as a disk failure)', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await assert.rejects(
      writeDirAtomic(join(dir, 'd'), () => Promise.reject(new TypeError('bug'))),
      TypeError,
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await cleanup();
  }
});

test('injected: a file where the parent directory should be → "a parent is not a directory"', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeFile(join(dir, 'file'), '');
    await rejectsWithDisk(
      writeFileAtomic(join(dir, 'file', 'sub', 'x.json'), '{}'),
      /^cannot create directory .*\/file\/sub: a parent is not a directory \(ENOTDIR\)$/,
    );
  } finally {
    await cleanup();
  }
});

test('tmpfs: writeFileAtomic of 1 MiB onto a 64 KiB tmpfs → ENOSPC naming the file and "about 1.0 MiB"; no temp file left', async (t) => {
  const fs = await mountTmpfs('64k');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    const path = join(fs.dir, 'big.bin');
    await rejectsWithDisk(
      writeFileAtomic(path, new Uint8Array(2 ** 20)),
      new RegExp(`^cannot write ${path}: no space left on device \\(the write needed about 1\\.0 MiB\\)$`),
    );
    assert.deepEqual(await readdir(fs.dir), []);
  } finally {
    await fs.cleanup();
  }
});

test('tmpfs: a read-only mount → EROFS for a file and for a directory, nothing created', async (t) => {
  const fs = await mountTmpfs('64k');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    await fs.readOnly();
    await rejectsWithDisk(
      writeFileAtomic(join(fs.dir, 'a.json'), '{}'),
      /^cannot write .*\/a\.json: read-only file system \(EROFS\)$/,
    );
    await rejectsWithDisk(
      writeDirAtomic(join(fs.dir, 'ckpt'), async () => undefined),
      /^cannot create directory .*\/ckpt: read-only file system \(EROFS\)$/,
    );
    assert.deepEqual(await readdir(fs.dir), []);
  } finally {
    await fs.cleanup();
  }
});
