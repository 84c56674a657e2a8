/**
 * Atomic writes: a file or directory appears complete or not at all. Everything is written next to its
 * final path (same file system, so `rename` is atomic) under a temporary name that carries the writer's pid,
 * `.NAME.tmp-PID-STAMP`, and renamed into place last. `sweepStaleTemps` removes what a killed writer left
 * behind (its pid is gone) and finishes a directory swap it was in the middle of.
 */
import { lstat, mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import {
  fileSystemError,
  FileSystemError,
  systemErrorCode,
  withFileSystemErrors,
  type FileSystemContext,
} from './fs-errors.js';

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
  const context: FileSystemContext = {
    path,
    operation: 'write',
    ...(options.bytes === undefined ? {} : { bytes: options.bytes }),
  };
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
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
  options: { bytes?: number } = {},
): Promise<void> {
  await makeParent(dir);
  const tmp = tempSibling(dir);
  await withFileSystemErrors({ path: dir, operation: 'create directory' }, () => mkdir(tmp));
  try {
    await fill(tmp);
  } catch (e) {
    const failure =
      systemErrorCode(e) !== undefined || e instanceof FileSystemError
        ? await fillFailure(e, tmp, dir, options.bytes)
        : e;
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

/** The temporary directory `writeIntoDir` stages in (`.qa-ft-staging.tmp-PID-STAMP` inside the directory). */
const STAGING = 'qa-ft-staging';

/**
 * Writes what `fill` puts in a fresh directory into the existing `dir`, each file replacing its namesake and every
 * other file of `dir` left as it is: `fill` writes a temporary directory inside `dir` (same file system), whose files
 * are then renamed into place one by one (each rename atomic). `stale` names files an earlier write of the same
 * kind may have left (relative paths): those this write does not replace are removed, so no stale file of it stays
 * beside the new ones; directories are never removed. If `fill` throws, `dir` is untouched. A file-system failure
 * is reported at its final path, as in `writeDirAtomic`. A kill part-way leaves the staging directory, which the
 * next write into `dir` sweeps.
 */
export async function writeIntoDir(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
  options: { bytes?: number; stale?: readonly string[] } = {},
): Promise<void> {
  await sweepStaleTemps(dir, (name) => name === STAGING);
  const tmp = tempSibling(join(dir, STAGING));
  await withFileSystemErrors({ path: dir, operation: 'create directory' }, () => mkdir(tmp));
  try {
    try {
      await fill(tmp);
    } catch (e) {
      throw systemErrorCode(e) !== undefined || e instanceof FileSystemError
        ? await fillFailure(e, tmp, dir, options.bytes)
        : e;
    }
    const written = await treeFiles(tmp);
    for (const name of options.stale ?? []) {
      if (written.includes(name)) continue;
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info !== undefined && !info.isDirectory())
        await withFileSystemErrors({ path, operation: 'remove' }, () => rm(path, { force: true }));
    }
    for (const name of written) {
      const path = join(dir, name);
      await withFileSystemErrors({ path: dirname(path), operation: 'create directory' }, () =>
        mkdir(dirname(path), { recursive: true }),
      );
      await withFileSystemErrors({ path, operation: 'rename into place' }, () => rename(join(tmp, name), path));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The files under `dir`, as paths relative to it with `/` separators, sorted. */
async function treeFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await treeFiles(dir, name)));
    else out.push(name);
  }
  return out.sort();
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
  const atFinal = (p: string | undefined): string =>
    p !== undefined && (p === tmp || p.startsWith(`${tmp}${sep}`)) ? dir + p.slice(tmp.length) : dir;
  const written = await treeBytes(tmp); // before it is removed; a failed file's temp is already gone
  if (e instanceof FileSystemError) {
    return e.with({
      path: atFinal(e.path),
      bytes: total ?? written + (e.bytes ?? 0),
      bytesAtLeast: total === undefined,
    });
  }
  const errno = e as NodeJS.ErrnoException & { dest?: string };
  const path = atFinal(errno.dest ?? errno.path);
  return new FileSystemError(
    systemErrorCode(e) ?? 'EIO',
    { path, operation: 'write', bytes: total ?? written, bytesAtLeast: total === undefined },
    e,
  );
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
