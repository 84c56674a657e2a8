/**
 * A hub model repo → a local snapshot directory with what qa-ft reads: `config.json`, the safetensors weights
 * (`model.safetensors`, or `model.safetensors.index.json` + its shards) and the tokenizer files.
 *
 * Order of business: a complete snapshot for the revision already in the cache is used without any request;
 * offline, the cache is all there is (missing files are named); otherwise the files are fetched at one commit
 * (the first HEAD pins it), optional files that 404 are recorded in `.no_exist` as huggingface_hub does.
 */
import { readFile } from 'node:fs/promises';
import { field, firstLine, opt, OptionError, QaFtError } from '../errors.js';
import { RepoCache } from './cache.js';
import { fetchFile, type ProgressCallback } from './download.js';
import type { HubSettings } from './env.js';
import { type HubError, isEntryNotFound } from './http.js';
import { describeRepo, isCommitHash, type RepoRef } from './repo.js';
import {
  CONFIG_FILE as CONFIG,
  DOWNLOADED_TOKENIZER_FILES,
  makesTokenizer,
  TOKENIZER_NEEDS,
  WEIGHTS_FILE as WEIGHTS,
} from '../hf-files.js';

/** `all`: weights, config and tokenizer; `tokenizer`: only what a tokenizer needs (no weights download). */
export type ModelFiles = 'all' | 'tokenizer';

const WEIGHTS_INDEX = 'model.safetensors.index.json';

type FileState = 'present' | 'absent' | 'unknown';

/** How files are looked up: in the cache only, or fetched from the hub. */
interface Source {
  state(file: string): Promise<FileState>;
  /** The snapshot directory (valid once a file is present). */
  dir(): string;
}

interface Walk {
  /** Files that are needed and not there (or nowhere). */
  unmet: string[];
  /** Optional files whose existence is not known from the cache. */
  unknown: string[];
}

export async function resolveModelRepo(
  ref: RepoRef,
  settings: HubSettings,
  options: { files?: ModelFiles; onProgress?: ProgressCallback } = {},
): Promise<string> {
  const mode = options.files ?? 'all';
  const cache = new RepoCache(settings.cacheDir, ref);
  const cachedCommit = await cache.commitFor(ref.revision);
  let usable = false; // every needed file is cached; only optional ones are of unknown existence

  if (cachedCommit) {
    const cached = await walk(mode, cacheSource(cache, cachedCommit));
    usable = cached.unmet.length === 0;
    if (usable && (settings.offline || cached.unknown.length === 0)) return cache.snapshotDir(cachedCommit);
    if (settings.offline) throw offlineMiss(ref, cache, cached.unmet);
  } else if (settings.offline) {
    throw offlineMiss(ref, cache, []);
  }

  try {
    return await fetchModel(ref, settings, cache, mode, options.onProgress);
  } catch (e) {
    // the hub is unreachable but the cache has all that is needed: use it, as huggingface_hub does
    if (usable && cachedCommit && e instanceof QaFtError && e.code === 'NETWORK')
      return cache.snapshotDir(cachedCommit);
    throw e;
  }
}

async function fetchModel(
  ref: RepoRef,
  settings: HubSettings,
  cache: RepoCache,
  mode: ModelFiles,
  onProgress?: ProgressCallback,
): Promise<string> {
  let commit = isCommitHash(ref.revision) ? ref.revision : undefined;
  const source: Source = {
    dir: () => cache.snapshotDir(commit ?? ref.revision),
    async state(file) {
      if (commit && (await cache.hasFile(commit, file))) return 'present';
      if (commit && (await cache.isKnownMissing(commit, file))) return 'absent';
      try {
        const got = await fetchFile({ settings, ref, revision: commit ?? ref.revision, file }, cache, onProgress);
        commit ??= got.commit;
        return 'present';
      } catch (e) {
        if (!isEntryNotFound(e)) throw e;
        commit ??= (e as HubError).commit;
        if (commit) await cache.markMissing(commit, file);
        return 'absent';
      }
    },
  };
  const fetched = await walk(mode, source);
  if (!commit) {
    throw new QaFtError(
      'NOT_FOUND_ON_HUB',
      `${describeRepo(ref)} has none of the files qa-ft reads at revision '${ref.revision}'`,
      {
        hint: 'check the repo id and revision, or pass a local model directory',
      },
    );
  }
  await cache.writeRef(ref.revision, commit);
  if (fetched.unmet.length > 0) throw missingOnHub(ref, mode, fetched.unmet);
  return cache.snapshotDir(commit);
}

function cacheSource(cache: RepoCache, commit: string): Source {
  return {
    dir: () => cache.snapshotDir(commit),
    async state(file) {
      if (await cache.hasFile(commit, file)) return 'present';
      if (await cache.isKnownMissing(commit, file)) return 'absent';
      return 'unknown';
    },
  };
}

/** Visits the files `mode` needs in download order (config first: its HEAD pins the commit; weights last). */
async function walk(mode: ModelFiles, source: Source): Promise<Walk> {
  const result: Walk = { unmet: [], unknown: [] };
  const check = async (file: string, optional: boolean): Promise<FileState> => {
    const state = await source.state(file);
    if (state === 'unknown') (optional ? result.unknown : result.unmet).push(file);
    else if (state === 'absent' && !optional) result.unmet.push(file);
    return state;
  };
  await check(CONFIG, mode === 'tokenizer');
  const tok = new Map<string, FileState>();
  for (const file of DOWNLOADED_TOKENIZER_FILES) {
    // BPE's vocab.json + merges.txt only stand in for a missing tokenizer.json and vocab.txt: not asked for otherwise
    const fallback = file === 'vocab.json' || file === 'merges.txt';
    if (fallback && (tok.get('tokenizer.json') !== 'absent' || tok.get('vocab.txt') !== 'absent')) continue;
    tok.set(file, await check(file, true));
  }
  if (mode === 'tokenizer') {
    if (!makesTokenizer((f) => tok.get(f) !== 'absent')) result.unmet.push(TOKENIZER_NEEDS);
    return result;
  }
  const single = await source.state(WEIGHTS);
  if (single === 'present') return result;
  const index = await source.state(WEIGHTS_INDEX);
  if (index !== 'present') {
    result.unmet.push(single === 'absent' && index === 'absent' ? `${WEIGHTS} (or ${WEIGHTS_INDEX})` : WEIGHTS);
    return result;
  }
  for (const shard of await readShardNames(source.dir())) await check(shard, false);
  return result;
}

/** The shard files named by `model.safetensors.index.json`'s `weight_map`. */
async function readShardNames(snapshotDir: string): Promise<string[]> {
  const path = `${snapshotDir}/${WEIGHTS_INDEX}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON (${firstLine(e)})`, {
      hint: 'delete it from the cache and download again',
    });
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new QaFtError('BAD_FORMAT', `${path} has no weight_map object`, {
      hint: 'expected {"weight_map": {"tensor": "shard file"}}',
    });
  }
  const shards = new Set<string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.split('/').includes('..')) {
      throw new QaFtError(
        'BAD_FORMAT',
        `${path}: weight_map['${tensor}'] is not a file in the repo (${JSON.stringify(file)})`,
      );
    }
    shards.add(file);
  }
  if (shards.size === 0) throw new QaFtError('BAD_FORMAT', `${path} has an empty weight_map`);
  return [...shards].sort();
}

function offlineMiss(ref: RepoRef, cache: RepoCache, missing: string[]): QaFtError {
  const what = missing.length > 0 ? `is missing ${missing.join(', ')}` : 'is not there';
  return new OptionError(
    'OFFLINE_MISS',
    opt`offline: ${describeRepo(ref)} at revision '${ref.revision}' ${what} in the cache ${cache.root}`,
    {
      hint: opt`run once without ${field('offline')} / HF_HUB_OFFLINE=1 to download it, or pass a local model directory`,
    },
  );
}

function missingOnHub(ref: RepoRef, mode: ModelFiles, unmet: string[]): QaFtError {
  const weights = unmet.some((f) => f.startsWith(WEIGHTS));
  return new QaFtError(
    'NOT_FOUND_ON_HUB',
    `${describeRepo(ref)} has no ${unmet.join(', ')} at revision '${ref.revision}'`,
    {
      hint: weights
        ? 'qa-ft reads safetensors weights only; pick a revision with model.safetensors or convert the checkpoint'
        : mode === 'tokenizer'
          ? 'use a repo with a tokenizer (e.g. distilbert-base-uncased) or a local directory'
          : 'use a repo with a DistilBERT config.json, or a local model directory',
    },
  );
}
