/**
 * Atomic writes: a file or directory appears complete or not at all. Everything is written next to its
 * final path (same file system, so `rename` is atomic) under a temporary name that carries the writer's pid,
 * `.NAME.tmp-PID-STAMP`, and renamed into place last. `sweepStaleTemps` removes what a killed writer left
 * behind (its pid is gone) and finishes a directory swap it was in the middle of.
 */
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { fileSystemError, FileSystemError, systemErrorCode, withFileSystemErrors, type FileSystemContext } from './fs-errors.js';

let stampCounter = 0;

/** `.NAME.tmp-PID-STAMP` beside `path`; the pid lets a later run tell a dead writer's leftovers from a live one's. */
export function tempSibling(path: string): string {
  const stamp = `${Date.now().toString(36)}${(stampCounter++).toString(36)}`;
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${stamp}`);
}

/** `.NAME.tmp-PID-STAMP`, optionally with `.old` (the replaced directory during a swap). */
const TEMP_NAME = /^\.(.+)\.tmp-(\d+)-([0-9a-z]+)(\.old)?$/;

/** Whether `name` is one of these temporary names (a writer's, live or dead). */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  await makeParent(path);
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fileSystemError(e, { path, operation: 'write', bytes });
  }
}

/**
 * `writeFileAtomic` for content written in pieces (a file too large to build in memory): `write` fills an open
 * handle, which is synced to disk before the rename. `bytes`: the size it will have, for a full disk's message.
 */
export async function writeFileAtomicWith(
  path: string,
  write: (fh: FileHandle) => Promise<void>,
  options: { bytes?: number } = {},
): Promise<void> {
  const context: FileSystemContext = { path, operation: 'write', ...(options.bytes === undefined ? {} : { bytes: options.bytes }) };
  await makeParent(path);
  const tmp = tempSibling(path);
  const fh = await withFileSystemErrors(context, () => open(tmp, 'w'));
  try {
    await write(fh);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw fileSystemError(e, context);
  }
}

/**
 * Fills a fresh temporary directory with `fill`, then puts it at `dir`. If `fill` throws, nothing is left
 * behind and an existing `dir` is untouched. Replacing an existing `dir` takes two renames (the old one aside,
 * the new one in); a kill between them leaves both complete directories as siblings, and the next
 * `sweepStaleTemps` of the parent finishes the swap, so `dir` is never lost.
 *
 * A file-system failure inside `fill` is reported at its final path (`dir/…`, not the temporary one), with
 * `bytes` (the whole directory's size, when the caller knows it) or else at least what had been written.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>, options: { bytes?: number } = {}): Promise<void> {
  await makeParent(dir);
  const tmp = tempSibling(dir);
  await withFileSystemErrors({ path: dir, operation: 'create directory' }, () => mkdir(tmp));
  try {
    await fill(tmp);
  } catch (e) {
    const failure = systemErrorCode(e) !== undefined || e instanceof FileSystemError ? await fillFailure(e, tmp, dir, options.bytes) : e;
    await rm(tmp, { recursive: true, force: true });
    throw failure;
  }
  const old = `${tmp}.old`;
  let hadOld = false;
  try {
    await rename(dir, old);
    hadOld = true;
  } catch {
    // no previous directory
  }
  try {
    await rename(tmp, dir);
  } catch (e) {
    if (hadOld) await rename(old, dir).catch(() => undefined); // put the previous one back
    await rm(tmp, { recursive: true, force: true });
    throw fileSystemError(e, { path: dir, operation: 'rename into place' });
  }
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/**
 * Removes `dir` so that it is never seen half-deleted under its own name: renamed aside to a temporary name first
 * (atomic), then deleted; a kill in between leaves only the temporary, which `sweepStaleTemps` removes.
 */
export async function removeDirAtomic(dir: string): Promise<void> {
  const aside = tempSibling(dir);
  await withFileSystemErrors({ path: dir, operation: 'remove' }, () => rename(dir, aside));
  await rm(aside, { recursive: true, force: true });
}

/** A failure inside a directory fill, at its final path and with the space the directory needed. */
async function fillFailure(e: unknown, tmp: string, dir: string, total: number | undefined): Promise<FileSystemError> {
  const atFinal = (p: string | undefined): string => (p !== undefined && (p === tmp || p.startsWith(`${tmp}${sep}`)) ? dir + p.slice(tmp.length) : dir);
  const written = await treeBytes(tmp); // before it is removed; a failed file's temp is already gone
  if (e instanceof FileSystemError) {
    return e.with({ path: atFinal(e.path), bytes: total ?? written + (e.bytes ?? 0), bytesAtLeast: total === undefined });
  }
  const errno = e as NodeJS.ErrnoException & { dest?: string };
  const path = atFinal(errno.dest ?? errno.path);
  return new FileSystemError(systemErrorCode(e) ?? 'EIO', { path, operation: 'write', bytes: total ?? written, bytesAtLeast: total === undefined }, e);
}

/** Bytes in the files under `dir` (0 when it cannot be read). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else total += (await stat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** `mkdir -p` of `path`'s parent, as a DISK error when the environment refuses. */
async function makeParent(path: string): Promise<void> {
  const parent = dirname(path);
  await withFileSystemErrors({ path: parent, operation: 'create directory' }, () => mkdir(parent, { recursive: true }));
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Removes the temporary siblings that dead writers left in `dir` (pid no longer running) for the names that
 * `owned` accepts (a parent directory may hold other programs' files), and returns what it removed. A directory
 * swap that a kill interrupted (`X` gone, the new `.X.tmp-…` and the old `.X.tmp-….old` both there) is finished
 * first: the new one is complete by then, so it becomes `X`.
 */
export async function sweepStaleTemps(dir: string, owned: (name: string) => boolean): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no directory yet: nothing to sweep
  }
  const removed: string[] = [];
  // swaps first, so that an interrupted one is finished before its new directory could be swept as a leftover
  const oldFirst = names.sort((a, b) => Number(b.endsWith('.old')) - Number(a.endsWith('.old')));
  for (const name of oldFirst) {
    const [, finalName, pid, , old] = TEMP_NAME.exec(name) ?? [];
    if (finalName === undefined || pid === undefined || !owned(finalName) || isAlive(Number(pid))) continue;
    const path = join(dir, name);
    if (!(await exists(path))) continue; // taken care of with its pair
    if (old === '.old') {
      const target = join(dir, finalName);
      const fresh = path.slice(0, -'.old'.length);
      if (!(await exists(target))) await rename((await exists(fresh)) ? fresh : path, target);
    }
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
