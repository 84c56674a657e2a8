/**
 * A small tmpfs for tests of a full or read-only disk (real ENOSPC / EROFS from the kernel). Mounting needs root
 * (or CAP_SYS_ADMIN); where it is refused, `mountTmpfs` returns the reason and the test skips itself.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  readonly dir: string;
  /** `mount -o remount,ro`: every write from then on fails with EROFS. */
  readOnly(): Promise<void>;
  /** Unmounts and removes the mount point. */
  cleanup(): Promise<void>;
}

/** A tmpfs of `size` (mount's syntax: `64k`, `1m`) at a fresh directory, or why it could not be mounted. */
export async function mountTmpfs(size: string): Promise<Tmpfs | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'qa-ft-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]})` };
  }
  return {
    dir,
    readOnly: async () => {
      await run('mount', ['-o', 'remount,ro', dir]);
    },
    cleanup: async () => {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
