/**
 * What a command may replace at its output path, decided in one place: nothing of the user's. An existing output
 * is written over only when it is an empty directory or what qa-ft itself writes there (the caller's `isOurs`:
 * a prepared-data directory, a predictions file), and then only with the overwrite option where the command has
 * one; anything else (a user's file or directory, a path of the other kind, a dangling symbolic link, a link
 * loop) is refused with one line naming it. `prepare`, `export` and `evaluate` check their output here before
 * any work starts, and `checkOutputOutside` keeps an output from being, or holding, a directory the command reads.
 * Errors name the option field that gave the path (`outDir`); the commands spell it as their flag (`--out`).
 */
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { field, OptionError, opt, type OptionText } from '../errors.js';
import { isTempName } from './atomic.js';
import { LOCK_FILE } from './dir-lock.js';

export interface OutputSpec {
  /**
   * What named the path, for messages: the option field (`outDir`, which a command spells as its flag), or words
   * for a path derived from it (`the n-best file`).
   */
  readonly option: { readonly field: string } | { readonly words: string };
  /** The command, for messages (`prepare`). */
  readonly command: string;
  /** What the command writes at the path. */
  readonly kind: 'file' | 'directory';
  /** What qa-ft writes there, in words for messages (`a qa-ft prepared-data directory`). */
  readonly owner: string;
  /** Whether the existing file, or non-empty directory, at `path` is one qa-ft wrote there (and may be replaced). */
  readonly isOurs: (path: string) => Promise<boolean>;
  /**
   * Whether the option that allows replacing what qa-ft wrote was given, and the hint naming it; no `overwrite`:
   * what qa-ft wrote is replaced without one.
   */
  readonly overwrite?: { readonly given: boolean; readonly hint: OptionText };
  /** The hint when what is there is not qa-ft's. */
  readonly notOursHint: OptionText;
}

/** What was found: nothing, an empty directory, or an output of qa-ft's that may be replaced. */
export type OutputTarget = 'absent' | 'empty' | 'ours';

/** `path` as the messages name it: the option that gave it, or the words for it, then the path. */
function named(option: OutputSpec['option'], path: string): OptionText {
  return 'field' in option ? opt`${field(option.field)} ${path}` : [`${option.words} ${path}`];
}

/** A one-line BAD_ARGUMENT about `at` (the output as `named` names it). */
function refused(at: OptionText, text: string, hint?: OptionText): OptionError {
  return new OptionError('BAD_ARGUMENT', [...at, text], hint === undefined ? {} : { hint });
}

/** Checks what is at `path` against `spec` (see the top of this file); throws a one-line BAD_ARGUMENT otherwise. */
export async function checkOutputTarget(path: string, spec: OutputSpec): Promise<OutputTarget> {
  const at = named(spec.option, path);
  const info = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw refused(at, ` cannot be checked (${e.code ?? e.message})`);
  });
  if (info === undefined) return 'absent';
  let isDir = info.isDirectory();
  if (info.isSymbolicLink()) {
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP')
        throw refused(at, ' is a symbolic link loop (ELOOP)', opt`remove the link or choose another path`);
      const target = await readlink(path).catch(() => '?');
      throw refused(
        at,
        ` is a symbolic link to ${target}, which does not exist; refusing to replace the link`,
        opt`create the link target first, or choose another path`,
      );
    }
  }
  if (spec.kind === 'directory' && !isDir) {
    throw refused(
      at,
      ` is a file; ${spec.command} writes a directory and does not replace files`,
      'field' in spec.option
        ? opt`choose a new directory path for ${field(spec.option.field)}`
        : opt`choose a new directory path`,
    );
  }
  if (spec.kind === 'file' && isDir) {
    throw refused(
      at,
      ` is a directory; ${spec.command} writes a file there and does not replace directories`,
      opt`name a file path, e.g. DIR/predictions.json`,
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
    throw refused(at, ` ${what}; refusing to replace it`, spec.notOursHint);
  }
  if (spec.overwrite !== undefined && !spec.overwrite.given) {
    throw refused(
      at,
      isDir ? ` exists and is not empty${holds}` : ` already exists: ${spec.owner}`,
      spec.overwrite.hint,
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
 * Refuses an output directory (given by the option field `option`, e.g. `outDir`) that is, or contains, one of the
 * directories the command reads (`sources`: what each is, e.g. `the model directory`, and its path): writing there
 * could replace what is being read.
 */
export async function checkOutputOutside(
  option: string,
  outDir: string,
  sources: ReadonlyArray<readonly [OptionText, string]>,
): Promise<void> {
  const out = await realPathOf(outDir);
  const at = named({ field: option }, outDir);
  for (const [what, dir] of sources) {
    const source = await realPathOf(dir);
    if (!isWithin(source, out)) continue;
    const text = source === out ? [' is ', ...what, ' itself'] : [' contains ', ...what, ` (${dir})`];
    throw new OptionError('BAD_ARGUMENT', [...at, ...text], { hint: opt`choose a new directory outside it` });
  }
}
