/**
 * Messages that say what is wrong: a config.json without model_type, a symbolic link loop as --model, duplicate
 * question ids, a partial predictions file (the official script's unanswered-questions warning), prepare --out onto
 * a dangling symbolic link, and a valid predictions file too large for one JavaScript string (read, not "not valid
 * JSON").
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';

const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');
const CONTEXT = 'The Denver Broncos defeated the Carolina Panthers 24–10 to earn their third Super Bowl title.';
const qa = (id: string, question: string, text: string) => ({
  id,
  question,
  answers: [{ text, answer_start: CONTEXT.indexOf(text) }],
});
const squad = (qas: unknown[]) =>
  JSON.stringify({ version: '1.1', data: [{ title: 'B', paragraphs: [{ context: CONTEXT, qas }] }] });

let tmp: { dir: string; cleanup: () => Promise<void> };
let data: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-messages-');
  data = join(tmp.dir, 'dev.json');
  await writeFile(
    data,
    squad([
      qa('q1', 'Who won?', 'Denver Broncos'),
      qa('q2', 'Who lost?', 'Carolina Panthers'),
      qa('q3', 'What title?', 'Super Bowl'),
    ]),
  );
});
after(() => tmp.cleanup());

const cli = (args: string[], cwd?: string): Promise<CliResult> =>
  runCli(args, { env: { HF_HUB_OFFLINE: '1' }, ...(cwd === undefined ? {} : { cwd }) });

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
}

test('config.json without model_type, a --model symlink loop, duplicate ids, prepare --out on a dangling link: one line each', async () => {
  const junk: Array<[string, unknown]> = [
    ['predictions', { q1: 'Denver Broncos', q2: 'Panthers' }],
    ['nested', { a: { b: [1, { model_type: 'bert' }] } }],
  ];
  for (const [name, config] of junk) {
    const dir = join(tmp.dir, `junk-${name}`);
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await copyFile(join(tinyDir, 'model.safetensors'), join(dir, 'model.safetensors'));
    await copyFile(join(BASE_TOKENIZER_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  }
  await symlink('loop', join(tmp.dir, 'loop'));
  await writeFile(
    join(tmp.dir, 'dups.json'),
    squad(Array.from({ length: 10 }, () => qa('dup', 'Who won?', 'Denver Broncos'))),
  );
  await writeFile(join(tmp.dir, 'dup-preds.json'), JSON.stringify({ dup: 'Denver Broncos' }));
  await symlink(join(tmp.dir, 'nowhere'), join(tmp.dir, 'dangling'));

  const [noTypeEval, noTypeExport, loop, dupScore, dupRun, dangling] = await Promise.all([
    cli([
      'evaluate',
      '--backend',
      'cpu',
      '--model',
      join(tmp.dir, 'junk-predictions'),
      '--data',
      data,
      '--out',
      join(tmp.dir, 'p', 'predictions.json'),
    ]),
    cli(['export', '--model', join(tmp.dir, 'junk-nested'), '--out', join(tmp.dir, 'junk-export')]),
    cli(['export', '--model', 'loop', '--out', 'loop-export'], tmp.dir), // 'loop' has no slash: it was taken for a hub id
    cli(['evaluate', '--data', join(tmp.dir, 'dups.json'), '--predictions', join(tmp.dir, 'dup-preds.json')]),
    cli([
      'evaluate',
      '--backend',
      'cpu',
      '--model',
      tinyDir,
      '--data',
      join(tmp.dir, 'dups.json'),
      '--out',
      join(tmp.dir, 'd', 'predictions.json'),
    ]),
    cli(['prepare', '--input', data, '--tokenizer', BASE_TOKENIZER_DIR, '--out', join(tmp.dir, 'dangling')]),
  ]);
  assertOneLineError(
    noTypeEval,
    /junk-predictions\/config\.json: has no model_type \(expected one of distilbert, .*\); it is not a model's config\.json/,
  );
  assertOneLineError(noTypeExport, /junk-nested\/config\.json: has no model_type/);
  assertOneLineError(loop, /'loop' is a symbolic link loop \(ELOOP\)/);
  for (const r of [dupScore, dupRun])
    assertOneLineError(r, /dups\.json: 1 id\(s\) name more than one question: 'dup' \(10 questions\)/);
  assertOneLineError(
    dangling,
    /--out .*dangling is a symbolic link to .*nowhere, which does not exist; refusing to replace the link/,
  );
  assert.equal(await readlink(join(tmp.dir, 'dangling')), join(tmp.dir, 'nowhere'), 'the link is left as it was');
});

test('a partial predictions file is scored with a warning counting the unanswered questions, as the official script prints', async () => {
  const file = join(tmp.dir, 'partial.json');
  await writeFile(file, JSON.stringify({ q1: 'Denver Broncos' }));
  const r = await cli(['evaluate', '--data', data, '--predictions', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /^warning: 2 of 3 questions have no answer in .*partial\.json and score 0 \(unanswered: 'q2', 'q3'\)$/m,
  );
  assert.equal((JSON.parse(r.stdout) as { count: number }).count, 3);
});

test('a valid 600 MB predictions file (over the longest JavaScript string) is read and scored, not called invalid JSON', async () => {
  const file = join(tmp.dir, 'big.json');
  const out = createWriteStream(file);
  const spaces = Buffer.alloc(16 << 20, 0x20); // JSON whitespace between members: valid, and cheap to scan
  out.write('{"q1": "Denver Broncos",');
  for (let i = 0; i < 36; i += 1) if (!out.write(spaces)) await once(out, 'drain');
  out.end('"q2": "Carolina Panthers", "q3": "Super Bowl"}\n');
  await once(out, 'finish');
  const r = await cli(['evaluate', '--data', data, '--predictions', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout) as object, { exactMatch: 100, f1: 100, count: 3, predictions: file, data });
});
