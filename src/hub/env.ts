/**
 * Hub settings read from the environment, with the same variables and defaults as Python's `huggingface_hub`,
 * so qa-ft and Python share one cache and one token:
 *   HF_ENDPOINT (https://huggingface.co), HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > $HF_HOME/hub,
 *   HF_HOME (${XDG_CACHE_HOME:-~/.cache}/huggingface), HF_TOKEN > HUGGING_FACE_HUB_TOKEN > $HF_HOME/token,
 *   HF_HUB_OFFLINE (1/true/yes/on),
 *   HF_HUB_ETAG_TIMEOUT (10 s: waiting for a HEAD / metadata answer),
 *   HF_HUB_DOWNLOAD_TIMEOUT (10 s: waiting for a download's answer, and between two chunks of its body).
 * Read at call time (not at import), so a caller or test may change the environment between calls.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';

/** Seconds to wait for the hub before a request counts as failed (then retried, see ./http.ts). */
export interface HubTimeouts {
  /** HF_HUB_ETAG_TIMEOUT: HEAD requests (file metadata), until the response headers arrive. */
  readonly etag: number;
  /** HF_HUB_DOWNLOAD_TIMEOUT: GET requests, until the headers arrive and then between two chunks of the body. */
  readonly download: number;
}

/** huggingface_hub's defaults (constants.DEFAULT_ETAG_TIMEOUT / DEFAULT_DOWNLOAD_TIMEOUT). */
const DEFAULT_TIMEOUT_SECONDS = 10;

export interface HubSettings {
  /** Without a trailing slash, e.g. `https://huggingface.co`. */
  readonly endpoint: string;
  /** The hub cache root holding `models--org--name/` and `datasets--org--name/`. */
  readonly cacheDir: string;
  readonly token?: string;
  readonly offline: boolean;
  readonly timeoutSeconds: HubTimeouts;
}

/** Explicit settings override the environment (library callers, tests). */
export interface HubOverrides {
  endpoint?: string;
  cacheDir?: string;
  token?: string;
  offline?: boolean;
  timeoutSeconds?: Partial<HubTimeouts>;
}

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return expandHome(home);
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  return join(xdg ? expandHome(xdg) : join(homedir(), '.cache'), 'huggingface');
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toLowerCase());
}

function readTokenFile(env: NodeJS.ProcessEnv): string | undefined {
  const path = nonEmpty(env.HF_TOKEN_PATH) ?? join(hfHome(env), 'token');
  try {
    return nonEmpty(readFileSync(expandHome(path), 'utf8'));
  } catch {
    return undefined; // no token file: anonymous access, as in huggingface_hub
  }
}

export function hubSettings(overrides: HubOverrides = {}, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (overrides.endpoint ?? nonEmpty(env.HF_ENDPOINT) ?? 'https://huggingface.co').replace(/\/+$/, '');
  const cacheDir =
    overrides.cacheDir ?? nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE) ?? join(hfHome(env), 'hub');
  const token = overrides.token ?? nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN) ?? readTokenFile(env);
  const offline = overrides.offline === true || isTruthy(env.HF_HUB_OFFLINE);
  const timeoutSeconds = {
    etag: checkTimeout('HF_HUB_ETAG_TIMEOUT', overrides.timeoutSeconds?.etag ?? nonEmpty(env.HF_HUB_ETAG_TIMEOUT)),
    download: checkTimeout(
      'HF_HUB_DOWNLOAD_TIMEOUT',
      overrides.timeoutSeconds?.download ?? nonEmpty(env.HF_HUB_DOWNLOAD_TIMEOUT),
    ),
  };
  return { endpoint, cacheDir: expandHome(cacheDir), token, offline, timeoutSeconds };
}

/** A timeout in seconds (decimals allowed), the default when unset; anything else than a number > 0 is refused. */
function checkTimeout(name: string, value: string | number | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_SECONDS;
  const seconds = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new QaFtError('BAD_ARGUMENT', `${name}=${JSON.stringify(String(value))} is not a number of seconds > 0`, {
      hint: `set it to e.g. 30, or unset it for the default of ${DEFAULT_TIMEOUT_SECONDS} s`,
    });
  }
  return seconds;
}
