/**
 * What a command may replace at its output path, decided in one place: nothing of the user's. An existing output
 * is written over only when it is an empty directory or what qa-ft itself writes there (the caller's `isOurs`:
 * a prepared-data directory, a predictions file), and then only with the overwrite flag where the command has
 * one; anything else (a user's file or directory, a path of the other kind, a dangling symbolic link, a link
 * loop) is refused with one line naming it. `prepare`, `export` and `evaluate` check their `--out` here before
 * any work starts, and `outputInside` keeps an output from being, or holding, a directory the command reads.
 */
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { QaFtError } from '../errors.js';
import { isTempName } from './atomic.js';
import { LOCK_FILE } from './dir-lock.js';

export interface OutputSpec {
  /** The option that named the path, for messages (`--out`). */
  readonly flag: string;
  /** The command, for messages (`prepare`). */
  readonly command: string;
  /** What the command writes at the path. */
  readonly kind: 'file' | 'directory';
  /** What qa-ft writes there, in words for messages (`a qa-ft prepared-data directory`). */
  readonly owner: string;
  /** Whether the existing file, or non-empty directory, at `path` is one qa-ft wrote there (and may be replaced). */
  readonly isOurs: (path: string) => Promise<boolean>;
  /** The flag that allows replacing what qa-ft wrote, and whether it was given; no flag: it is replaced without one. */
  readonly overwrite?: { readonly flag: string; readonly given: boolean; readonly hint: string };
  /** The hint when what is there is not qa-ft's. */
  readonly notOursHint: string;
}

/** What was found: nothing, an empty directory, or an output of qa-ft's that may be replaced. */
export type OutputTarget = 'absent' | 'empty' | 'ours';

/** Checks what is at `path` against `spec` (see the top of this file); throws a one-line BAD_ARGUMENT otherwise. */
export async function checkOutputTarget(path: string, spec: OutputSpec): Promise<OutputTarget> {
  const at = `${spec.flag} ${path}`;
  const info = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new QaFtError('BAD_ARGUMENT', `${at} cannot be checked (${e.code ?? e.message})`);
  });
  if (info === undefined) return 'absent';
  let isDir = info.isDirectory();
  if (info.isSymbolicLink()) {
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP')
        throw new QaFtError('BAD_ARGUMENT', `${at} is a symbolic link loop (ELOOP)`, {
          hint: 'remove the link or choose another path',
        });
      const target = await readlink(path).catch(() => '?');
      throw new QaFtError(
        'BAD_ARGUMENT',
        `${at} is a symbolic link to ${target}, which does not exist; refusing to replace the link`,
        {
          hint: 'create the link target first, or choose another path',
        },
      );
    }
  }
  if (spec.kind === 'directory' && !isDir) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `${at} is a file; ${spec.command} writes a directory and does not replace files`,
      { hint: 'choose a new directory path for --out' },
    );
  }
  if (spec.kind === 'file' && isDir) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `${at} is a directory; ${spec.command} writes a file there and does not replace directories`,
      {
        hint: 'name a file path, e.g. DIR/predictions.json',
      },
    );
  }
  let holds = '';
  if (isDir) {
    const entries = (await readdir(path)).filter((name) => !isTempName(name) && name !== LOCK_FILE).sort();
    if (entries.length === 0) return 'empty';
    holds = ` (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? `, … (${entries.length} entries)` : ''})`;
  }
  if (!(await spec.isOurs(path))) {
    const what = isDir ? `is not empty and is not ${spec.owner}${holds}` : `exists and is not ${spec.owner}`;
    throw new QaFtError('BAD_ARGUMENT', `${at} ${what}; refusing to replace it`, { hint: spec.notOursHint });
  }
  if (spec.overwrite !== undefined && !spec.overwrite.given) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      isDir ? `${at} exists and is not empty${holds}` : `${at} already exists: ${spec.owner}`,
      { hint: spec.overwrite.hint },
    );
  }
  return 'ours';
}

/** `path` with its symbolic links resolved, as far as it exists (a new output's missing tail kept as given). */
export async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await realPathOf(parent), basename(absolute));
  }
}

/** Whether `inner` is `outer` or lies under it (both real, absolute paths). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

/**
 * Refuses an output directory that is, or contains, one of the directories the command reads (`sources`: what
 * each is, e.g. `the model directory`, and its path): writing there could replace what is being read.
 */
export async function checkOutputOutside(
  flag: string,
  outDir: string,
  sources: ReadonlyArray<readonly [string, string]>,
): Promise<void> {
  const out = await realPathOf(outDir);
  for (const [what, dir] of sources) {
    const source = await realPathOf(dir);
    if (!isWithin(source, out)) continue;
    throw new QaFtError(
      'BAD_ARGUMENT',
      source === out ? `${flag} ${outDir} is ${what} itself` : `${flag} ${outDir} contains ${what} (${dir})`,
      {
        hint: 'choose a new directory outside it',
      },
    );
  }
}
