/**
 * The commands against a hub on 127.0.0.1: `qa-ft prepare` without --input fetches rajpurkar/squad's Parquet (with
 * --version-2-with-negative rajpurkar/squad_v2's) and the default tokenizer into HF_HOME; `qa-ft train --model <hub id>` fetches the model. Second runs and
 * HF_HUB_OFFLINE=1 runs make no request. A hub that never answers fails the command within the timeout.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { writeSafetensors, type TensorSource } from '../../src/model/safetensors.js';
import { parameterShapes } from '../../src/model/weights.js';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';
import { FakeHub, fakeCommit, setHubEnv, silentServer, type FakeRepo } from './fake-hub.js';

const base = join(sharedDir, 'models', 'distilbert-base-uncased');
const SQUAD_COMMIT = fakeCommit('squad-cli');
let hub: FakeHub;
let tmp: { dir: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
let restoreEnv: () => void;

/** A tiny DistilBERT with the real uncased vocabulary, so it fits data tokenized with distilbert-base-uncased. */
async function tinyUncasedWeights(config: Record<string, unknown>): Promise<Buffer> {
  const shapes = parameterShapes(parseDistilBertConfig(config, 'test config'));
  const tensors = new Map<string, TensorSource>();
  let seed = 1;
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNormWeight = /(LayerNorm|layer_norm)\.weight$/.test(name);
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      data[i] = isNormWeight ? 1 : name.endsWith('.bias') ? 0 : (seed / 2147483648 - 0.5) * 0.04;
    }
    tensors.set(name, { shape, data });
  }
  const path = join(tmp.dir, 'tiny-uncased.safetensors');
  await writeSafetensors(path, tensors);
  return readFile(path);
}

before(async () => {
  tmp = await makeTempDir('qa-ft-cli-hub-');
  const file = (name: string): Promise<Buffer> => readFile(join(base, name));
  const tokenizerFiles = [
    { path: 'tokenizer.json', content: await file('tokenizer.json'), lfs: false },
    { path: 'tokenizer_config.json', content: await file('tokenizer_config.json') },
    { path: 'vocab.txt', content: await file('vocab.txt') },
  ];
  const tinyConfig = {
    ...(JSON.parse((await file('config.json')).toString()) as Record<string, unknown>),
    dim: 32,
    n_layers: 1,
    n_heads: 2,
    hidden_dim: 64,
    max_position_embeddings: 128,
  };
  const repos: FakeRepo[] = [
    {
      type: 'dataset',
      id: 'rajpurkar/squad',
      commit: SQUAD_COMMIT,
      files: [
        {
          path: 'plain_text/train-00000-of-00001.parquet',
          content: await readFile(join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet')),
          lfs: true,
        },
        { path: 'plain_text/validation-00000-of-00001.parquet', content: Buffer.from('not read'), lfs: true },
      ],
    },
    {
      type: 'dataset',
      id: 'rajpurkar/squad_v2',
      commit: fakeCommit('squad-v2-cli'),
      files: [
        {
          path: 'squad_v2/train-00000-of-00001.parquet',
          content: await readFile(new URL('../data/fixtures/squad-v2-sample.parquet', import.meta.url)),
          lfs: true,
        },
      ],
    },
    {
      type: 'model',
      id: 'distilbert-base-uncased',
      commit: fakeCommit('distilbert'),
      files: [
        { path: 'config.json', content: await file('config.json') },
        ...tokenizerFiles,
        // weights are not needed for tokenizing; served (small) in case the command asks for a whole model
        { path: 'model.safetensors', content: Buffer.from('not real weights'), lfs: true },
      ],
    },
    {
      type: 'model',
      id: 'org/tiny-uncased',
      commit: fakeCommit('tiny-uncased'),
      files: [
        { path: 'config.json', content: Buffer.from(JSON.stringify(tinyConfig)) },
        { path: 'model.safetensors', content: await tinyUncasedWeights(tinyConfig), lfs: true },
        ...tokenizerFiles,
      ],
    },
  ];
  hub = new FakeHub(repos);
  env = { HF_ENDPOINT: await hub.start(), HF_HOME: join(tmp.dir, 'hf-home') };
  restoreEnv = setHubEnv({}); // the child processes get `env`; this process must not see a developer's HF_TOKEN etc.
});
after(async () => {
  restoreEnv();
  await hub.close();
  await tmp.cleanup();
});

const prepareArgs = (out: string): string[] => [
  'prepare',
  '--split',
  'train[:40]',
  '--test-size',
  '0.25',
  '--max-length',
  '128',
  '--out',
  out,
];

test('qa-ft prepare without --input downloads rajpurkar/squad train and the tokenizer into HF_HOME; a second run makes no request', async () => {
  const r = await runCli(prepareArgs(join(tmp.dir, 'data')), { env });
  assert.equal(r.code, 0, r.stderr);
  const snapshot = join(env.HF_HOME!, 'hub', 'datasets--rajpurkar--squad', 'snapshots', SQUAD_COMMIT, 'plain_text');
  assert.deepEqual(await readdir(snapshot), ['train-00000-of-00001.parquet']);
  assert.ok((await readdir(join(env.HF_HOME!, 'hub', 'models--distilbert-base-uncased', 'snapshots'))).length === 1);
  assert.ok(hub.requests.some((r) => r.url.endsWith('/plain_text/train-00000-of-00001.parquet')));
  assert.ok(!hub.requests.some((r) => r.url.includes('validation')));

  const seen = hub.requests.length;
  const again = await runCli(prepareArgs(join(tmp.dir, 'data2')), { env });
  assert.equal(again.code, 0, again.stderr);
  const offline = await runCli(prepareArgs(join(tmp.dir, 'data3')), { env: { ...env, HF_HUB_OFFLINE: '1' } });
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal(hub.requests.length, seen, 'runs with a warm cache must not touch the network');
  assert.ok((await readdir(join(tmp.dir, 'data3'))).length > 0, 'the offline run wrote its prepared data');
});

test('qa-ft prepare --version-2-with-negative without --input reads rajpurkar/squad_v2, unanswerable rows kept', async () => {
  const r = await runCli(
    [
      'prepare',
      '--version-2-with-negative',
      '--split',
      'train',
      '--test-size',
      '0.5',
      '--max-length',
      '128',
      '--out',
      join(tmp.dir, 'data-v2'),
      '--json',
    ],
    { env },
  );
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(r.stdout) as {
    source: { dataset: string };
    versionTwoWithNegative: boolean;
    counts: { noAnswerRows: number };
  };
  assert.equal(manifest.source.dataset, 'rajpurkar/squad_v2');
  assert.equal(manifest.versionTwoWithNegative, true);
  assert.equal(manifest.counts.noAnswerRows, 2);
});

test('qa-ft prepare offline with an empty cache fails in one line naming what is missing', async () => {
  const r = await runCli(prepareArgs(join(tmp.dir, 'data-x')), {
    env: { ...env, HF_HOME: join(tmp.dir, 'empty-home'), HF_HUB_OFFLINE: '1' },
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^qa-ft: error: offline: split 'train' of dataset 'rajpurkar\/squad' \(revision 'main'\) is not in the cache .*\n$/,
  );
});

test('qa-ft train --model <hub id> downloads the model into the cache and trains from it', async () => {
  const out = join(tmp.dir, 'model');
  const args = [
    'train',
    '--data',
    join(tmp.dir, 'data'),
    '--model',
    'org/tiny-uncased',
    '--out',
    out,
    '--epochs',
    '1',
    '--batch-size',
    '16',
    '--backend',
    'cpu',
    '--quiet',
  ];
  const r = await runCli(args, { env });
  assert.equal(r.code, 0, r.stderr);
  const snaps = join(env.HF_HOME!, 'hub', 'models--org--tiny-uncased', 'snapshots');
  assert.deepEqual((await readdir(join(snaps, fakeCommit('tiny-uncased')))).sort(), [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as { dim: number };
  assert.equal(config.dim, 32);
});

test('a hub that accepts connections and never answers: qa-ft prepare fails within the timeout in one line naming the host', async () => {
  const silent = await silentServer();
  try {
    const started = Date.now();
    const r = await runCli(prepareArgs(join(tmp.dir, 'data-silent')), {
      env: {
        HF_ENDPOINT: silent.endpoint,
        HF_HOME: join(tmp.dir, 'silent-home'),
        HF_HUB_ETAG_TIMEOUT: '1',
        HF_HUB_DOWNLOAD_TIMEOUT: '1',
      },
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.code, 1, r.stderr);
    const host = silent.endpoint.replace(/\./g, '\\.');
    assert.match(
      r.stderr,
      new RegExp(
        `^qa-ft: error: the Hugging Face hub at ${host} did not answer within 1 s \\(GET ${host}/api/datasets/rajpurkar/squad/revision/main; 2 attempts\\) for dataset 'rajpurkar/squad' \\(for a slow link set HF_HUB_DOWNLOAD_TIMEOUT to more seconds; [^\\n]*\\)\\n$`,
      ),
    );
    assert.ok(seconds < 15, `took ${seconds} s`);
  } finally {
    await silent.close();
  }
});

test('qa-ft prepare with HF_HUB_DOWNLOAD_TIMEOUT=abc fails in one line naming the variable', async () => {
  const r = await runCli(prepareArgs(join(tmp.dir, 'data-bad-timeout')), {
    env: { ...env, HF_HOME: join(tmp.dir, 'bad-timeout-home'), HF_HUB_DOWNLOAD_TIMEOUT: 'abc' },
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^qa-ft: error: HF_HUB_DOWNLOAD_TIMEOUT="abc" is not a number of seconds > 0 \(set it to e\.g\. 30, or unset it for the default of 10 s\)\n$/,
  );
});
