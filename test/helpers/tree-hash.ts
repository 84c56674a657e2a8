/**
 * Every entry under a directory with a fingerprint (a file's sha256, a link's target, `dir` for a directory), for
 * tests that a command left the user's files byte for byte as they were. Links are recorded, not followed.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export async function treeHashes(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const path = join(dir, rel);
    const info = await lstat(path);
    if (info.isSymbolicLink()) out[rel] = `link -> ${await readlink(path)}`;
    else if (info.isDirectory()) Object.assign(out, { [rel]: 'dir' }, await treeHashes(dir, rel));
    else
      out[rel] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return out;
}
