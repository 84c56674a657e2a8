/**
 * Downloading one repo file into the cache, as huggingface_hub's `hf_hub_download` does: HEAD for the commit
 * and ETag; reuse `blobs/{etag}` when it is there (whoever downloaded it); else GET into
 * `blobs/{etag}.incomplete`, resuming with a Range request (also across runs) after a dropped connection or a
 * body that stalled for HF_HUB_DOWNLOAD_TIMEOUT (./http.ts aborts it), check the bytes against the ETag (sha256
 * for LFS files, git blob sha1 otherwise), rename to the blob, and point `snapshots/{commit}/{file}` at it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { firstLine, QaFtError } from '../errors.js';
import { isDiskFull, systemErrorCode } from '../util/fs-errors.js';
import { cacheHint, type RepoCache } from './cache.js';
import { getFollowing, headFile, hubError, networkError, type FileMetadata, type RequestContext } from './http.js';
import { describeRepo, resolveUrl } from './repo.js';

/** Download progress of one file. */
export interface DownloadProgress {
  /** `org/name` of the repo. */
  repo: string;
  /** Path of the file in the repo. */
  file: string;
  /** Bytes on disk so far (a resumed download starts above 0). */
  done: number;
  /** Bytes in all, 0 when the hub did not say. */
  total: number;
  /** Average speed of this download session. */
  bytesPerSecond: number;
}

export type ProgressCallback = (event: DownloadProgress) => void;

/** A request for one file of a repo. */
type FileContext = RequestContext & { file: string };

const MAX_ATTEMPTS = 5;
const PROGRESS_EVERY_MS = 100;

interface FetchedFile {
  readonly commit: string;
  readonly etag: string;
  /** False when the blob was already in the cache. */
  readonly downloaded: boolean;
}

/** Makes `snapshots/{commit}/{file}` exist for `file` at `revision`; returns the commit it resolved to. */
export async function fetchFile(
  ctx: FileContext,
  cache: RepoCache,
  onProgress?: ProgressCallback,
): Promise<FetchedFile> {
  const meta = await headFile(ctx, resolveUrl(ctx.settings.endpoint, ctx.ref, ctx.revision, ctx.file));
  let downloaded = false;
  if (!(await cache.hasBlob(meta.etag))) {
    await downloadBlob(ctx, cache, meta, onProgress);
    downloaded = true;
  }
  await cache.linkPointer(meta.commit, ctx.file, meta.etag);
  return { commit: meta.commit, etag: meta.etag, downloaded };
}

/** Fills `blobs/{etag}.incomplete` from the hub (resuming what is there), checks it, and renames it to the blob. */
async function downloadBlob(
  ctx: FileContext,
  cache: RepoCache,
  meta: FileMetadata,
  onProgress?: ProgressCallback,
): Promise<void> {
  const incomplete = cache.incompletePath(meta.etag);
  await mkdir(dirname(incomplete), { recursive: true }).catch((e: unknown) => {
    throw diskError(ctx, incomplete, e);
  });
  const progress = progressReporter(ctx, meta.size ?? 0, onProgress);
  let failures = 0;
  for (;;) {
    let have = await cache.incompleteSize(meta.etag);
    if (meta.size !== undefined && have > meta.size) {
      await rm(incomplete, { force: true }); // longer than the file: not ours to resume
      have = 0;
    }
    if (meta.size !== undefined && have === meta.size) break; // an earlier run got every byte
    await checkFreeSpace(ctx, incomplete, (meta.size ?? 0) - have);
    const answer = await requestFrom(ctx, meta, have);
    if ('restart' in answer) {
      await rm(incomplete, { force: true });
      if (++failures >= MAX_ATTEMPTS) throw answer.restart;
      continue;
    }
    progress.report(answer.offset, true);
    const { offset, dropped } = await appendBody(ctx, answer.body, incomplete, answer.offset, progress);
    if (dropped === undefined && (meta.size === undefined || offset >= meta.size)) {
      progress.report(offset, true);
      break;
    }
    if (++failures >= MAX_ATTEMPTS) {
      throw networkError(
        ctx,
        dropped ?? new Error(`connection closed after ${offset} of ${meta.size} bytes`),
        failures,
      );
    }
    await new Promise((r) => setTimeout(r, 100 * failures));
  }
  await keepIfIntact(ctx, cache, meta, incomplete);
}

/** Progress events of one download, at most every PROGRESS_EVERY_MS unless forced; speed over this session's bytes. */
function progressReporter(ctx: FileContext, total: number, onProgress?: ProgressCallback) {
  const startedAt = Date.now();
  let sessionBytes = 0;
  let lastReport = 0;
  return {
    received(bytes: number): void {
      sessionBytes += bytes;
    },
    report(done: number, force: boolean): void {
      const now = Date.now();
      if (!onProgress || (!force && now - lastReport < PROGRESS_EVERY_MS)) return;
      lastReport = now;
      const secs = Math.max((now - startedAt) / 1000, 1e-3);
      onProgress({ repo: ctx.ref.id, file: ctx.file, done, total, bytesPerSecond: sessionBytes / secs });
    },
  };
}

/**
 * GET the file from byte `have` on. The body and the offset it starts at (0 when the server sent the whole
 * file), or `restart` (the error to give up with) when the partial file cannot be continued.
 */
async function requestFrom(
  ctx: FileContext,
  meta: FileMetadata,
  have: number,
): Promise<{ body: ReadableStream<Uint8Array>; offset: number } | { restart: QaFtError }> {
  const res = await getFollowing(ctx, meta.location, have > 0 ? { range: `bytes=${have}-` } : {});
  if (res.status === 416) {
    await res.body?.cancel(); // the server cannot serve from that offset: start over
    return { restart: hubError(ctx, res, meta.location) };
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw hubError(ctx, res, meta.location);
  }
  if (res.status !== 206) return { body: res.body, offset: 0 };
  const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
  if (start === undefined || Number(start) !== have) {
    await res.body.cancel();
    return { restart: networkError(ctx, new Error(`bad Content-Range from ${meta.location}`)) };
  }
  return { body: res.body, offset: have };
}

/**
 * Appends `body` to the partial file from `offset`. A broken connection is not an error here (`dropped`: the
 * caller resumes from what is on disk); a failed write is (the partial file is removed to give the space back).
 */
async function appendBody(
  ctx: FileContext,
  body: ReadableStream<Uint8Array>,
  incomplete: string,
  offset: number,
  progress: ReturnType<typeof progressReporter>,
): Promise<{ offset: number; dropped?: unknown }> {
  const handle = await open(incomplete, offset > 0 ? 'a' : 'w').catch((e: unknown) => {
    throw diskError(ctx, incomplete, e);
  });
  let dropped: unknown;
  try {
    for await (const chunk of body) {
      try {
        await handle.write(chunk);
      } catch (e) {
        throw diskError(ctx, incomplete, e);
      }
      offset += chunk.byteLength;
      progress.received(chunk.byteLength);
      progress.report(offset, false);
    }
  } catch (e) {
    if (e instanceof QaFtError) {
      await handle.close();
      if (e.code === 'DISK') await rm(incomplete, { force: true });
      throw e;
    }
    dropped = e;
  }
  await handle.close();
  return { offset, dropped };
}

/** Checks the finished download against its ETag and renames it to the blob, or discards it. */
async function keepIfIntact(ctx: FileContext, cache: RepoCache, meta: FileMetadata, incomplete: string): Promise<void> {
  const problem = await checkIntegrity(incomplete, meta);
  if (problem) {
    await rm(incomplete, { force: true });
    throw new QaFtError(
      'INTEGRITY',
      `checksum mismatch for '${ctx.file}' of ${describeRepo(ctx.ref)}: ${problem}; the download was discarded`,
      {
        hint: 'run the command again; if it keeps failing, a proxy or mirror (HF_ENDPOINT) is altering the file',
      },
    );
  }
  try {
    await rename(incomplete, cache.blobPath(meta.etag));
  } catch (e) {
    throw diskError(ctx, incomplete, e);
  }
}

/**
 * Checks a finished download against its ETag: 64 hex digits are the sha256 of an LFS file, 40 are the git
 * blob sha1 (`sha1("blob {size}\0" + bytes)`) of a regular file. Other ETags (some mirrors) cannot be checked.
 * Returns what is wrong, or undefined.
 */
async function checkIntegrity(path: string, meta: Pick<FileMetadata, 'etag' | 'size'>): Promise<string | undefined> {
  const etag = meta.etag.toLowerCase();
  const actualSize = (await stat(path)).size;
  if (meta.size !== undefined && actualSize !== meta.size) return `expected ${meta.size} bytes, got ${actualSize}`;
  let hash;
  if (/^[0-9a-f]{64}$/.test(etag)) hash = createHash('sha256');
  else if (/^[0-9a-f]{40}$/.test(etag)) hash = createHash('sha1').update(`blob ${actualSize}\0`);
  else return undefined;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  return actual === etag ? undefined : `expected ${etag.length === 64 ? 'sha256' : 'git sha1'} ${etag}, got ${actual}`;
}

async function checkFreeSpace(ctx: FileContext, path: string, needed: number): Promise<void> {
  if (needed <= 0) return;
  let free: number;
  try {
    const s = await statfs(dirname(path));
    free = s.bavail * s.bsize;
  } catch {
    return; // cannot tell: find out when writing
  }
  if (free < needed) {
    throw new QaFtError(
      'DISK',
      `not enough disk space for '${ctx.file}' of ${describeRepo(ctx.ref)}: needs ${mib(needed)}, ${mib(free)} free in ${dirname(path)}`,
      {
        hint: 'free some space, or set HF_HUB_CACHE to a disk with room',
      },
    );
  }
}

/**
 * File-system failures while writing the cache; ENOSPC is the disk-full case. Worded for a download (which file
 * of which repo); the errno classification and the hint are the cache's (./cache.ts, util/fs-errors.ts).
 */
export function diskError(ctx: FileContext, path: string, e: unknown): QaFtError {
  if (e instanceof QaFtError) return e;
  const code = systemErrorCode(e);
  if (isDiskFull(code)) {
    return new QaFtError('DISK', `disk full while downloading '${ctx.file}' of ${describeRepo(ctx.ref)} into ${path}`, {
      hint: cacheHint(code),
      cause: e,
    });
  }
  return new QaFtError('DISK', `cannot write the hub cache at ${path} (${code ?? firstLine(e)})`, {
    hint: cacheHint(code),
    cause: e,
  });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
