/**
 * A slow or hung hub: HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT bound the wait for an answer and between body
 * chunks, HEAD/GET are retried with backoff after 5xx/429 answers, failed connections and (once) timeouts, and what
 * cannot be fixed by retrying fails in one line naming the host.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { hubSettings } from '../../src/hub/env.js';
import { resolveDatasetFiles, resolveModel } from '../../src/hub/index.js';
import { makeTempDir } from '../helpers/cli.js';
import { FakeHub, fakeCommit, setHubEnv, sha256, silentServer, rejectsWith, type FakeRepo } from './fake-hub.js';

const weights = randomBytes(64 * 1024);
const repo: FakeRepo = {
  type: 'model',
  id: 'org/tiny',
  commit: fakeCommit('timeouts'),
  files: [
    { path: 'config.json', content: Buffer.from('{"model_type": "distilbert"}\n') },
    { path: 'model.safetensors', content: weights, lfs: true },
    { path: 'tokenizer.json', content: Buffer.from('{}') },
    { path: 'tokenizer_config.json', content: Buffer.from('{}') },
    { path: 'vocab.txt', content: Buffer.from('[PAD]\n') },
  ],
};
let home: { dir: string; cleanup: () => Promise<void> };
let restoreEnv: (() => void) | undefined;
let stopServer: (() => Promise<void>) | undefined;

beforeEach(async () => {
  home = await makeTempDir('qa-ft-timeouts-');
});
afterEach(async () => {
  restoreEnv?.();
  restoreEnv = undefined;
  await stopServer?.(); // destroys open sockets, so nothing keeps the test process alive
  stopServer = undefined;
  await home.cleanup();
});

async function startHub(env: Record<string, string> = {}): Promise<FakeHub> {
  const hub = new FakeHub([repo]);
  const endpoint = await hub.start();
  stopServer = () => hub.close();
  restoreEnv = setHubEnv({ HF_ENDPOINT: endpoint, HF_HOME: home.dir, ...env });
  return hub;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a hub that accepts connections and never answers → NETWORK error naming the host after HF_HUB_ETAG_TIMEOUT, retried once', async () => {
  const silent = await silentServer();
  stopServer = silent.close;
  restoreEnv = setHubEnv({ HF_ENDPOINT: silent.endpoint, HF_HOME: home.dir, HF_HUB_ETAG_TIMEOUT: '1' });
  const started = Date.now();
  const e = await rejectsWith(
    resolveModel('org/tiny'),
    'NETWORK',
    new RegExp(
      `^the Hugging Face hub at ${escapeRegExp(silent.endpoint)} did not answer within 1 s \\(HEAD ${escapeRegExp(silent.endpoint)}/org/tiny/resolve/main/config\\.json; 2 attempts\\) for model 'org/tiny'$`,
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds >= 2 && seconds < 5, `took ${seconds} s; expected 1 s + 0.5 s backoff + 1 s`);
  assert.equal(silent.connections(), 2);
  assert.match(e.hint ?? '', /HF_HUB_ETAG_TIMEOUT/);
});

test('a GET that never answers (dataset info) fails after HF_HUB_DOWNLOAD_TIMEOUT, naming that variable', async () => {
  const silent = await silentServer();
  stopServer = silent.close;
  restoreEnv = setHubEnv({ HF_ENDPOINT: silent.endpoint, HF_HOME: home.dir, HF_HUB_DOWNLOAD_TIMEOUT: '0.5' });
  const started = Date.now();
  const e = await rejectsWith(
    resolveDatasetFiles('rajpurkar/squad', 'train'),
    'NETWORK',
    /did not answer within 0\.5 s \(GET http:\/\/127\.0\.0\.1:\d+\/api\/datasets\/rajpurkar\/squad\/revision\/main; 2 attempts\) for dataset 'rajpurkar\/squad'$/,
  );
  assert.ok(Date.now() - started < 4000);
  assert.match(e.hint ?? '', /HF_HUB_DOWNLOAD_TIMEOUT/);
});

test('a 503 answer is retried after a backoff and the download then succeeds', async () => {
  const hub = await startHub();
  hub.unavailable = 1;
  const dir = await resolveModel('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), weights);
  const [first, second] = hub.requests;
  assert.deepEqual(
    [first?.method, first?.url, second?.method, second?.url],
    ['HEAD', '/org/tiny/resolve/main/config.json', 'HEAD', '/org/tiny/resolve/main/config.json'],
  );
});

test('5xx on every attempt → the hub answer as a one-line error after 3 attempts', async () => {
  const hub = await startHub();
  hub.unavailable = 100;
  await rejectsWith(
    resolveModel('org/tiny'),
    'NETWORK',
    /the hub at http:\/\/127\.0\.0\.1:\d+ answered 503 for 'config\.json' of model 'org\/tiny'/,
  );
  assert.equal(hub.requests.length, 3);
});

test('4xx answers other than 429 are not retried', async () => {
  const hub = await startHub();
  await rejectsWith(resolveModel('org/nope'), 'NOT_FOUND_ON_HUB', /model 'org\/nope' was not found/);
  assert.equal(hub.requests.length, 1);
});

test('a body that stalls mid-download is resumed with a Range request after HF_HUB_DOWNLOAD_TIMEOUT', async () => {
  const hub = await startHub({ HF_HUB_DOWNLOAD_TIMEOUT: '1' });
  hub.stallNext.add('model.safetensors');
  const started = Date.now();
  const dir = await resolveModel('org/tiny');
  assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), weights);
  const gets = hub.requests.filter((r) => r.method === 'GET' && r.url === `/cdn/${sha256(weights)}`);
  assert.deepEqual(
    gets.map((r) => r.range),
    [undefined, `bytes=${weights.length >> 1}-`],
  );
});

test('timeouts: 10 s by default, HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT in seconds (decimals allowed), overrides win', () => {
  assert.deepEqual(hubSettings({}, { HF_HOME: '/h' }).timeoutSeconds, { etag: 10, download: 10 });
  assert.deepEqual(
    hubSettings({}, { HF_HOME: '/h', HF_HUB_ETAG_TIMEOUT: '2.5', HF_HUB_DOWNLOAD_TIMEOUT: ' 30 ' }).timeoutSeconds,
    { etag: 2.5, download: 30 },
  );
  assert.deepEqual(
    hubSettings({ timeoutSeconds: { download: 3 } }, { HF_HOME: '/h', HF_HUB_DOWNLOAD_TIMEOUT: '30' }).timeoutSeconds,
    { etag: 10, download: 3 },
  );
  assert.deepEqual(hubSettings({}, { HF_HOME: '/h', HF_HUB_ETAG_TIMEOUT: '' }).timeoutSeconds, {
    etag: 10,
    download: 10,
  });
});

test('a timeout that is not a number of seconds > 0 → one-line BAD_ARGUMENT naming the variable, before any request', async () => {
  for (const bad of ['abc', '0', '-1', 'Infinity', '1s']) {
    assert.throws(
      () => hubSettings({}, { HF_HOME: '/h', HF_HUB_DOWNLOAD_TIMEOUT: bad }),
      (e: unknown) =>
        e instanceof QaFtError &&
        e.code === 'BAD_ARGUMENT' &&
        e.message === `HF_HUB_DOWNLOAD_TIMEOUT="${bad}" is not a number of seconds > 0`,
    );
  }
  assert.throws(
    () => hubSettings({}, { HF_HOME: '/h', HF_HUB_ETAG_TIMEOUT: 'x' }),
    /^QaFtError: HF_HUB_ETAG_TIMEOUT="x"/,
  );
  const hub = await startHub({ HF_HUB_ETAG_TIMEOUT: 'soon' });
  await rejectsWith(
    resolveModel('org/tiny'),
    'BAD_ARGUMENT',
    /^HF_HUB_ETAG_TIMEOUT="soon" is not a number of seconds > 0$/,
  );
  assert.equal(hub.requests.length, 0);
});
