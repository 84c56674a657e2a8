/**
 * A lock file that keeps two qa-ft processes from writing the same output directory at once. It is created with
 * O_EXCL (`open(path, 'wx')`), so exactly one process makes it, and holds `{pid, hostname, command, startedAt}`
 * so that the one refused can name who holds it. A lock whose process is gone (same host, the pid no longer
 * running) is stale: it is taken over, with a notice. A lock another host wrote is never taken over (its pid
 * cannot be checked from here). Imports nothing of qa-ft but its errors.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { OptionError, type OptionText } from '../errors.js';
import { fileSystemError, withFileSystemErrors } from './fs-errors.js';

/** The lock's name inside a directory a run writes into (`--out` of `train`). */
export const LOCK_FILE = '.qa-ft.lock';

/** A lock inside `dir`. */
export function lockPathIn(dir: string): string {
  return join(dir, LOCK_FILE);
}

/** A lock beside `dir` (`.NAME.qa-ft.lock`), for a directory that may not exist yet or must stay as it is. */
export function lockPathBeside(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}${LOCK_FILE}`);
}

export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly command: string;
  readonly startedAt: string;
}

export interface DirLock {
  readonly path: string;
  /** Removes the lock if it is still this process's; safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /**
   * What is locked, for the message (e.g. `--out /x`, or the option field `outDir` and its path); default the lock's
   * path.
   */
  readonly what?: string | OptionText;
  /** The holder's command line, recorded in the lock (default this process's arguments). */
  readonly command?: string;
  /** Told when a stale lock is taken over. */
  readonly onNotice?: (message: string) => void;
}

/**
 * Content that does not parse may be a lock another process created a moment ago and has not written yet: it is
 * taken for stale only once it is this old.
 */
const UNREADABLE_GRACE_MS = 1000;
const RETRY_MS = 50;

function defaultCommand(): string {
  const [, script, ...args] = process.argv;
  const line = ['qa-ft', ...(script === undefined ? [] : args)].join(' ');
  return line.length > 400 ? `${line.slice(0, 399)}…` : line;
}

/** Whether process `pid` (on this host) is running; EPERM means it is, under another user. */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder> | null;
    if (h && Number.isInteger(h.pid) && typeof h.hostname === 'string') {
      return {
        pid: h.pid as number,
        hostname: h.hostname,
        command: String(h.command ?? '?'),
        startedAt: String(h.startedAt ?? '?'),
      };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

const errnoCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Holds `path` for this process until `release` (or the process exits), or throws naming the holder. */
export async function acquireDirLock(path: string, options: AcquireOptions = {}): Promise<DirLock> {
  const what: OptionText = typeof options.what === 'object' ? options.what : [options.what ?? path];
  const me: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    command: options.command ?? defaultCommand(),
    startedAt: new Date().toISOString(),
  };
  const content = `${JSON.stringify(me)}\n`;
  await withFileSystemErrors({ path: dirname(path), operation: 'create directory' }, () =>
    mkdir(dirname(path), { recursive: true }),
  );
  for (;;) {
    if (await tryCreate(path, content)) return heldLock(path, content);
    let text: string;
    let ageMs: number;
    try {
      text = await readFile(path, 'utf8');
      ageMs = Date.now() - (await stat(path)).mtimeMs;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue; // released meanwhile: try again
      throw e;
    }
    const holder = parseHolder(text);
    if (holder === undefined && ageMs < UNREADABLE_GRACE_MS) {
      await sleep(RETRY_MS); // being written
      continue;
    }
    if (holder !== undefined && (holder.hostname !== me.hostname || isProcessAlive(holder.pid))) {
      const where = holder.hostname === me.hostname ? '' : ` on host ${holder.hostname}`;
      const inUse = ` is in use by another qa-ft run: pid ${holder.pid}${where} (${holder.command}, started ${holder.startedAt})`;
      throw new OptionError('BAD_ARGUMENT', [...what, inUse], {
        hint: [
          holder.hostname === me.hostname
            ? 'wait for it to finish, or use another directory'
            : `wait for it to finish; if it is gone, remove ${path}`,
        ],
      });
    }
    if (await removeIfUnchanged(path, text)) {
      const was =
        holder === undefined
          ? 'unreadable'
          : `pid ${holder.pid}, ${holder.command}, started ${holder.startedAt}, is no longer running`;
      options.onNotice?.(`Took over the stale lock ${path} (${was})`);
    }
  }
}

/** Creates the lock file holding `content`; false when it exists. A failed write leaves no empty lock behind. */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const context = { path, operation: 'write', bytes: Buffer.byteLength(content) } as const;
  let fh;
  try {
    fh = await open(path, 'wx');
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw fileSystemError(e, context);
  }
  try {
    await fh.writeFile(content);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw fileSystemError(e, context);
  }
  await fh.close();
  return true;
}

/**
 * Removes the stale lock at `path` if it still holds `text`. It is moved aside first and checked there: two
 * processes taking over the same stale lock could otherwise each remove it, the later one removing the lock the
 * earlier one has just made. A lock moved aside by mistake (made meanwhile) is linked back.
 */
async function removeIfUnchanged(path: string, text: string): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${Date.now().toString(36)}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false; // someone else took it over
    throw e;
  }
  try {
    if ((await readFile(aside, 'utf8')) === text) return true;
    await link(aside, path).catch(() => undefined); // a fresh lock: put it back (unless yet another was made)
    return false;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

function heldLock(path: string, content: string): DirLock {
  let held = true;
  // a process that ends without reaching `release` (process.exit) still removes its lock
  const onExit = (): void => {
    try {
      if (readFileSync(path, 'utf8') === content) unlinkSync(path);
    } catch {
      // gone already
    }
  };
  process.on('exit', onExit);
  return {
    path,
    async release() {
      if (!held) return;
      held = false;
      process.off('exit', onExit);
      try {
        if ((await readFile(path, 'utf8')) === content) await unlink(path);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    },
  };
}
