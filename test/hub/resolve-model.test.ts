import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, before, beforeEach, test } from 'node:test';
import { resolveModel, resolveTokenizer } from '../../src/hub/index.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';
import { FakeHub, fakeCommit, gitSha1, setHubEnv, sha256, rejectsWith, type FakeRepo } from './fake-hub.js';

const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');
const COMMIT = fakeCommit('tiny');
let files: Record<string, Buffer>;
let hub: FakeHub;
let home: { dir: string; cleanup: () => Promise<void> };
let restoreEnv: () => void;

const modelCache = (id = 'org--tiny'): string => join(home.dir, 'hub', `models--${id}`);

function tinyRepo(extra: Partial<FakeRepo> = {}): FakeRepo {
  return {
    type: 'model',
    id: 'org/tiny',
    commit: COMMIT,
    tags: ['v1'],
    files: [
      { path: 'config.json', content: files['config.json']! },
      { path: 'model.safetensors', content: files['model.safetensors']!, lfs: true },
      { path: 'tokenizer_config.json', content: files['tokenizer_config.json']! },
      { path: 'vocab.txt', content: files['vocab.txt']! },
      // no tokenizer.json: an optional file that 404s
    ],
    ...extra,
  };
}

async function startHub(repos: FakeRepo[], env: Record<string, string> = {}): Promise<void> {
  hub = new FakeHub(repos);
  const endpoint = await hub.start();
  restoreEnv = setHubEnv({ HF_ENDPOINT: endpoint, HF_HOME: home.dir, ...env });
}

before(async () => {
  files = {
    'config.json': await readFile(join(tinyDir, 'config.json')),
    'model.safetensors': await readFile(join(tinyDir, 'model.safetensors')),
    'tokenizer_config.json': Buffer.from('{"do_lower_case": true}\n'),
    'vocab.txt': Buffer.from('[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n'),
  };
});
beforeEach(async () => {
  home = await makeTempDir('qa-ft-hub-');
});
afterEach(async () => {
  restoreEnv?.();
  await hub?.close();
  await home.cleanup();
});

test('first resolve downloads into HF_HOME in the Python cache layout; a second makes no request', async () => {
  await startHub([tinyRepo()]);
  const progress: Array<{ file: string; done: number; total: number; bytesPerSecond: number }> = [];
  const dir = await resolveModel('org/tiny', { onProgress: (e) => progress.push(e) });

  const root = modelCache();
  assert.equal(dir, join(root, 'snapshots', COMMIT));
  assert.equal(await readFile(join(root, 'refs', 'main'), 'utf8'), COMMIT);
  const weightsSha = sha256(files['model.safetensors']!);
  const configSha1 = gitSha1(files['config.json']!);
  // blobs named by ETag: sha256 for the LFS file, git sha1 for regular files
  assert.deepEqual(
    (await readdir(join(root, 'blobs'))).sort(),
    [configSha1, gitSha1(files['tokenizer_config.json']!), gitSha1(files['vocab.txt']!), weightsSha].sort(),
  );
  assert.equal(await readlink(join(dir, 'model.safetensors')), join('..', '..', 'blobs', weightsSha));
  assert.equal(await readlink(join(dir, 'config.json')), join('..', '..', 'blobs', configSha1));
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), files['model.safetensors']);
  // the missing optional file is remembered the way huggingface_hub does
  assert.ok((await stat(join(root, '.no_exist', COMMIT, 'tokenizer.json'))).isFile());
  const last = progress.filter((p) => p.file === 'model.safetensors').at(-1);
  assert.deepEqual([last?.done, last?.total], [files['model.safetensors']!.length, files['model.safetensors']!.length]);
  assert.ok(last!.bytesPerSecond > 0);
  // the LFS file came through the relative redirect to the CDN path
  assert.ok(hub.requests.some((r) => r.method === 'GET' && r.url === `/cdn/${weightsSha}`));
  assert.ok(
    hub.requests.every((r) => r.authorization === undefined),
    'no token set, none sent',
  );

  const before = hub.requests.length;
  assert.equal(await resolveModel('org/tiny'), dir);
  assert.equal(hub.requests.length, before, 'the second resolve must not touch the network');
});

test('offline: works from the cache without a request, and names what is missing otherwise', async () => {
  await startHub([tinyRepo()]);
  await rejectsWith(
    resolveModel('org/tiny', { offline: true }),
    'OFFLINE_MISS',
    /offline: model 'org\/tiny' at revision 'main' is not there in the cache/,
  );
  assert.equal(hub.requests.length, 0);

  const dir = await resolveModel('org/tiny');
  const seen = hub.requests.length;
  process.env.HF_HUB_OFFLINE = '1';
  assert.equal(await resolveModel('org/tiny'), dir);
  assert.equal(hub.requests.length, seen);

  await rm(join(dir, 'model.safetensors'));
  await rejectsWith(resolveModel('org/tiny'), 'OFFLINE_MISS', /is missing model\.safetensors in the cache/);
  assert.equal(hub.requests.length, seen);
});

test('a cache written by Python (blobs, relative symlinks, refs) is used without a request', async () => {
  await startHub([tinyRepo()]);
  const root = modelCache();
  const snap = join(root, 'snapshots', COMMIT);
  await mkdir(join(root, 'blobs'), { recursive: true });
  await mkdir(snap, { recursive: true });
  await mkdir(join(root, 'refs'), { recursive: true });
  await writeFile(join(root, 'refs', 'main'), COMMIT);
  for (const [name, content] of Object.entries({ ...files, 'tokenizer.json': Buffer.from('{}') })) {
    const etag = name === 'model.safetensors' ? sha256(content) : gitSha1(content);
    await writeFile(join(root, 'blobs', etag), content);
    await symlink(join('..', '..', 'blobs', etag), join(snap, name));
  }
  assert.equal(await resolveModel('org/tiny'), snap);
  assert.equal(hub.requests.length, 0);

  // without tokenizer.json (never asked for by Python) the hub is asked about it; unreachable, the cache still serves
  await rm(join(snap, 'tokenizer.json'));
  await hub.close();
  assert.equal(await resolveModel('org/tiny'), snap);
  hub = new FakeHub([]);
  await hub.start(); // for afterEach
});

test('a connection dropped mid-file is resumed with a Range request and the blob is intact', async () => {
  await startHub([tinyRepo()]);
  hub.dropNext.add('model.safetensors');
  const dir = await resolveModel('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), files['model.safetensors']);
  const sha = sha256(files['model.safetensors']!);
  const gets = hub.requests.filter((r) => r.method === 'GET' && r.url === `/cdn/${sha}`);
  assert.equal(gets.length, 2);
  assert.equal(gets[0]!.range, undefined);
  const half = files['model.safetensors']!.length >> 1;
  assert.equal(gets[1]!.range, `bytes=${half}-`);
  assert.deepEqual(
    await readdir(join(modelCache(), 'blobs')).then((b) => b.filter((n) => n.endsWith('.incomplete'))),
    [],
  );
});

test('a partial download left by an earlier run is resumed from its size', async () => {
  await startHub([tinyRepo()]);
  const sha = sha256(files['model.safetensors']!);
  await mkdir(join(modelCache(), 'blobs'), { recursive: true });
  await writeFile(join(modelCache(), 'blobs', `${sha}.incomplete`), files['model.safetensors']!.subarray(0, 1000));
  const dir = await resolveModel('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), files['model.safetensors']);
  const get = hub.requests.find((r) => r.method === 'GET' && r.url === `/cdn/${sha}`);
  assert.equal(get?.range, 'bytes=1000-');
});

test('checksum mismatch → INTEGRITY error and the bad bytes are discarded', async () => {
  await startHub([tinyRepo()]);
  hub.corrupt.add('model.safetensors');
  await rejectsWith(
    resolveModel('org/tiny'),
    'INTEGRITY',
    /checksum mismatch for 'model\.safetensors' of model 'org\/tiny': expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; the download was discarded/,
  );
  const blobs = await readdir(join(modelCache(), 'blobs'));
  assert.ok(!blobs.some((b) => b.startsWith(sha256(files['model.safetensors']!))), `left behind: ${blobs.join(', ')}`);
  await assert.rejects(stat(join(modelCache(), 'snapshots', COMMIT, 'model.safetensors')));
  hub.corrupt.clear(); // the next run downloads it cleanly
  const dir = await resolveModel('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'model.safetensors')), files['model.safetensors']);
});

test('unknown repo → one-line NOT_FOUND_ON_HUB naming the repo', async () => {
  await startHub([tinyRepo()]);
  await rejectsWith(
    resolveModel('org/nope'),
    'NOT_FOUND_ON_HUB',
    /model 'org\/nope' was not found on http:\/\/127\.0\.0\.1:\d+ \(404\)/,
  );
  await rejectsWith(
    resolveModel('org/tiny@v9'),
    'NOT_FOUND_ON_HUB',
    /revision 'v9' of model 'org\/tiny' was not found/,
  );
});

test('gated repo without a token → UNAUTHORIZED; with HF_TOKEN it is sent as a bearer and works', async () => {
  await startHub([tinyRepo({ gated: true })]);
  const e = await rejectsWith(
    resolveModel('org/tiny'),
    'UNAUTHORIZED',
    /model 'org\/tiny' is gated or private \(401\) and no token is set/,
  );
  assert.match(e.hint ?? '', /HF_TOKEN/);
  process.env.HF_TOKEN = hub.token;
  const dir = await resolveModel('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'config.json')), files['config.json']);
  assert.ok(
    hub.requests
      .filter((r) => r.url.includes('/resolve/'))
      .every((r) => r.authorization === undefined || r.authorization === `Bearer ${hub.token}`),
  );
  assert.ok(hub.requests.some((r) => r.authorization === `Bearer ${hub.token}`));
});

test('hub unreachable → NETWORK error naming the endpoint and suggesting offline or a local path', async () => {
  await startHub([]);
  const endpoint = hub.endpoint;
  await hub.close();
  const e = await rejectsWith(
    resolveModel('org/tiny'),
    'NETWORK',
    new RegExp(`cannot reach the Hugging Face hub at ${endpoint.replace(/\./g, '\\.')} \\(ECONNREFUSED; 3 attempts\\)`),
  );
  assert.match(e.hint ?? '', /offline.*local path/);
  hub = new FakeHub([]);
  await hub.start(); // for afterEach
});

test('sharded weights: the index and every shard it names are downloaded', async () => {
  const index = {
    metadata: {},
    weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
  };
  const repo = tinyRepo();
  repo.files = repo.files.filter((f) => f.path !== 'model.safetensors');
  repo.files.push(
    { path: 'model.safetensors.index.json', content: Buffer.from(JSON.stringify(index)) },
    { path: 'model-00001-of-00002.safetensors', content: Buffer.from('shard one'), lfs: true },
    { path: 'model-00002-of-00002.safetensors', content: Buffer.from('shard two'), lfs: true },
  );
  await startHub([repo]);
  const dir = await resolveModel('org/tiny');
  assert.equal(await readFile(join(dir, 'model-00002-of-00002.safetensors'), 'utf8'), 'shard two');
  assert.ok((await stat(join(modelCache(), '.no_exist', COMMIT, 'model.safetensors'))).isFile());
  const seen = hub.requests.length;
  await resolveModel('org/tiny');
  assert.equal(hub.requests.length, seen);
});

test('a repo without safetensors weights → NOT_FOUND_ON_HUB saying safetensors are needed', async () => {
  const repo = tinyRepo();
  repo.files = repo.files.filter((f) => f.path !== 'model.safetensors');
  await startHub([repo]);
  const e = await rejectsWith(
    resolveModel('org/tiny'),
    'NOT_FOUND_ON_HUB',
    /has no model\.safetensors \(or model\.safetensors\.index\.json\) at revision 'main'/,
  );
  assert.match(e.hint ?? '', /safetensors/);
});

test('revisions: name@v1 records refs/v1; a commit hash needs no ref and works offline', async () => {
  await startHub([tinyRepo()]);
  const dir = await resolveModel('org/tiny@v1');
  assert.equal(await readFile(join(modelCache(), 'refs', 'v1'), 'utf8'), COMMIT);
  assert.equal(await resolveModel('org/tiny', { revision: COMMIT, offline: true }), dir);
  await rejectsWith(
    resolveModel('org/tiny@v1', { revision: 'main' }),
    'BAD_ARGUMENT',
    /names revision 'v1' but revision is 'main'/,
  );
});

test('a renamed repo (relative redirect) resolves and is cached under the name asked for', async () => {
  await startHub([tinyRepo({ renamedFrom: 'tiny' })]);
  const dir = await resolveModel('tiny');
  assert.equal(dir, join(modelCache('tiny'), 'snapshots', COMMIT));
  assert.ok(hub.requests.some((r) => r.url.startsWith('/org/tiny/resolve/')));
});

test('tokenizer-only resolution downloads no weights', async () => {
  await startHub([tinyRepo()]);
  const dir = await resolveTokenizer('org/tiny');
  assert.deepEqual(await readFile(join(dir, 'vocab.txt')), files['vocab.txt']);
  assert.ok(!hub.requests.some((r) => r.url.includes('model.safetensors') || r.url.startsWith('/cdn/')));
});

test('a local directory is returned as is; a missing path or a malformed id is a one-line error', async () => {
  await startHub([]);
  assert.equal(await resolveModel(tinyDir), tinyDir);
  await rejectsWith(
    resolveModel('./no/such/dir'),
    'FILE_NOT_FOUND',
    /model directory '\.\/no\/such\/dir' does not exist/,
  );
  await rejectsWith(resolveModel('bad name!'), 'BAD_ARGUMENT', /'bad name!' is not a valid hub model id/);
  assert.equal(hub.requests.length, 0);
});

test('a repo with a byte-level BPE tokenizer (vocab.json + merges.txt, no tokenizer.json) resolves; half of one is refused naming what is needed', async () => {
  const vocabJson = Buffer.from('{"<s>": 0, "<pad>": 1, "</s>": 2, "a": 3}');
  const merges = Buffer.from('#version: 0.2\n');
  const bpe = (id: string, withMerges: boolean): FakeRepo => ({
    type: 'model',
    id,
    commit: fakeCommit(id),
    tags: [],
    files: [
      { path: 'config.json', content: files['config.json']! },
      { path: 'vocab.json', content: vocabJson },
      ...(withMerges ? [{ path: 'merges.txt', content: merges }] : []),
    ],
  });
  await startHub([bpe('org/bpe', true), bpe('org/half', false)]);
  const dir = await resolveTokenizer('org/bpe');
  assert.deepEqual(await readFile(join(dir, 'vocab.json')), vocabJson);
  assert.deepEqual(await readFile(join(dir, 'merges.txt')), merges);
  await rejectsWith(
    resolveTokenizer('org/half'),
    'NOT_FOUND_ON_HUB',
    /tokenizer\.json, vocab\.txt, or vocab\.json \+ merges\.txt/,
  );
});
