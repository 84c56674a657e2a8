/**
 * `qa-ft evaluate --out`: refuses, before any data is read or model run, a path that holds anything but prediction
 * files an evaluation wrote (a model's config.json, prepared data's manifest.json, a user's file, a directory, a
 * user's file where the n-best file goes); replaces its own earlier predictions only with --overwrite. The user's
 * files are compared byte for byte before and after.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, type CliResult } from '../helpers/cli.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';
import { treeHashes } from '../helpers/tree-hash.js';

const CONTEXT = 'The Denver Broncos defeated the Carolina Panthers 24–10 to earn their third Super Bowl title.';
const SQUAD = {
  version: '1.1',
  data: [
    {
      title: 'B',
      paragraphs: [
        {
          context: CONTEXT,
          qas: [{ id: 'q1', question: 'Who won?', answers: [{ text: 'Denver Broncos', answer_start: 4 }] }],
        },
      ],
    },
  ],
};

let tmp: { dir: string; cleanup: () => Promise<void> };
let model: string;
let data: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-evaluate-out-');
  model = join(tmp.dir, 'model');
  data = join(tmp.dir, 'dev.json');
  await writeTinyModelDir(model);
  await writeFile(data, JSON.stringify(SQUAD));
});
after(() => tmp.cleanup());

const evaluate = (args: string[]): Promise<CliResult> =>
  runCli(['evaluate', '--backend', 'cpu', '--quiet', '--model', model, ...args]);

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
}

test("evaluate --out onto a model's config, prepared data, a user's file or a directory is refused before anything runs; every file stays byte for byte", async () => {
  const prepared = join(tmp.dir, 'prepared');
  await mkdir(prepared);
  await writeFile(
    join(prepared, 'manifest.json'),
    JSON.stringify({ format: 'qa-ft-prepared', version: 2, sizes: { train: { rows: 1 } } }),
  );
  await writeFile(join(tmp.dir, 'mine.json'), '{"title": "my notes", "pages": 3}\n');
  const beside = join(tmp.dir, 'beside');
  await mkdir(beside);
  await writeFile(join(beside, 'nbest_predictions.json'), 'my own file, not JSON\n');
  await mkdir(join(tmp.dir, 'a-directory'));
  const before = await treeHashes(tmp.dir);

  // --data does not exist: a refusal (rather than "--data … does not exist") shows --out is checked first
  const missingData = join(tmp.dir, 'no-such-data.json');
  const cases: Array<[string, string[], RegExp]> = [
    [
      'config',
      ['--out', join(model, 'config.json')],
      /--out .*model\/config\.json exists and is not a predictions file \(\{id: answer\}\); refusing to replace it/,
    ],
    [
      'manifest',
      ['--out', join(prepared, 'manifest.json')],
      /--out .*prepared\/manifest\.json exists and is not a predictions file/,
    ],
    [
      'user file, --overwrite',
      ['--out', join(tmp.dir, 'mine.json'), '--overwrite'],
      /--out .*mine\.json exists and is not a predictions file/,
    ],
    [
      'directory',
      ['--out', join(tmp.dir, 'a-directory')],
      /--out .*a-directory is a directory; evaluate writes a file there/,
    ],
    [
      'n-best beside',
      ['--out', join(beside, 'predictions.json'), '--overwrite'],
      /the n-best file .*beside\/nbest_predictions\.json exists and is not an n-best predictions file/,
    ],
  ];
  const results = await Promise.all(cases.map(([, args]) => evaluate(['--data', missingData, ...args])));
  results.forEach((r, i) => assertOneLineError(r, cases[i]![2]));
  assert.deepEqual(await treeHashes(tmp.dir), before);
});

test('an earlier evaluation at --out is replaced only with --overwrite', async () => {
  const out = join(tmp.dir, 'run', 'predictions.json');
  const first = await evaluate(['--data', data, '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  const written = await treeHashes(join(tmp.dir, 'run'));
  assert.deepEqual(Object.keys(written), ['nbest_predictions.json', 'predictions.json']);

  const again = await evaluate(['--data', join(tmp.dir, 'no-such-data.json'), '--out', out]);
  assertOneLineError(
    again,
    /--out .*run\/predictions\.json already exists: a predictions file \(\{id: answer\}\) \(pass --overwrite/,
  );
  assert.deepEqual(await treeHashes(join(tmp.dir, 'run')), written);

  await writeFile(out, `${JSON.stringify({ q1: 'stale' })}\n`);
  const replaced = await evaluate(['--data', data, '--out', out, '--overwrite']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.notEqual(JSON.parse(await readFile(out, 'utf8')).q1, 'stale');
});
