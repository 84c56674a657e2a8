/**
 * `qa-ft prepare` and `evaluate` on the user's own data, through the real CLI: a validation file as the test split
 * (as it is), --max-train/eval-samples, bad rows (one line naming the file, line and id; nothing written),
 * --skip-invalid and rejected.jsonl, any hub dataset (its data files, else the hub's refs/convert/parquet export)
 * through a local stand-in for the hub, and `prepare --help` listing the formats.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPrepared } from '../../src/tokenize/prepared.js';
import { makeTempDir, repoRoot, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { FakeHub, fakeCommit, type FakeRepo } from '../hub/fake-hub.js';

const OWN = join(repoRoot, 'test', 'data', 'fixtures', 'own-data');
const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
let tmp: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await makeTempDir('qa-ft-own-cli-');
});
after(() => tmp.cleanup());

async function write(name: string, content: string): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, content);
  return path;
}

/** Runs prepare into a fresh out dir under tmp. */
async function prepare(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & { out: string }> {
  const base = join(tmp.dir, `run-${Math.random().toString(36).slice(2)}`);
  await mkdir(base);
  const out = join(base, 'out');
  return { ...(await runCli(['prepare', '--tokenizer', tokenizer, '--out', out, ...args], { env })), out };
}

/** Exit ≠ 0, one error line matching `message`, no stack trace, nothing written. */
async function assertRefused(r: CliResult & { out: string }, message: RegExp): Promise<void> {
  const why = `exit ${r.code}, stderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, why);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft:'));
  assert.equal(errors.length, 1, why);
  assert.match(errors[0] ?? '', /^qa-ft: error: /, why);
  assert.match(errors[0] ?? '', message, why);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${why}`);
  assert.equal(existsSync(r.out), false, 'nothing written');
  assert.deepEqual(await readdir(dirname(r.out)), [], 'no temporary directory left');
}

const CSV_HEADER = 'id,question,context,answer';
/** faq.csv's records (q1's context holds a \n: one record, two editor lines), without the BOM. */
const csvLines = async (): Promise<string[]> =>
  (await readFile(join(OWN, 'faq.csv'), 'utf8'))
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter((l) => l !== '');

describe('prepare on own files', { concurrency: 3 }, () => {
  test('--validation-file is the test split as it is; train keeps the file order; --test-size is then an error', async () => {
    const dev = await write(
      'dev.csv',
      [CSV_HEADER, 'd2,Which colour?,"Red, green and blue.",green', 'd1,Who?,Ana wrote it.,Ana'].join('\n'),
    );
    const r = await prepare([
      '--input',
      join(OWN, 'faq.csv'),
      '--validation-file',
      dev,
      '--answer-column',
      'answer',
      '--doc-stride',
      '128',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const back = await readPrepared(r.out);
    assert.deepEqual(
      back.train.rows.map((x) => x.id),
      ['q1', 'q2', 'q3', 'q4', 'q5'],
    );
    assert.deepEqual(
      back.test.rows.map((x) => [x.id, x.answers.answer_start[0]]),
      [
        ['d2', 5],
        ['d1', 0],
      ],
    );
    assert.deepEqual(back.manifest.validation, { path: dev, format: 'csv', rows: 2 });
    assert.equal(back.manifest.testSize, 0);
    const summary = r.stderr.split('\n').find((l) => l.startsWith('Prepared')) ?? '';
    assert.match(summary, /5 train and 2 test examples \(test: .*dev\.csv \(csv, 2 rows\), as it is\)/);
    assert.match(
      summary,
      /7 answers without a start were located in their context \(2 occur more than once: the first occurrence was used\)/,
    );

    await assertRefused(
      await prepare([
        '--input',
        join(OWN, 'faq.csv'),
        '--validation-file',
        dev,
        '--answer-column',
        'answer',
        '--test-size',
        '0.1',
      ]),
      /--test-size draws the test split from the input at random; with --validation-file the test split is that data/,
    );
  });

  test('--max-train-samples / --max-eval-samples keep the first N examples, as run_qa.py', async () => {
    const r = await prepare([
      '--input',
      join(OWN, 'faq.jsonl'),
      '--validation-file',
      join(OWN, 'faq.jsonl'),
      '--max-train-samples',
      '3',
      '--max-eval-samples',
      '2',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const back = await readPrepared(r.out);
    assert.deepEqual(
      [back.train.rows.map((x) => x.id), back.test.rows.map((x) => x.id)],
      [
        ['q1', 'q2', 'q3'],
        ['q1', 'q2'],
      ],
    );
    await assertRefused(
      await prepare(['--input', join(OWN, 'faq.jsonl'), '--max-train-samples', '0']),
      /--max-train-samples must be an integer ≥ 1, got '0'/,
    );
  });

  test('a bad row: one line naming file, line and id, nothing written; --skip-invalid keeps the rest and writes rejected.jsonl', async () => {
    const lines = await csvLines();
    // q1 spans lines 2-3, so the bad row below is on line 8
    const bad = await write('bad.csv', [...lines, 'q9,Where?,"Nowhere, here.",Paris', 'q10,"  ",ctx,ctx'].join('\r\n'));
    await assertRefused(
      await prepare(['--input', bad, '--answer-column', 'answer']),
      /bad\.csv: 1 row has an answer that does not occur in its context, 1 row has an empty context or question; first: line 8 \(id q9\): answer "Paris" does not occur in the context \(fix the data, or pass --skip-invalid/,
    );
    const ok = await prepare(['--input', bad, '--answer-column', 'answer', '--skip-invalid', '--test-size', '0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /2 invalid rows skipped \(written with their reasons to .*rejected\.jsonl\)/);
    const back = await readPrepared(ok.out);
    assert.deepEqual(
      back.train.rows.map((x) => x.id),
      ['q1', 'q2', 'q3', 'q4', 'q5'],
    );
    const rejected = (await readFile(join(ok.out, 'rejected.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      rejected.map((x) => [x.id, x.where, x.reason, x.context]),
      [
        ['q9', 'line 8', 'answer "Paris" does not occur in the context', 'Nowhere, here.'],
        ['q10', 'line 9', 'question is empty', 'ctx'],
      ],
    );
    // prepare into the same directory without rejects: the old rejected.jsonl goes
    const again = await runCli([
      'prepare',
      '--tokenizer',
      tokenizer,
      '--out',
      ok.out,
      '--input',
      join(OWN, 'faq.csv'),
      '--answer-column',
      'answer',
      '--test-size',
      '0',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(existsSync(join(ok.out, 'rejected.jsonl')), false);
  });

  test('prepare --help lists the formats and the column options', async () => {
    const r = await runCli(['prepare', '--help']);
    assert.equal(r.code, 0);
    for (const s of [
      'jsonl',
      'squad-json',
      'csv, tsv',
      'parquet',
      'arrow',
      '--question-column',
      '--answer-start-column',
      '--validation-file',
      '--dataset-config',
      '--max-eval-samples',
    ]) {
      assert.ok(r.stdout.includes(s), s);
    }
  });

  test('evaluate scores predictions against a CSV with its own column names', async () => {
    const data = await write(
      'eval.csv',
      ['qid,query,passage,answer', 'a,Q?,the sky is blue,blue', 'b,Q?,"grass, green",green'].join('\n'),
    );
    const predictions = await write('pred.json', JSON.stringify({ a: 'blue', b: 'grass' }));
    const r = await runCli([
      'evaluate',
      '--data',
      data,
      '--predictions',
      predictions,
      '--id-column',
      'qid',
      '--question-column',
      'query',
      '--context-column',
      'passage',
      '--answer-column',
      'answer',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { exactMatch: number; count: number };
    assert.deepEqual([m.exactMatch, m.count], [50, 2]);
  });
});

describe('prepare --dataset: any hub dataset, through a local hub', () => {
  let hub: FakeHub;
  let home: { dir: string; cleanup: () => Promise<void> };
  const parquet = async (): Promise<Buffer> => readFile(join(OWN, 'faq.parquet'));

  before(async () => {
    const rows = await parquet();
    const repos: FakeRepo[] = [
      {
        // a loading script and no data files: datasets reads the hub's Parquet export
        type: 'dataset',
        id: 'someone/faq-qa',
        commit: fakeCommit('faq-main'),
        files: [
          { path: 'README.md', content: Buffer.from('# faq\n') },
          { path: 'faq-qa.py', content: Buffer.from('# a loading script\n') },
        ],
        branches: {
          'refs/convert/parquet': {
            commit: fakeCommit('faq-export'),
            files: [
              { path: 'default/train/0000.parquet', content: rows, lfs: true },
              { path: 'default/validation/0000.parquet', content: rows, lfs: true },
            ],
          },
        },
      },
      {
        // configs in the export, as adversarial_qa's
        type: 'dataset',
        id: 'other/multi',
        commit: fakeCommit('multi-main'),
        files: [{ path: 'README.md', content: Buffer.from('# multi\n') }],
        branches: {
          'refs/convert/parquet': {
            commit: fakeCommit('multi-export'),
            files: [
              { path: 'adversarialQA/train/0000.parquet', content: rows, lfs: true },
              { path: 'dbidaf/train/0000.parquet', content: rows, lfs: true },
            ],
          },
        },
      },
      {
        // the repo's own data files
        type: 'dataset',
        id: 'org/plain',
        commit: fakeCommit('plain'),
        files: [
          { path: 'data/train-00000-of-00001.parquet', content: rows, lfs: true },
          { path: 'data/validation-00000-of-00001.parquet', content: rows, lfs: true },
        ],
      },
    ];
    hub = new FakeHub(repos);
    await hub.start();
    home = await makeTempDir('qa-ft-own-hub-');
  });
  after(async () => {
    await hub.close();
    await home.cleanup();
  });

  const env = (): NodeJS.ProcessEnv => ({
    HF_ENDPOINT: hub.endpoint,
    HF_HOME: home.dir,
    HF_HUB_OFFLINE: '',
    HF_TOKEN: '',
  });
  const COLUMNS = ['--id-column', 'qid', '--question-column', 'query', '--context-column', 'passage'];

  test('a repo without data files → its refs/convert/parquet export; --split and --validation-split; offline from the cache after', async () => {
    const r = await prepare(
      ['--dataset', 'someone/faq-qa', '--split', 'train', '--validation-split', 'validation', ...COLUMNS, '--json'],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as {
      source: { dataset: string; rows: number };
      validation: { dataset: string; split: string; rows: number };
      sizes: unknown;
    };
    assert.deepEqual(
      [m.source.dataset, m.source.rows, m.validation.dataset, m.validation.split, m.validation.rows],
      ['someone/faq-qa', 5, 'someone/faq-qa', 'validation', 5],
    );
    assert.ok(
      hub.requests.some((q) =>
        /\/api\/datasets\/someone\/faq-qa\/revision\/refs(%2F|\/)convert(%2F|\/)parquet$/.test(q.url),
      ),
      'asked for the export',
    );
    assert.ok(
      hub.requests.some(
        (q) => q.url === `/datasets/someone/faq-qa/resolve/${fakeCommit('faq-export')}/default/train/0000.parquet`,
      ),
    );
    const back = await readPrepared(r.out);
    assert.deepEqual(
      back.test.rows.map((x) => x.id),
      ['q1', 'q2', 'q3', 'q4', 'q5'],
    );

    const seen = hub.requests.length;
    const offline = await prepare(
      ['--dataset', 'someone/faq-qa', '--split', 'train[:2]', ...COLUMNS, '--test-size', '0'],
      { ...env(), HF_HUB_OFFLINE: '1' },
    );
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(hub.requests.length, seen, 'no request offline');
  });

  test('configs: several are named in the error; --dataset-config picks one', async () => {
    await assertRefused(
      await prepare(['--dataset', 'other/multi', ...COLUMNS], env()),
      /dataset 'other\/multi' split 'train' exists in several configs \(adversarialQA, dbidaf\); choose one with --dataset-config/,
    );
    const r = await prepare(
      ['--dataset', 'other/multi', '--dataset-config', 'adversarialQA', ...COLUMNS, '--test-size', '0.2', '--json'],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(hub.requests.some((q) => q.url.endsWith('/adversarialQA/train/0000.parquet')));
    assert.ok(!hub.requests.some((q) => q.url.endsWith('/dbidaf/train/0000.parquet')));
  });

  test("a repo's own data files are used without asking for the export", async () => {
    const r = await prepare(
      ['--dataset', 'org/plain', '--validation-split', 'validation[:2]', ...COLUMNS, '--json'],
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (await readPrepared(r.out)).test.rows.map((x) => x.id),
      ['q1', 'q2'],
    );
    assert.ok(!hub.requests.some((q) => q.url.includes('/org/plain/revision/refs')));
  });
});
