/**
 * HTTP with the hub: requests with the bearer token, redirect handling, the file metadata a HEAD request
 * returns (commit, ETag, size, where to download from), and hub answers turned into one-line QaFtErrors.
 * Node's built-in fetch is enough; redirects are followed by hand so headers can be read along the way and
 * the token is not sent to another origin (a CDN).
 *
 * Timeouts, with huggingface_hub's variables: a HEAD must answer within HF_HUB_ETAG_TIMEOUT seconds, a GET within
 * HF_HUB_DOWNLOAD_TIMEOUT, and its body may then not stall for longer than that between two chunks (a stalled
 * body errors like a dropped connection, so downloads resume). HEAD and GET are retried with backoff after a
 * refused or reset connection or a 5xx/429 answer (3 attempts), and once after a timeout, so a hub that accepts
 * connections and never answers fails in about twice the timeout (≈ 20 s by default) instead of undici's 300 s.
 */
import { field, opt, OptionError, QaFtError } from '../errors.js';
import type { HubSettings } from './env.js';
import { describeRepo, type RepoRef } from './repo.js';

const MAX_REDIRECTS = 10;
const USER_AGENT = 'qa-ft/0.1.0; hf_hub-compatible';
/** Waits before the 2nd and 3rd attempt of an idempotent request. */
const RETRY_DELAYS_MS = [500, 1000] as const;
/** Attempts in all when the hub stays silent: each costs a whole timeout. */
const MAX_TIMEOUT_ATTEMPTS = 2;
/** setTimeout's limit (about 24.8 days); longer delays would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a HEAD on `resolve/{revision}/{file}` says about a file. */
export interface FileMetadata {
  /** `X-Repo-Commit`: the commit the revision resolved to. */
  readonly commit: string;
  /** `X-Linked-Etag` (sha256, LFS files) or `ETag` (git blob sha1), without quotes or `W/`. */
  readonly etag: string;
  /** Bytes, when the hub said (`X-Linked-Size` / `Content-Length`). */
  readonly size?: number;
  /** The URL to GET: the resolve URL itself, or the (CDN) location it redirects to. */
  readonly location: string;
}

/** What is being fetched, for messages. */
export interface RequestContext {
  readonly settings: HubSettings;
  readonly ref: Pick<RepoRef, 'type' | 'id'>;
  readonly revision: string;
  /** The file in the repo, when the request is for one. */
  readonly file?: string;
}

export function normalizeEtag(raw: string | null): string | undefined {
  if (!raw) return undefined;
  return raw.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** Headers for a request to `url`; the token only goes to the hub endpoint's origin. */
function requestHeaders(
  settings: HubSettings,
  url: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  if (settings.token && sameOrigin(url, settings.endpoint)) headers.authorization = `Bearer ${settings.token}`;
  return headers;
}

/** The hub did not send headers (or the next body chunk) in time: the reason a request is aborted with. */
class HubTimeout extends Error {
  constructor(
    readonly seconds: number,
    /** `headers`: no answer at all; `body`: the body stopped between two chunks. */
    readonly phase: 'headers' | 'body',
    readonly method: string,
    readonly url: string,
  ) {
    super(`${method} ${url}: no ${phase === 'headers' ? 'answer' : 'data'} within ${seconds} s`);
    this.name = 'HubTimeout';
  }
}

/**
 * One request, no redirects followed, with the timeout of its kind (HEAD: etag, else download) and retries for
 * HEAD/GET (see the top of the file). The last answer is returned even when it is a 5xx/429, for `hubError` to
 * word; failures to get any answer become NETWORK errors naming the host.
 */
async function send(
  ctx: RequestContext,
  url: string,
  init: { method: string; headers?: Record<string, string> },
): Promise<Response> {
  const idempotent = init.method === 'HEAD' || init.method === 'GET';
  const seconds = init.method === 'HEAD' ? ctx.settings.timeoutSeconds.etag : ctx.settings.timeoutSeconds.download;
  let timeouts = 0;
  for (let attempt = 1; ; attempt++) {
    const mayRetry = idempotent && attempt <= RETRY_DELAYS_MS.length;
    try {
      const res = await sendOnce(ctx, url, init, seconds);
      if (!mayRetry || !isRetryableStatus(res.status)) return res;
      await res.body?.cancel();
    } catch (e) {
      if (e instanceof HubTimeout) timeouts++;
      if (!mayRetry || !isTransient(e) || timeouts >= MAX_TIMEOUT_ATTEMPTS) throw networkError(ctx, e, attempt);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt - 1]));
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** No answer in time, or a connection that failed (refused, reset, DNS): fetch's TypeError with a system cause. */
function isTransient(e: unknown): boolean {
  return e instanceof HubTimeout || (e instanceof TypeError && e.cause !== undefined);
}

/** fetch with a deadline for the headers; the body is watched for stalls (`watchBody`). */
async function sendOnce(
  ctx: RequestContext,
  url: string,
  init: { method: string; headers?: Record<string, string> },
  seconds: number,
): Promise<Response> {
  const controller = new AbortController();
  const ms = Math.min(seconds * 1000, MAX_TIMER_MS);
  const expire = (phase: HubTimeout['phase']): void =>
    controller.abort(new HubTimeout(seconds, phase, init.method, url));
  const timer = setTimeout(() => expire('headers'), ms);
  timer.unref(); // cleared below in any case; never the reason the process stays up
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: requestHeaders(ctx.settings, url, init.headers),
      redirect: 'manual',
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timer);
  }
  if (res.body === null || NULL_BODY_STATUSES.has(res.status)) return res;
  return new Response(
    watchBody(res.body, ms, () => expire('body')),
    { status: res.status, statusText: res.statusText, headers: res.headers },
  );
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * `source` re-streamed, calling `onStall` when a read waits longer than `ms` for the next chunk (the caller then
 * aborts the request, which errors the read). The clock only runs while the reader is waiting for the network,
 * not while the consumer is busy writing to disk.
 */
function watchBody(source: ReadableStream<Uint8Array>, ms: number, onStall: () => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(out) {
        const timer = setTimeout(onStall, ms);
        timer.unref();
        try {
          const { done, value } = await reader.read();
          if (done) out.close();
          else out.enqueue(value);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A failed request as one line naming the host; `attempts` is how many were made. */
export function networkError(ctx: RequestContext, e: unknown, attempts = 1): QaFtError {
  const tries = attempts > 1 ? `; ${attempts} attempts` : '';
  if (e instanceof HubTimeout) {
    const host = new URL(e.url).origin;
    const variable = e.method === 'HEAD' ? 'HF_HUB_ETAG_TIMEOUT' : 'HF_HUB_DOWNLOAD_TIMEOUT';
    const what = e.phase === 'headers' ? `did not answer within ${e.seconds} s` : `stopped sending for ${e.seconds} s`;
    return new OptionError(
      'NETWORK',
      opt`the Hugging Face hub at ${host} ${what} (${e.method} ${e.url}${tries}) for ${describeRepo(ctx.ref)}`,
      {
        hint: opt`for a slow link set ${variable} to more seconds; otherwise check HF_ENDPOINT, or use ${field('offline')} (HF_HUB_OFFLINE=1) or a local path`,
        cause: e,
      },
    );
  }
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const why = typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
  return new OptionError(
    'NETWORK',
    opt`cannot reach the Hugging Face hub at ${ctx.settings.endpoint} (${why}${tries}) for ${describeRepo(ctx.ref)}`,
    {
      hint: opt`check the connection or HF_ENDPOINT; use ${field('offline')} (HF_HUB_OFFLINE=1) to work from the cache, or pass a local path`,
      cause: e,
    },
  );
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** A relative `Location` (no scheme/host) stays on the hub; huggingface_hub follows only those on HEAD. */
function isRelativeLocation(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith('//');
}

/**
 * HEAD `url` the way huggingface_hub does: follow relative redirects (renamed repos, same-host CDN paths),
 * stop at an absolute one (the CDN) and download from its location; `X-Repo-Commit`, `X-Linked-Etag` and
 * `X-Linked-Size` are taken from the first response in the chain that carries them.
 */
export async function headFile(ctx: RequestContext, url: string): Promise<FileMetadata> {
  let current = url;
  let commit: string | undefined;
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send(ctx, current, { method: 'HEAD' });
    commit ??= res.headers.get('x-repo-commit') ?? undefined;
    linkedEtag ??= normalizeEtag(res.headers.get('x-linked-etag'));
    linkedSize ??= parseSize(res.headers.get('x-linked-size'));
    if (isRedirect(res.status)) {
      const location = res.headers.get('location');
      if (!location) throw hubError(ctx, res, current);
      const next = new URL(location, current).href;
      if (isRelativeLocation(location)) {
        current = next;
        continue;
      }
      return finishMetadata(ctx, current, { commit, etag: linkedEtag, size: linkedSize, location: next });
    }
    if (!res.ok) throw hubError(ctx, res, current);
    return finishMetadata(ctx, current, {
      commit,
      etag: linkedEtag ?? normalizeEtag(res.headers.get('etag')),
      size: linkedSize ?? parseSize(res.headers.get('content-length')),
      location: current,
    });
  }
  throw new QaFtError('NETWORK', `too many redirects from ${url}`, { hint: 'check HF_ENDPOINT' });
}

function finishMetadata(
  ctx: RequestContext,
  url: string,
  m: { commit?: string; etag?: string; size?: number; location: string },
): FileMetadata {
  if (!m.commit || !m.etag) {
    throw new QaFtError(
      'NETWORK',
      `${url} answered without ${m.commit ? 'an ETag' : 'X-Repo-Commit'}: is ${ctx.settings.endpoint} a Hugging Face hub?`,
      {
        hint: 'check HF_ENDPOINT and any proxy in between',
      },
    );
  }
  return { commit: m.commit, etag: m.etag, size: m.size, location: m.location };
}

function parseSize(raw: string | null): number | undefined {
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

/** GET `url`, following every redirect (dropping the token when leaving the hub's origin). */
export async function getFollowing(
  ctx: RequestContext,
  url: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send(ctx, current, { method: 'GET', headers });
    if (!isRedirect(res.status)) return res;
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (!location) throw hubError(ctx, res, current);
    current = new URL(location, current).href;
  }
  throw new QaFtError('NETWORK', `too many redirects from ${url}`, { hint: 'check HF_ENDPOINT' });
}

/** Whether the hub said the *file* (not the repo or revision) does not exist. */
export function isEntryNotFound(e: unknown): boolean {
  return e instanceof QaFtError && e.code === 'NOT_FOUND_ON_HUB' && (e as HubError).hubCode === 'EntryNotFound';
}

/** A hub answer as a user error; its hints may name options (`revision`, `offline`) by field. */
export class HubError extends OptionError {
  /** The hub's `X-Error-Code` (RepoNotFound, EntryNotFound, RevisionNotFound, GatedRepo…), if any. */
  hubCode?: string;
  /** `X-Repo-Commit` of an error answer (a missing file's 404 still names the commit). */
  commit?: string;
}

/** An error answer from the hub as a one-line error; the hub's `X-Error-Code` picks the wording. */
export function hubError(ctx: RequestContext, res: Response, url: string): HubError {
  const hubCode = res.headers.get('x-error-code') ?? undefined;
  const repo = describeRepo(ctx.ref);
  const what = ctx.file ? `'${ctx.file}' of ${repo}` : repo;
  const repoPage = `${ctx.settings.endpoint}/${ctx.ref.type === 'dataset' ? 'datasets/' : ''}${ctx.ref.id}`;
  let err: HubError;
  if (hubCode === 'GatedRepo' || ((res.status === 401 || res.status === 403) && hubCode !== 'RepoNotFound')) {
    err = ctx.settings.token
      ? new HubError(
          'UNAUTHORIZED',
          opt`access to ${repo} was refused (${res.status}): the repo is gated or private and HF_TOKEN has no access`,
          {
            hint: opt`request access at ${repoPage}, or use a token that has it`,
          },
        )
      : new HubError('UNAUTHORIZED', opt`${repo} is gated or private (${res.status}) and no token is set`, {
          hint: opt`set HF_TOKEN to a token with access (request access at ${repoPage})`,
        });
  } else if (hubCode === 'RepoNotFound' || (res.status === 401 && !ctx.file)) {
    err = new HubError('NOT_FOUND_ON_HUB', opt`${repo} was not found on ${ctx.settings.endpoint} (${res.status})`, {
      hint: opt`check the id (org/name)${ctx.settings.token ? '' : '; private repos need HF_TOKEN'}, or pass a local path`,
    });
  } else if (hubCode === 'RevisionNotFound') {
    err = new HubError('NOT_FOUND_ON_HUB', opt`revision '${ctx.revision}' of ${repo} was not found (${res.status})`, {
      hint: opt`check the branch, tag or commit given with @ or ${field('revision')}`,
    });
  } else if (res.status === 404) {
    err = new HubError('NOT_FOUND_ON_HUB', opt`${what} was not found at revision '${ctx.revision}' (404 from ${url})`, {
      hint: opt`check the repo id and revision, or pass a local path`,
    });
  } else if (res.status === 429) {
    err = new HubError(
      'NETWORK',
      opt`the hub at ${ctx.settings.endpoint} is rate-limiting requests for ${what} (429)`,
      {
        hint: opt`wait a minute and retry, or set HF_TOKEN`,
      },
    );
  } else {
    err = new HubError('NETWORK', opt`the hub at ${ctx.settings.endpoint} answered ${res.status} for ${what}`, {
      hint: opt`retry later, or use ${field('offline')} / a local path`,
    });
  }
  err.hubCode = hubCode ?? (res.status === 404 && ctx.file ? 'EntryNotFound' : undefined);
  err.commit = res.headers.get('x-repo-commit') ?? undefined;
  return err;
}
