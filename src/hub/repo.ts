/**
 * Hub repository references: parsing `org/name@revision`, validating ids the way `huggingface_hub` does, and
 * the URLs and cache folder names derived from them.
 */
import { field, opt, OptionError, QaFtError } from '../errors.js';

type RepoType = 'model' | 'dataset';

export interface RepoRef {
  readonly type: RepoType;
  /** `name` or `org/name`. */
  readonly id: string;
  /** Branch, tag or commit; `main` when not given. */
  readonly revision: string;
}

// huggingface_hub's validate_repo_id: one optional namespace, word characters, '-', '.'; at most 96 characters.
const REPO_ID = /^(?:[\w.-]+\/)?[\w.-]+$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function isCommitHash(revision: string): boolean {
  return COMMIT.test(revision);
}

function validateRepoId(id: string, type: RepoType): void {
  const bad =
    !REPO_ID.test(id) ||
    id.length > 96 ||
    id.includes('--') ||
    id.includes('..') ||
    id.endsWith('.git') ||
    /(^|\/)[.-]|[.-]($|\/)/.test(id);
  if (bad) {
    throw new OptionError('BAD_ARGUMENT', opt`'${id}' is not a valid hub ${type} id (expected 'name' or 'org/name')`, {
      hint:
        type === 'model'
          ? opt`or pass an existing local model directory`
          : opt`or pass a local file with ${field('inputs')}`,
    });
  }
}

/**
 * `org/name@rev` → { id, revision }. An explicit `revision` option must agree with an `@rev` suffix.
 */
export function parseRepoRef(spec: string, type: RepoType, revision?: string): RepoRef {
  const at = spec.lastIndexOf('@');
  const id = at >= 0 ? spec.slice(0, at) : spec;
  const suffix = at >= 0 ? spec.slice(at + 1) : undefined;
  if (suffix !== undefined && suffix === '') {
    throw new QaFtError('BAD_ARGUMENT', `'${spec}' has an empty revision after '@'`, {
      hint: 'write org/name@main or drop the @',
    });
  }
  if (suffix !== undefined && revision !== undefined && revision !== suffix) {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`'${spec}' names revision '${suffix}' but ${field('revision')} is '${revision}'`,
      {
        hint: opt`give the revision once`,
      },
    );
  }
  validateRepoId(id, type);
  const rev = suffix ?? revision ?? 'main';
  if (rev.trim() !== rev || rev.includes('..')) {
    throw new QaFtError('BAD_ARGUMENT', `'${rev}' is not a valid revision for ${id}`, {
      hint: 'use a branch, tag or commit hash',
    });
  }
  return { type, id, revision: rev };
}

/** `models--org--name` / `datasets--org--name`, as in the Python cache. */
export function repoFolderName(ref: Pick<RepoRef, 'type' | 'id'>): string {
  return `${ref.type}s--${ref.id.split('/').join('--')}`;
}

/** `{endpoint}/{repo}/resolve/{revision}/{file}`; datasets under `/datasets/`. */
export function resolveUrl(
  endpoint: string,
  ref: Pick<RepoRef, 'type' | 'id'>,
  revision: string,
  file: string,
): string {
  const prefix = ref.type === 'dataset' ? 'datasets/' : '';
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${prefix}${ref.id}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** `{endpoint}/api/{models|datasets}/{repo}/revision/{revision}`: the commit sha and file list. */
export function infoUrl(endpoint: string, ref: Pick<RepoRef, 'type' | 'id'>, revision: string): string {
  return `${endpoint}/api/${ref.type}s/${ref.id}/revision/${encodeURIComponent(revision)}`;
}

/** How a repo is named in messages: `model 'org/name'` / `dataset 'org/name'`. */
export function describeRepo(ref: Pick<RepoRef, 'type' | 'id'>): string {
  return `${ref.type} '${ref.id}'`;
}
