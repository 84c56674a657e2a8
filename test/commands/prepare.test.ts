import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPrepared } from '../../src/tokenize/prepared.js';
import { readSquad } from '../../src/data/read.js';
import { parseSplit } from '../../src/data/split.js';
import type { SquadRow } from '../../src/records.js';
import { makeTempDir, runCli, sharedDir, type CliResult } from '../helpers/cli.js';

const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');
const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
let tmp: { dir: string; cleanup: () => Promise<void> };
let rows: SquadRow[];

before(async () => {
  tmp = await makeTempDir();
  rows = (await readSquad(parquet, { split: parseSplit('train[:40]') })).rows;
});
after(() => tmp.cleanup());

async function jsonl(name: string, rs: readonly unknown[]): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, rs.map((r) => JSON.stringify(r)).join('\n'));
  return path;
}

/** Runs prepare into a fresh out dir under tmp; returns the result and that dir. */
async function prepare(args: string[]): Promise<CliResult & { out: string }> {
  const base = join(tmp.dir, `run-${Math.random().toString(36).slice(2)}`);
  await mkdir(base);
  const out = join(base, 'out');
  const r = await runCli(['prepare', '--tokenizer', tokenizer, '--out', out, ...args]);
  return { ...r, out };
}

/** One line on stderr, exit ≠ 0, no stack trace, no output directory and no temporary leftovers. */
async function assertRefused(r: CliResult & { out: string }, message: RegExp): Promise<void> {
  const why = `exit ${r.code}, stderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, why);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1] ?? '';
  assert.match(last, /^qa-ft: error: /, why);
  assert.match(last, message, why);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${why}`);
  assert.ok(!lines.some((l) => l.startsWith('qa-ft:') && l !== last), `a single error line: ${why}`);
  assert.equal(existsSync(r.out), false, 'nothing written');
  assert.deepEqual(await readdir(dirname(r.out)), [], 'no temporary directory left');
}

test('prepare --json on a Parquet slice writes the four Arrow files and prints the manifest', async () => {
  const r = await prepare(['--input', parquet, '--split', 'train[:200]', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(r.stdout);
  assert.deepEqual(manifest.sizes, { train: { rows: 160, features: 160 }, test: { rows: 40, features: 40 } });
  assert.equal(manifest.split, 'train[:200]');
  assert.equal(manifest.seed, 42);
  assert.equal(manifest.maxLength, 384);
  assert.equal(manifest.docStride, null);
  assert.equal(manifest.source.format, 'parquet');
  const back = await readPrepared(r.out);
  assert.deepEqual(back.manifest, manifest);
  assert.equal(back.train.features.length, 160);
  assert.ok(back.train.features.every((f) => f.inputIds.length <= 384 && f.inputIds[0] === 101));
});

test('prepare prints a one-paragraph summary; --doc-stride makes extra windows', async () => {
  const r = await prepare([
    '--input',
    parquet,
    '--split',
    'train[:100]',
    '--max-length',
    '128',
    '--doc-stride',
    '32',
    '--test-size',
    '0.1',
    '--seed',
    '7',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = r.stderr.split('\n').filter((l) => l.startsWith('Prepared'));
  assert.equal(summary.length, 1);
  assert.match(summary[0] ?? '', /90 train and 10 test examples \(test size 0\.1, seed 7\).*doc stride 32/);
  const back = await readPrepared(r.out);
  assert.ok(back.train.features.length > 90);
  assert.equal(back.manifest.labelRule, 'whole');
});

// Each run is a separate process; they are independent, so a few run at once.
describe('bad input: one line, exit ≠ 0, no stack trace, nothing written', { concurrency: 3 }, () => {
  test('missing input file (reported before any tokenizer is looked for)', async () => {
    await assertRefused(
      await prepare(['--input', join(tmp.dir, 'missing.parquet')]),
      /missing\.parquet does not exist/,
    );
    const base = join(tmp.dir, 'no-tokenizer');
    await mkdir(base);
    const r = await runCli(['prepare', '--input', join(tmp.dir, 'missing.parquet'), '--out', join(base, 'out')], {
      env: { HF_HUB_OFFLINE: '1', HF_HOME: join(base, 'hf') },
    });
    await assertRefused({ ...r, out: join(base, 'out') }, /missing\.parquet does not exist/);
  });

  test('a file of no format qa-ft reads', async () => {
    const path = join(tmp.dir, 'data.txt');
    await writeFile(path, 'id context\n');
    await assertRefused(await prepare(['--input', path]), /data\.txt is not JSON Lines, .*CSV, TSV, Parquet or Arrow/);
  });

  test('a CSV without the question column: the columns it has are listed, with the flag to name it', async () => {
    const path = join(tmp.dir, 'data.csv');
    await writeFile(path, 'id,context\n1,abc\n');
    await assertRefused(
      await prepare(['--input', path]),
      /data\.csv: missing column 'question' \(found: id, context\) \(name the file's column with --question-column\)/,
    );
  });

  test('a missing column', async () => {
    const path = await jsonl(
      'noq.jsonl',
      rows.map(({ question: _q, ...rest }) => rest),
    );
    await assertRefused(await prepare(['--input', path]), /noq\.jsonl: missing column 'question'/);
  });

  test('a mistyped column', async () => {
    const path = await jsonl(
      'badtype.jsonl',
      rows.map((r, i) => (i === 5 ? { ...r, context: 42 } : r)),
    );
    await assertRefused(
      await prepare(['--input', path]),
      /badtype\.jsonl: line 6 \(id \w+\): field 'context' must be a string, got number 42/,
    );
  });

  test('answer_start that does not match the text: count reported; --skip-invalid skips them and says how many', async () => {
    const bad = rows.map((r, i) =>
      i < 3 ? { ...r, answers: { text: r.answers.text, answer_start: [r.answers.answer_start[0]! + 2] } } : r,
    );
    const path = await jsonl('shifted.jsonl', bad);
    await assertRefused(
      await prepare(['--input', path]),
      /3 rows have an answer_start that does not match answers\.text.*--skip-invalid/,
    );
    const ok = await prepare(['--input', path, '--skip-invalid']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /3 invalid rows skipped/);
    assert.equal((await readPrepared(ok.out)).manifest.counts.skippedInvalid, 3);
  });

  test('an empty context', async () => {
    const path = await jsonl(
      'emptyctx.jsonl',
      rows.map((r, i) => (i === 2 ? { ...r, context: '', answers: { text: [], answer_start: [] } } : r)),
    );
    await assertRefused(await prepare(['--input', path]), /first: line 3 \(id \w+\): context is empty/);
  });

  test('an empty question', async () => {
    const path = await jsonl(
      'emptyq.jsonl',
      rows.map((r, i) => (i === 4 ? { ...r, question: ' ' } : r)),
    );
    await assertRefused(await prepare(['--input', path]), /first: line 5 \(id \w+\): question is empty/);
  });

  test('a question so long that no context fits is skipped with a count; if every one is, it is an error', async () => {
    const long = 'why '.repeat(400); // 400 tokens: more than max length 384
    const path = await jsonl(
      'longq.jsonl',
      rows.map((r, i) => (i % 10 === 0 ? { ...r, question: long } : r)),
    );
    const ok = await prepare(['--input', path, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).counts.skippedLongQuestion, 4);
    const back = await readPrepared(ok.out);
    assert.equal(back.train.rows.length + back.test.rows.length, 36);
    const all = await jsonl(
      'alllong.jsonl',
      rows.map((r) => ({ ...r, question: long })),
    );
    await assertRefused(await prepare(['--input', all]), /no row fits max length 384/);
  });

  test('a malformed --split', async () => {
    await assertRefused(
      await prepare(['--input', parquet, '--split', 'train[:abc]']),
      /malformed --split 'train\[:abc\]'/,
    );
  });

  test('a test size outside [0, 1)', async () => {
    await assertRefused(
      await prepare(['--input', parquet, '--test-size', '1.5']),
      /--test-size must be in \[0, 1\), got 1\.5/,
    );
    await assertRefused(await prepare(['--input', parquet, '--test-size', 'abc']), /--test-size must be a number/);
  });
});

test('a failed run leaves an existing output directory untouched', async () => {
  const first = await prepare(['--input', parquet, '--split', 'train[:20]', '--test-size', '0']);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual((await readPrepared(first.out)).manifest.sizes.test, { rows: 0, features: 0 }); // --test-size 0
  const before = await readPrepared(first.out);
  const r = await runCli([
    'prepare',
    '--tokenizer',
    tokenizer,
    '--out',
    first.out,
    '--input',
    join(tmp.dir, 'nope.json'),
  ]);
  assert.equal(r.code, 1);
  assert.deepEqual((await readPrepared(first.out)).manifest, before.manifest);
});

describe('--out never destroys what is not a prepared-data directory', () => {
  /** A user's file and folder, and a function that asserts they are still there byte for byte. */
  async function userFiles(dir: string): Promise<() => Promise<void>> {
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'NOTES.md'), 'my notes\n');
    await writeFile(join(dir, 'src', 'main.py'), 'print(1)\n');
    return async () => {
      assert.equal(await readFile(join(dir, 'NOTES.md'), 'utf8'), 'my notes\n');
      assert.equal(await readFile(join(dir, 'src', 'main.py'), 'utf8'), 'print(1)\n');
    };
  }

  test('a file at --out is refused and kept byte for byte', async () => {
    const notes = join(tmp.dir, 'notes');
    await writeFile(notes, 'hello\n');
    const r = await runCli([
      'prepare',
      '--tokenizer',
      tokenizer,
      '--input',
      parquet,
      '--split',
      'train[:20]',
      '--out',
      notes,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^qa-ft: error: --out .*notes is a file; prepare writes a directory/m);
    assert.equal(await readFile(notes, 'utf8'), 'hello\n');
  });

  test('a non-empty directory that prepare did not write is refused, its files and folders kept', async () => {
    const proj = join(tmp.dir, 'proj');
    const intact = await userFiles(proj);
    const r = await runCli([
      'prepare',
      '--tokenizer',
      tokenizer,
      '--input',
      parquet,
      '--split',
      'train[:20]',
      '--out',
      proj,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /--out .*proj is not empty and is not a qa-ft prepared-data directory \(it holds NOTES\.md, src\)/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    await intact();
    assert.deepEqual((await readdir(proj)).sort(), ['NOTES.md', 'src']);
  });

  test('--out . works in an empty or prepared working directory, in place, and keeps other files there', async () => {
    const cwd = join(tmp.dir, 'here');
    await mkdir(cwd);
    const args = ['prepare', '--tokenizer', tokenizer, '--input', parquet, '--out', '.'];
    const first = await runCli([...args, '--split', 'train[:20]'], { cwd });
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await readPrepared(cwd)).manifest.sizes.train.rows, 16);
    await writeFile(join(cwd, 'README.txt'), 'mine\n'); // the user's, beside a prepared directory
    const again = await runCli([...args, '--split', 'train[:30]'], { cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await readPrepared(cwd)).manifest.sizes.train.rows, 24);
    assert.equal(await readFile(join(cwd, 'README.txt'), 'utf8'), 'mine\n');
    assert.deepEqual(
      (await readdir(cwd)).filter((n) => n.startsWith('.')),
      [],
      'no temporary files left',
    );

    const proj = join(tmp.dir, 'proj-cwd');
    const intact = await userFiles(proj);
    const refused = await runCli([...args, '--split', 'train[:20]'], { cwd: proj });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /--out \. is not empty/);
    await intact();
  });

  test("a run sweeps dead runs' temporary files beside and inside --out, and leaves a live run's alone", async () => {
    const base = join(tmp.dir, 'sweep');
    const out = join(base, 'data');
    const first = await runCli([
      'prepare',
      '--tokenizer',
      tokenizer,
      '--input',
      parquet,
      '--split',
      'train[:20]',
      '--out',
      out,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const deadPid = 4_194_304 + 7; // above Linux's largest pid: never running
    const stale = [join(base, `.data.tmp-${deadPid}-abc`), join(out, `.train.arrow.tmp-${deadPid}-abd`)];
    await mkdir(stale[0] as string);
    await writeFile(join(stale[0] as string, 'train.arrow'), 'old');
    await writeFile(stale[1] as string, 'half');
    const live = join(base, `.data.tmp-${process.pid}-abe`); // this test process: alive
    await writeFile(live, 'busy');
    const again = await runCli([
      'prepare',
      '--tokenizer',
      tokenizer,
      '--input',
      parquet,
      '--split',
      'train[:20]',
      '--out',
      out,
    ]);
    assert.equal(again.code, 0, again.stderr);
    for (const path of stale) assert.equal(existsSync(path), false, `${path} swept`);
    assert.equal(existsSync(live), true, 'a live writer keeps its file');
  });
});

test('a prepared directory whose manifest counts were edited, or with a file from another prepare, is refused by train', async () => {
  const a = await prepare(['--input', parquet, '--split', 'train[:20]']);
  const b = await prepare(['--input', parquet, '--split', 'train[20:40]']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const manifestPath = join(a.out, 'manifest.json');
  const original = await readFile(manifestPath, 'utf8');
  const edited = JSON.parse(original) as { sizes: { train: { features: number } } };
  edited.sizes.train.features = 999;
  await writeFile(manifestPath, JSON.stringify(edited));
  const train = [
    'train',
    '--data',
    a.out,
    '--model',
    tokenizer,
    '--init',
    'random',
    '--epochs',
    '1',
    '--backend',
    'cpu',
    '--out',
    join(tmp.dir, 'never'),
  ];
  const counted = await runCli(train);
  assert.equal(counted.code, 1, counted.stderr);
  assert.match(counted.stderr, /manifest\.json: sizes\.train\.features is 999 but train\.features\.arrow holds 16/);

  await writeFile(manifestPath, original);
  await writeFile(join(a.out, 'train.features.arrow'), await readFile(join(b.out, 'train.features.arrow')));
  const copied = await runCli(train);
  assert.equal(copied.code, 1, copied.stderr);
  assert.match(
    copied.stderr,
    /train\.features\.arrow is not the file .*manifest\.json describes \((\d+ bytes, the manifest says \d+|sha256 [0-9a-f]{12}…, the manifest says [0-9a-f]{12}…)\): it was changed, or comes from another prepare/,
  );
  assert.equal(existsSync(join(tmp.dir, 'never')), false);
});

test('a prepare into an --out another live prepare holds (its lock beside --out) is refused naming its pid; a dead one’s lock is taken over', async () => {
  const base = join(tmp.dir, `locked-${Math.random().toString(36).slice(2)}`);
  await mkdir(base);
  const out = join(base, 'out');
  const lock = join(base, '.out.qa-ft.lock');
  const holder = (pid: number): string =>
    JSON.stringify({
      pid,
      hostname: hostname(),
      command: 'qa-ft prepare --seed 9',
      startedAt: '2024-01-01T00:00:00.000Z',
    });
  await writeFile(lock, holder(process.pid));
  const args = ['prepare', '--tokenizer', tokenizer, '--input', parquet, '--split', 'train[:20]', '--out', out];
  const blocked = await runCli(args);
  assert.equal(blocked.code, 1, blocked.stderr);
  assert.match(
    blocked.stderr,
    new RegExp(
      `qa-ft: error: --out ${out} is in use by another qa-ft run: pid ${process.pid} \\(qa-ft prepare --seed 9`,
    ),
  );
  assert.ok(!existsSync(out));
  await writeFile(lock, holder(4194311)); // above Linux's largest pid
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Took over the stale lock .*pid 4194311/);
  assert.deepEqual(await readdir(base), ['out'], 'the lock is released');
});
