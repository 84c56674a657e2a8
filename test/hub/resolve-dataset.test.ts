import assert from 'node:assert/strict';
import { readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { selectSplitFiles } from '../../src/hub/dataset.js';
import { resolveDatasetFiles } from '../../src/hub/index.js';
import { makeTempDir } from '../helpers/cli.js';
import { FakeHub, fakeCommit, setHubEnv, sha256, type FakeRepo } from './fake-hub.js';

const COMMIT = fakeCommit('squad');
const train = Buffer.from('PAR1 pretend train rows PAR1');
const validation = Buffer.from('PAR1 pretend validation rows PAR1');
let hub: FakeHub;
let home: { dir: string; cleanup: () => Promise<void> };
let restoreEnv: () => void;

const squad: FakeRepo = {
  type: 'dataset',
  id: 'rajpurkar/squad',
  commit: COMMIT,
  files: [
    { path: '.gitattributes', content: Buffer.from('*.parquet filter=lfs\n') },
    { path: 'README.md', content: Buffer.from('---\nconfigs: []\n---\n') },
    { path: 'plain_text/train-00000-of-00001.parquet', content: train, lfs: true },
    { path: 'plain_text/validation-00000-of-00001.parquet', content: validation, lfs: true },
  ],
};

beforeEach(async () => {
  home = await makeTempDir('qa-ft-hub-ds-');
  hub = new FakeHub([squad]);
  restoreEnv = setHubEnv({ HF_ENDPOINT: await hub.start(), HF_HOME: home.dir });
});
afterEach(async () => {
  restoreEnv();
  await hub.close();
  await home.cleanup();
});

test('rajpurkar/squad train[:5000] → its Parquet file in datasets--rajpurkar--squad; a second call makes no request', async () => {
  const paths = await resolveDatasetFiles('rajpurkar/squad', 'train[:5000]');
  const snap = join(home.dir, 'hub', 'datasets--rajpurkar--squad', 'snapshots', COMMIT);
  assert.deepEqual(paths, [join(snap, 'plain_text', 'train-00000-of-00001.parquet')]);
  assert.deepEqual(await readFile(paths[0]!), train);
  assert.equal(await readlink(paths[0]!), join('..', '..', '..', 'blobs', sha256(train)));
  assert.equal(await readFile(join(home.dir, 'hub', 'datasets--rajpurkar--squad', 'refs', 'main'), 'utf8'), COMMIT);
  assert.ok(hub.requests.some((r) => r.url === '/api/datasets/rajpurkar/squad/revision/main'));
  assert.ok(
    hub.requests.some(
      (r) => r.url === `/datasets/rajpurkar/squad/resolve/${COMMIT}/plain_text/train-00000-of-00001.parquet`,
    ),
  );
  assert.ok(!hub.requests.some((r) => r.url.includes('validation')), 'only the split asked for is downloaded');

  const seen = hub.requests.length;
  assert.deepEqual(await resolveDatasetFiles('rajpurkar/squad', 'train'), paths);
  assert.equal(hub.requests.length, seen);
  const [val] = await resolveDatasetFiles('rajpurkar/squad', 'validation');
  assert.deepEqual(await readFile(val!), validation);
});

test('offline: a cached split is used; a missing one is a one-line OFFLINE_MISS', async () => {
  const paths = await resolveDatasetFiles('rajpurkar/squad', 'train');
  const seen = hub.requests.length;
  process.env.HF_HUB_OFFLINE = '1';
  assert.deepEqual(await resolveDatasetFiles('rajpurkar/squad', 'train'), paths);
  await assert.rejects(resolveDatasetFiles('rajpurkar/squad', 'validation'), (e: unknown) => {
    assert.ok(e instanceof QaFtError && e.code === 'OFFLINE_MISS');
    assert.match(
      e.message,
      /offline: split 'validation' of dataset 'rajpurkar\/squad' \(revision 'main'\) is not in the cache/,
    );
    return true;
  });
  assert.equal(hub.requests.length, seen);

  // a snapshot without a ref (Python's datasets downloads by commit) is found offline too
  await rm(join(home.dir, 'hub', 'datasets--rajpurkar--squad', 'refs'), { recursive: true });
  assert.deepEqual(await resolveDatasetFiles('rajpurkar/squad', 'train'), paths);
});

test('unknown split → NOT_FOUND_ON_HUB listing the splits there are', async () => {
  await assert.rejects(resolveDatasetFiles('rajpurkar/squad', 'test'), (e: unknown) => {
    assert.ok(e instanceof QaFtError && e.code === 'NOT_FOUND_ON_HUB');
    assert.match(e.message, /has no data files for split 'test' \(splits: train, validation\)/);
    return true;
  });
  await assert.rejects(resolveDatasetFiles('nobody/nothing', 'train'), /dataset 'nobody\/nothing' was not found/);
});

test('split files are found in the layouts the datasets library writes; missing shards make a split incomplete', () => {
  assert.deepEqual(
    selectSplitFiles(
      ['plain_text/train-00000-of-00001.parquet', 'plain_text/validation-00000-of-00001.parquet'],
      'train',
    ).files,
    ['plain_text/train-00000-of-00001.parquet'],
  );
  assert.deepEqual(
    selectSplitFiles(['data/train-00000-of-00002-abc.parquet', 'data/train-00001-of-00002-abc.parquet'], 'train').files
      .length,
    2,
  );
  assert.deepEqual(selectSplitFiles(['default/train/0000.parquet', 'default/test/0000.parquet'], 'train').files, [
    'default/train/0000.parquet',
  ]);
  assert.deepEqual(selectSplitFiles(['train.parquet', 'README.md'], 'train').files, ['train.parquet']);
  assert.equal(selectSplitFiles(['data/train-00000-of-00002.parquet'], 'train').complete, false);
  const twoConfigs = selectSplitFiles(['a/train-00000-of-00001.parquet', 'b/train-00000-of-00001.parquet'], 'train');
  assert.deepEqual([twoConfigs.files, twoConfigs.configs], [[], ['a', 'b']]);
  assert.deepEqual(
    selectSplitFiles(['a/train-00000-of-00001.parquet', 'b/train-00000-of-00001.parquet'], 'train', 'b').files,
    ['b/train-00000-of-00001.parquet'],
  );
});
