import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diskError } from '../../src/hub/download.js';
import { hubSettings } from '../../src/hub/env.js';
import { hubError, networkError, normalizeEtag } from '../../src/hub/http.js';
import { parseRepoRef, repoFolderName, resolveUrl } from '../../src/hub/repo.js';

const settings = (token?: string) => ({
  endpoint: 'https://hub.example',
  cacheDir: '/c',
  token,
  offline: false,
  timeoutSeconds: { etag: 10, download: 10 },
});
const ctx = (token?: string) => ({
  settings: settings(token),
  ref: { type: 'model' as const, id: 'org/m' },
  revision: 'main',
  file: 'model.safetensors',
});
const answer = (status: number, code?: string) =>
  new Response(null, { status, headers: code ? { 'x-error-code': code } : {} });

test('hub answers map to one-line errors: gated with a token lacking access (403), rate limit (429), server error (503)', () => {
  const gated = hubError(ctx('hf_x'), answer(403, 'GatedRepo'), 'u');
  assert.equal(gated.code, 'UNAUTHORIZED');
  assert.match(
    gated.message,
    /access to model 'org\/m' was refused \(403\): the repo is gated or private and HF_TOKEN has no access/,
  );
  assert.match(gated.hint ?? '', /request access at https:\/\/hub\.example\/org\/m/);
  assert.equal(hubError(ctx(), answer(429), 'u').code, 'NETWORK');
  assert.match(
    hubError(ctx(), answer(503), 'u').message,
    /the hub at https:\/\/hub\.example answered 503 for 'model\.safetensors' of model 'org\/m'/,
  );
  // the real hub answers 401 + RepoNotFound for unknown repos when no token is sent
  const unknown = hubError(ctx(), answer(401, 'RepoNotFound'), 'u');
  assert.equal(unknown.code, 'NOT_FOUND_ON_HUB');
  assert.match(unknown.hint ?? '', /private repos need HF_TOKEN/);
});

test('disk full (ENOSPC) → DISK error naming the file and suggesting HF_HUB_CACHE; other write failures name the code', () => {
  const full = diskError(ctx(), '/c/blobs/x.incomplete', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
  assert.equal(full.code, 'DISK');
  assert.match(
    full.message,
    /^disk full while downloading 'model\.safetensors' of model 'org\/m' into \/c\/blobs\/x\.incomplete$/,
  );
  assert.match(full.hint ?? '', /HF_HUB_CACHE/);
  assert.match(
    diskError(ctx(), '/c/x', Object.assign(new Error('ro'), { code: 'EROFS' })).message,
    /cannot write the hub cache at \/c\/x \(EROFS\)/,
  );
});

test('network failures name the endpoint and the system error code', () => {
  const e = networkError(
    ctx(),
    new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }) }),
  );
  assert.match(
    e.message,
    /^cannot reach the Hugging Face hub at https:\/\/hub\.example \(ENOTFOUND\) for model 'org\/m'$/,
  );
});

test('settings follow huggingface_hub: HF_HUB_CACHE over HF_HOME/hub, HF_TOKEN, truthy HF_HUB_OFFLINE, endpoint without trailing slash', () => {
  const s = hubSettings({}, { HF_HOME: '/h', HF_TOKEN: 't', HF_HUB_OFFLINE: 'YES', HF_ENDPOINT: 'http://mirror/' });
  assert.deepEqual(s, {
    endpoint: 'http://mirror',
    cacheDir: '/h/hub',
    token: 't',
    offline: true,
    timeoutSeconds: { etag: 10, download: 10 },
  });
  assert.equal(hubSettings({}, { HF_HOME: '/h', HF_HUB_CACHE: '/cache' }).cacheDir, '/cache');
  assert.equal(hubSettings({}, { HF_HOME: '/h', HF_HUB_OFFLINE: '0' }).offline, false);
  assert.equal(hubSettings({}, { HF_HOME: '/h' }).endpoint, 'https://huggingface.co');
});

test('repo ids: @revision, folder names, URLs with encoded revisions, ETag normalisation', () => {
  assert.deepEqual(parseRepoRef('org/m@refs/pr/1', 'model'), { type: 'model', id: 'org/m', revision: 'refs/pr/1' });
  assert.equal(repoFolderName({ type: 'dataset', id: 'rajpurkar/squad' }), 'datasets--rajpurkar--squad');
  assert.equal(
    resolveUrl('https://h', { type: 'dataset', id: 'a/b' }, 'refs/pr/1', 'x y/f.parquet'),
    'https://h/datasets/a/b/resolve/refs%2Fpr%2F1/x%20y/f.parquet',
  );
  assert.equal(normalizeEtag('W/"abc"'), 'abc');
  for (const bad of ['a/b/c', 'a--b', '-a', 'a..b', 'x.git', ''])
    assert.throws(() => parseRepoRef(bad, 'model'), /not a valid hub model id/);
});
