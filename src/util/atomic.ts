/**
 * Atomic writes: a file or directory appears complete or not at all. Everything is written next to its
 * final path (same file system, so `rename` is atomic) and renamed into place last.
 */
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now().toString(36)}`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * `writeFileAtomic` for content written in pieces (a file too large to build in memory): `write` fills an open
 * handle, which is synced to disk before the rename.
 */
export async function writeFileAtomicWith(path: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const fh = await open(tmp, 'w');
  try {
    await write(fh);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Fills a fresh temporary directory with `fill`, then replaces `dir` with it. If `fill` throws, nothing is left
 * behind and an existing `dir` is untouched.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${tmp}.old`;
  let hadOld = false;
  try {
    await rename(dir, old);
    hadOld = true;
  } catch {
    // no previous directory
  }
  await rename(tmp, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}
