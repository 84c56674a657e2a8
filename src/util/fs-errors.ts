/**
 * File-system failures on write paths as one-line user errors: `cannot write /x/model.safetensors: no space left
 * on device (the write needed about 264 MiB)`. The environment causes these (a full disk, a read-only mount, a
 * permission, a file where a directory should be), so they are DISK errors, never "internal error". Every writer
 * (util/atomic.ts, the metrics log, export, the hub cache) maps its errors here; nothing else words them.
 */
import { firstLine, QaFtError } from '../errors.js';

/** What was being done to `path`, as a verb phrase: "cannot ${operation} ${path}". */
export type WriteOperation = 'write' | 'append to' | 'create directory' | 'copy to' | 'rename into place' | 'remove';

export interface FileSystemContext {
  /** The path the user knows (the final one, not a temporary sibling). */
  readonly path: string;
  readonly operation: WriteOperation;
  /** Roughly how many bytes the write needed (reported for a full disk). */
  readonly bytes?: number;
  /** `bytes` is a lower bound (part of a larger write whose total is unknown). */
  readonly bytesAtLeast?: boolean;
  /** Replaces the default hint (e.g. the hub cache's HF_HUB_CACHE). */
  readonly hint?: string;
}

/** Codes meaning the disk (or the user's quota on it) is full: the size needed is worth saying. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/** Whether `errno` means the disk (or the quota) is full. */
export function isDiskFull(errno: string | undefined): boolean {
  return errno !== undefined && FULL.has(errno);
}

/** errno code → what it means here, and what the user can do. */
const MEANINGS: Readonly<Record<string, { readonly words: string; readonly hint: string }>> = {
  ENOSPC: { words: 'no space left on device', hint: 'free some space, or write to another disk' },
  EDQUOT: { words: 'disk quota exceeded (EDQUOT)', hint: 'free some space, or write to another disk' },
  EACCES: {
    words: 'permission denied (EACCES)',
    hint: 'check the permissions of the directory, or write somewhere you may',
  },
  EPERM: {
    words: 'operation not permitted (EPERM)',
    hint: 'check the permissions of the directory, or write somewhere you may',
  },
  EROFS: { words: 'read-only file system (EROFS)', hint: 'write to a directory on a writable file system' },
  EISDIR: { words: 'is a directory (EISDIR)', hint: 'move that directory away, or choose another path' },
  ENOTDIR: {
    words: 'a parent is not a directory (ENOTDIR)',
    hint: 'a file stands where a directory of the path should be; choose another path',
  },
  EMFILE: { words: 'too many open files (EMFILE)', hint: 'raise the open-file limit (ulimit -n) and run again' },
  ENFILE: {
    words: 'too many open files in the system (ENFILE)',
    hint: 'close other programs, or raise the system open-file limit',
  },
  EIO: { words: 'input/output error (EIO)', hint: 'the disk may be failing or disconnected' },
  ENOENT: {
    words: 'a parent directory disappeared (ENOENT)',
    hint: 'something else removed it during the write; run again',
  },
  EEXIST: { words: 'already exists (EEXIST)', hint: 'something else wrote there during the write; run again' },
};

/** A write that failed for a reason of the environment; `path`, `operation` and `errno` for callers that re-word it. */
export class FileSystemError extends QaFtError {
  readonly path: string;
  readonly operation: WriteOperation;
  readonly errno: string;
  readonly bytes?: number;
  readonly bytesAtLeast: boolean;

  constructor(errno: string, context: FileSystemContext, cause?: unknown) {
    const meaning = MEANINGS[errno];
    const words = meaning?.words ?? `${errno}${cause instanceof Error ? `: ${firstLine(cause)}` : ''}`;
    const needed =
      FULL.has(errno) && context.bytes !== undefined && context.bytes > 0
        ? ` (the write needed ${context.bytesAtLeast === true ? 'at least' : 'about'} ${formatBytes(context.bytes)})`
        : '';
    super('DISK', `cannot ${context.operation} ${context.path}: ${words}${needed}`, {
      hint: context.hint ?? meaning?.hint ?? 'check the disk and the permissions of the directory',
      cause,
    });
    this.name = 'FileSystemError';
    this.path = context.path;
    this.operation = context.operation;
    this.errno = errno;
    if (context.bytes !== undefined) this.bytes = context.bytes;
    this.bytesAtLeast = context.bytesAtLeast === true;
  }

  /** The same failure with some of its context replaced (a temporary path → the final one, a larger total). */
  with(context: Partial<FileSystemContext>): FileSystemError {
    const base: FileSystemContext = {
      path: this.path,
      operation: this.operation,
      bytesAtLeast: this.bytesAtLeast,
      hint: this.hint,
    };
    return new FileSystemError(
      this.errno,
      { ...base, ...(this.bytes === undefined ? {} : { bytes: this.bytes }), ...context },
      this.cause,
    );
  }
}

/** The errno code (`ENOSPC`, …) of a system error, or undefined for anything else (a bug keeps its stack). */
export function systemErrorCode(e: unknown): string | undefined {
  if (!(e instanceof Error) || e instanceof QaFtError) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** `e` as a DISK error when it is a system error; a QaFtError or a bug passes through unchanged (rethrow it). */
export function fileSystemError(e: unknown, context: FileSystemContext): unknown {
  const code = systemErrorCode(e);
  return code === undefined ? e : new FileSystemError(code, context, e);
}

/** Runs `write`, turning its system errors into DISK errors with `context`. */
export async function withFileSystemErrors<T>(context: FileSystemContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw fileSystemError(e, context);
  }
}

/** What a syscall was doing, in the words of `WriteOperation`. */
const OPERATIONS: Readonly<Record<string, WriteOperation>> = {
  mkdir: 'create directory',
  rename: 'rename into place',
  copyfile: 'copy to',
};

/**
 * A system error that reached the top without a writer's context (the CLI's last resort), as a DISK error when
 * its code is one the environment causes; undefined otherwise (a bug, which keeps its stack).
 */
export function strayFileSystemError(e: unknown): FileSystemError | undefined {
  const code = systemErrorCode(e);
  if (code === undefined || !(code in MEANINGS) || code === 'ENOENT' || code === 'EEXIST') return undefined;
  const errno = e as NodeJS.ErrnoException & { dest?: string };
  const operation = OPERATIONS[errno.syscall ?? ''] ?? 'write';
  return new FileSystemError(code, { path: errno.dest ?? errno.path ?? 'a file', operation }, e);
}

/** `264 MiB`, `1.5 GiB`, `12 KiB`, `300 bytes`: one decimal below 10, none above. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unit = 'bytes';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value).toString()} ${unit}`;
}
