/** Whether a path is a regular file: the check the hub cache and the export make before copying or reading one. */
import { stat } from 'node:fs/promises';

/** True when `path` exists and is a regular file (after following links). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
