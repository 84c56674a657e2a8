/**
 * The Python-compatible hub cache (the layout `huggingface_hub.file_download` writes):
 *
 *   {cacheDir}/models--org--name/
 *     blobs/{etag}                      file contents, named by the hub's ETag (sha256 for LFS, git sha1 otherwise)
 *     blobs/{etag}.incomplete           a download in progress (resumed with a Range request)
 *     snapshots/{commit}/{file}         relative symlink to ../../blobs/{etag}
 *     refs/{revision}                   the commit a branch/tag pointed to when last resolved
 *     .no_exist/{commit}/{file}         empty marker: the file does not exist at that commit
 *
 * Files Python downloaded are found here and reused, and Python finds the files qa-ft downloaded.
 */
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { fileSystemError, FileSystemError, isDiskFull, type FileSystemContext } from '../util/fs-errors.js';
import { isCommitHash, repoFolderName, type RepoRef } from './repo.js';
import { isFile } from '../util/is-file.js';

export class RepoCache {
  readonly root: string;

  constructor(cacheDir: string, ref: Pick<RepoRef, 'type' | 'id'>) {
    this.root = join(cacheDir, repoFolderName(ref));
  }

  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  pointerPath(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split('/'));
  }

  private refPath(revision: string): string {
    return join(this.root, 'refs', ...revision.split('/'));
  }

  private noExistPath(commit: string, file: string): string {
    return join(this.root, '.no_exist', commit, ...file.split('/'));
  }

  /** The commit for `revision`: itself when it is a commit hash, else what `refs/{revision}` recorded. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = (await readFile(this.refPath(revision), 'utf8')).trim();
      return commit === '' ? undefined : commit;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return; // huggingface_hub records refs only for branch/tag names
    if ((await this.commitFor(revision)) === commit) return;
    const path = this.refPath(revision);
    await cacheWrite({ path, operation: 'write' }, () => writeFileAtomic(path, commit));
  }

  /** True when the snapshot holds `file` and it resolves to a readable file (a dangling link does not count). */
  async hasFile(commit: string, file: string): Promise<boolean> {
    return isFile(this.pointerPath(commit, file));
  }

  async hasBlob(etag: string): Promise<boolean> {
    return isFile(this.blobPath(etag));
  }

  async isKnownMissing(commit: string, file: string): Promise<boolean> {
    return isFile(this.noExistPath(commit, file));
  }

  async markMissing(commit: string, file: string): Promise<void> {
    const path = this.noExistPath(commit, file);
    await cacheWrite({ path, operation: 'write' }, () => writeFileAtomic(path, ''));
  }

  /** Bytes of an interrupted download of `etag`, or 0. */
  async incompleteSize(etag: string): Promise<number> {
    try {
      return (await stat(this.incompletePath(etag))).size;
    } catch {
      return 0;
    }
  }

  /**
   * Points `snapshots/{commit}/{file}` at `blobs/{etag}` with a relative symlink, as huggingface_hub does; where
   * symlinks are not allowed, the blob is copied instead (huggingface_hub's fallback too).
   */
  async linkPointer(commit: string, file: string, etag: string): Promise<void> {
    const pointer = this.pointerPath(commit, file);
    const blob = this.blobPath(etag);
    await cacheWrite({ path: dirname(pointer), operation: 'create directory' }, () =>
      mkdir(dirname(pointer), { recursive: true }),
    );
    const tmp = `${pointer}.tmp-${process.pid}-${Date.now().toString(36)}`;
    await cacheWrite({ path: pointer, operation: 'write' }, async () => {
      try {
        await symlink(relative(dirname(pointer), blob), tmp);
      } catch {
        await copyFile(blob, tmp);
      }
      try {
        await rename(tmp, pointer);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    });
  }

  /** Commits with a snapshot directory, newest first (by the directory's modification time). */
  async snapshotCommits(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'snapshots'));
    } catch {
      return [];
    }
    const dated: Array<[string, number]> = [];
    for (const name of names) {
      const info = await stat(this.snapshotDir(name)).catch(() => undefined);
      if (info?.isDirectory()) dated.push([name, info.mtimeMs]);
    }
    return dated.sort((a, b) => b[1] - a[1]).map(([name]) => name);
  }

  /** Paths (relative, `/`-separated) of all files in a snapshot; empty when there is none. */
  async listSnapshot(commit: string): Promise<string[]> {
    const base = this.snapshotDir(commit);
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        return;
      }
      for (const name of entries.sort()) {
        const full = join(dir, name);
        const rel = prefix ? `${prefix}/${name}` : name;
        let info;
        try {
          info = await stat(full);
        } catch {
          continue; // dangling link
        }
        if (info.isDirectory()) await walk(full, rel);
        else if (info.isFile()) out.push(rel);
      }
    };
    await walk(base, '');
    return out;
  }
}

/** What to do about a failed write in the cache: it can move (HF_HUB_CACHE / HF_HOME). */
export function cacheHint(errno: string | undefined): string {
  return isDiskFull(errno)
    ? 'free some space, or set HF_HUB_CACHE to a disk with room'
    : 'check permissions, or set HF_HUB_CACHE / HF_HOME to a writable directory';
}

/**
 * Runs a write into the cache; a file-system failure becomes a DISK error naming `context.path`, with the cache's hint.
 */
async function cacheWrite<T>(context: FileSystemContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (e instanceof FileSystemError) throw e.with({ hint: cacheHint(e.errno) });
    const mapped = fileSystemError(e, context);
    throw mapped instanceof FileSystemError ? mapped.with({ hint: cacheHint(mapped.errno) }) : mapped;
  }
}
