/**
 * A hub dataset split → local data files, e.g. ('rajpurkar/squad', 'train') →
 * `…/datasets--rajpurkar--squad/snapshots/{commit}/plain_text/train-00000-of-00001.parquet`.
 *
 * The file list comes from the hub API (`/api/datasets/{repo}/revision/{rev}`: commit sha + files, as
 * huggingface_hub's `dataset_info`); split files are picked with the layouts the `datasets` library writes and
 * reads (`{config}/{split}-00000-of-00001.parquet`, `data/{split}-…`, `{config}/{split}/0000.parquet`,
 * `{split}.parquet`; JSON Lines, JSON, CSV and TSV data files by the same names when a repo has no Parquet ones).
 * A repo without data files of the split (a loading script, or files under other names) is read, as `datasets`
 * does, from the Parquet export the hub keeps on its `refs/convert/parquet` branch
 * (`{config}/{split}/0000.parquet`, `{config}/partial-{split}/0000.parquet` for a large split cut short).
 * A split whose shards are all in the cache is used without any request.
 */
import { field, firstLine, opt, OptionError, QaFtError } from '../errors.js';
import { RepoCache } from './cache.js';
import { fetchFile, type ProgressCallback } from './download.js';
import type { HubSettings } from './env.js';
import { getFollowing, hubError, networkError, type RequestContext } from './http.js';
import { describeRepo, infoUrl, type RepoRef } from './repo.js';

/** The branch where the hub keeps its Parquet export of every dataset. */
export const PARQUET_EXPORT_REVISION = 'refs/convert/parquet';

/** Data file extensions a split file may have; Parquet preferred when a repo has several kinds for one split. */
const DATA_EXTENSIONS = ['.parquet', '.jsonl', '.json', '.csv', '.tsv'] as const;

interface SplitFile {
  path: string;
  config: string;
  split: string;
  shard?: { index: number; count: number };
}

/** `train[:5000]` → `train`; split names are word characters, `.` and `-`. */
function baseSplit(split: string): string {
  const base = split.replace(/\[.*\]$/, '').trim();
  if (!/^[\w.-]+$/.test(base)) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `'${split}' is not a split name (expected e.g. train, validation or train[:5000])`,
    );
  }
  return base;
}

/** Reads a repo path as a split file of some config, or undefined when it is not a Parquet split file. */
function parseSplitFile(path: string): SplitFile | undefined {
  const dirs = path.split('/');
  const file = dirs.pop();
  const ext = DATA_EXTENSIONS.find((e) => file?.endsWith(e));
  if (file === undefined || ext === undefined) return undefined;
  const base = file.slice(0, -ext.length);
  let split: string;
  let shard: SplitFile['shard'];
  const [, shardSplit, index, count] = /^([\w.]+?)-(\d{5})-of-(\d{5})(?:-[\w]+)?$/.exec(base) ?? [];
  const parent = dirs.at(-1);
  if (shardSplit !== undefined && index !== undefined && count !== undefined) {
    split = shardSplit;
    shard = { index: Number(index), count: Number(count) };
  } else if (/^\d+$/.test(base) && parent !== undefined) {
    split = parent.replace(/^partial-/, ''); // refs/convert/parquet: {config}/{split}/0000.parquet, {config}/partial-{split}/…
    dirs.pop();
  } else {
    split = base;
  }
  const top = dirs[0];
  const config = top !== undefined && top !== 'data' ? top : 'default';
  return { path, config, split, shard };
}

/**
 * The files of `split`, from one config: the one asked for, the only one, or `default`. `complete` is false
 * when numbered shards (`-00001-of-00003`) are missing.
 */
export function selectSplitFiles(
  paths: readonly string[],
  split: string,
  config?: string,
): { files: string[]; complete: boolean; configs: string[]; splits: string[] } {
  const all = paths.map(parseSplitFile).filter((f): f is SplitFile => f !== undefined);
  // Parquet first (what `datasets` reads when a repo has it beside other files), else the other data files
  const parquet = all.filter((f) => f.path.endsWith('.parquet') && f.split === split);
  const parsed = parquet.length > 0 ? all.filter((f) => f.path.endsWith('.parquet')) : all;
  const splits = [...new Set(parsed.map((f) => f.split))].sort();
  const ofSplit = parsed.filter((f) => f.split === split);
  const configs = [...new Set(ofSplit.map((f) => f.config))].sort();
  const chosen = config ?? (configs.length === 1 ? configs[0] : configs.includes('default') ? 'default' : undefined);
  const files = ofSplit.filter((f) => f.config === chosen).sort((a, b) => (a.path < b.path ? -1 : 1));
  let complete = files.length > 0;
  const count = files.find((f) => f.shard)?.shard?.count;
  if (count !== undefined) {
    const have = new Set(files.map((f) => f.shard?.index));
    for (let i = 0; i < count; i++) if (!have.has(i)) complete = false;
  }
  return { files: files.map((f) => f.path), complete, configs, splits };
}

export async function resolveDatasetRepo(
  ref: RepoRef,
  splitSpec: string,
  settings: HubSettings,
  options: { config?: string; onProgress?: ProgressCallback } = {},
): Promise<string[]> {
  const split = baseSplit(splitSpec);
  const cache = new RepoCache(settings.cacheDir, ref);
  // the revision asked for, then (for the default branch) the hub's Parquet export of it
  const revisions = ref.revision === 'main' ? [ref.revision, PARQUET_EXPORT_REVISION] : [ref.revision];
  for (const revision of revisions) {
    const cachedCommit = await cache.commitFor(revision);
    if (cachedCommit) {
      const cached = selectSplitFiles(await cache.listSnapshot(cachedCommit), split, options.config);
      if (cached.complete) return cached.files.map((f) => cache.pointerPath(cachedCommit, f));
    }
  }
  if (settings.offline) {
    // Python's `datasets` downloads by commit and records no ref: offline, any snapshot with the whole split will do
    for (const commit of await cache.snapshotCommits()) {
      const found = selectSplitFiles(await cache.listSnapshot(commit), split, options.config);
      if (found.complete) return found.files.map((f) => cache.pointerPath(commit, f));
    }
    throw new OptionError(
      'OFFLINE_MISS',
      opt`offline: split '${split}' of ${describeRepo(ref)} (revision '${ref.revision}') is not in the cache ${cache.root}`,
      {
        hint: opt`run once without ${field('offline')} / HF_HUB_OFFLINE=1 to download it, or pass a local file with ${field('inputs')}`,
      },
    );
  }

  let revision = ref.revision;
  let { commit, files: repoFiles } = await repoInfo({ settings, ref, revision });
  let chosen = selectSplitFiles(repoFiles, split, options.config);
  if (chosen.files.length === 0 && chosen.configs.length === 0 && revisions.includes(PARQUET_EXPORT_REVISION)) {
    // no data files of this split in the repo: the hub's Parquet export, as `datasets` falls back to
    const exported = await repoInfo({ settings, ref, revision: PARQUET_EXPORT_REVISION }).catch((e: unknown) => {
      if (e instanceof QaFtError && e.code === 'NOT_FOUND_ON_HUB') return undefined; // no export: report the repo's own files
      throw e;
    });
    if (exported) {
      const fromExport = selectSplitFiles(exported.files, split, options.config);
      if (fromExport.files.length > 0 || fromExport.configs.length > 0) {
        ({ commit, files: repoFiles } = exported);
        chosen = fromExport;
        revision = PARQUET_EXPORT_REVISION;
      }
    }
  }
  if (chosen.files.length === 0) {
    const why =
      chosen.configs.length > 1
        ? opt`split '${split}' exists in several configs (${chosen.configs.join(', ')}); choose one with ${field('config')}`
        : options.config !== undefined && chosen.configs.length > 0
          ? opt`has no config '${options.config}' with split '${split}' (configs: ${chosen.configs.join(', ')})`
          : opt`has no data files for split '${split}'${chosen.splits.length ? ` (splits: ${chosen.splits.join(', ')})` : ''}`;
    throw new OptionError('NOT_FOUND_ON_HUB', [`${describeRepo(ref)} `, ...why, ` at revision '${revision}'`], {
      hint:
        chosen.splits.length || chosen.configs.length
          ? opt`pick one of the listed names`
          : opt`qa-ft reads Parquet, JSON Lines, JSON and CSV datasets; pass a local file with ${field('inputs')}`,
    });
  }
  for (const file of chosen.files) {
    await fetchFile({ settings, ref, revision: commit, file }, cache, options.onProgress);
  }
  await cache.writeRef(revision, commit);
  return chosen.files.map((f) => cache.pointerPath(commit, f));
}

/** The commit a revision points to and the repo's file list (hub API `…/revision/{rev}`). */
async function repoInfo(ctx: RequestContext): Promise<{ commit: string; files: string[] }> {
  const url = infoUrl(ctx.settings.endpoint, ctx.ref, ctx.revision);
  const res = await getFollowing(ctx, url, { accept: 'application/json' });
  if (!res.ok) {
    await res.body?.cancel();
    throw hubError(ctx, res, url);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw networkError(ctx, e); // the body stalled or the connection dropped
    throw new QaFtError('NETWORK', `${url} did not answer JSON (${firstLine(e)})`, {
      hint: 'check HF_ENDPOINT and any proxy in between',
    });
  }
  const info = body as { sha?: unknown; siblings?: unknown };
  const siblings = Array.isArray(info.siblings) ? (info.siblings as Array<{ rfilename?: unknown }>) : undefined;
  if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha) || !siblings) {
    throw new QaFtError('NETWORK', `${url} answered without a commit sha and file list`, { hint: 'check HF_ENDPOINT' });
  }
  const files = siblings
    .map((s) => s.rfilename)
    .filter((f): f is string => typeof f === 'string' && !f.startsWith('/') && !f.split('/').includes('..'));
  return { commit: info.sha, files };
}
