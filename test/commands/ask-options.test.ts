// The option and stdin parsing of `qa-ft ask`, in-process (the CLI tests spawn the real command for the rest).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QaFtError } from '../../src/errors.js';
import { defaultDocStride } from '../../src/defaults.js';
import { askCommand, parseAskOptions, parseEncoding, textFrom, type RawAskOptions } from '../../src/commands/ask.js';
import { parseJsonlLine, stdinEntries, type StdinEntry } from '../../src/commands/ask-stdin.js';
import { makeTempDir, repoRoot } from '../helpers/cli.js';

const RAW: RawAskOptions = {
  model: './qa-ft-model',
  topK: '1',
  maxAnswerLength: '30',
  docStride: '128',
  strategy: 'best',
  batchSize: '16',
  backend: 'auto',
};

const userError =
  (pattern: RegExp) =>
  (e: unknown): boolean =>
    e instanceof QaFtError && pattern.test(e.message) && !e.message.includes('\n');

test('defaults: model ./qa-ft-model, top-k 1, max answer length 30, doc stride from the window size, strategy best', () => {
  const defaults = Object.fromEntries(askCommand().options.map((o) => [o.long, o.defaultValue as unknown]));
  assert.equal(defaults['--model'], './qa-ft-model');
  assert.equal(defaults['--top-k'], '1');
  assert.equal(defaults['--max-answer-length'], '30');
  assert.equal(defaults['--doc-stride'], undefined);
  assert.equal(defaultDocStride(384), 128); // the HF pipeline's min(128, max_length / 2)
  assert.equal(defaultDocStride(64), 32);
  assert.equal(parseAskOptions({ ...RAW, docStride: undefined }).docStride, undefined);
  assert.equal(defaults['--strategy'], 'best');
  assert.equal(parseAskOptions({ ...RAW, bf16: true }).precision, 'bf16');
  assert.deepEqual(parseAskOptions(RAW), {
    model: './qa-ft-model',
    topK: 1,
    maxAnswerLength: 30,
    docStride: 128,
    strategy: 'best',
    batchSize: 16,
    backend: 'auto',
    precision: 'fp32',
    encoding: 'utf-8',
    handleImpossibleAnswer: false,
    nullScoreDiffThreshold: 0,
    json: false,
    quiet: false,
    hub: {},
  });
});

test('malformed options are one-line errors naming the flag', () => {
  assert.throws(() => parseAskOptions({ ...RAW, strategy: 'greedy' }), userError(/unknown --strategy 'greedy'/));
  assert.throws(() => parseAskOptions({ ...RAW, topK: '0' }), userError(/--top-k must be an integer ≥ 1, got '0'/));
  assert.throws(() => parseAskOptions({ ...RAW, docStride: '-1' }), userError(/--doc-stride must be an integer ≥ 0/));
  assert.throws(() => parseAskOptions({ ...RAW, maxAnswerLength: '2.5' }), userError(/--max-answer-length/));
  assert.throws(
    () => parseAskOptions({ ...RAW, handleImpossibleAnswer: true, nullScoreDiffThreshold: 'x' }),
    userError(/--null-score-diff-threshold must be a number, got 'x'/),
  );
  assert.throws(
    () => parseAskOptions({ ...RAW, handleImpossibleAnswer: true, strategy: 'argmax' }),
    userError(/--handle-impossible-answer needs --strategy best/),
  );
});

test('--context-file is read; a missing file or both forms at once are errors', async () => {
  assert.match((await textFrom('context', undefined, join(repoRoot, 'package.json')))!, /"name": "qa-ft"/);
  assert.equal(await textFrom('context', 'inline', undefined), 'inline');
  await assert.rejects(
    textFrom('context', undefined, join(repoRoot, 'absent.txt')),
    userError(/--context-file .*absent\.txt does not exist/),
  );
  await assert.rejects(textFrom('context', 'a', 'b'), userError(/either --context or --context-file/));
});

test('--encoding takes utf-8, latin1 or utf-16le (and their common spellings); anything else is an error', () => {
  assert.equal(parseAskOptions({ ...RAW, encoding: 'UTF8' }).encoding, 'utf-8');
  assert.equal(parseEncoding('ISO-8859-1'), 'latin1');
  assert.equal(parseEncoding('utf-16le'), 'utf-16le');
  assert.throws(() => parseEncoding('cp1252'), userError(/unknown --encoding 'cp1252'/));
});

test('--context-file: a directory, a missing file and invalid UTF-8 are one-line errors saying which', async () => {
  const tmp = await makeTempDir('qa-ft-textfrom-');
  try {
    const dir = join(tmp.dir, 'a-dir');
    await mkdir(dir);
    await assert.rejects(
      textFrom('context', undefined, dir),
      userError(/^--context-file .*a-dir is a directory, expected a text file$/),
    );
    await assert.rejects(
      textFrom('context', undefined, join(tmp.dir, 'nope.txt')),
      userError(/nope\.txt does not exist$/),
    );
    const latin1 = join(tmp.dir, 'latin1.txt');
    await writeFile(latin1, Buffer.from('Le Caf\xe9 ouvre.\nLa suite.', 'latin1'));
    await assert.rejects(textFrom('context', undefined, latin1), (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.match(e.message, /latin1\.txt: invalid UTF-8 at byte 6 \(line 1, 0xe9: invalid continuation byte\)$/);
      assert.match(e.hint ?? '', /--encoding latin1/);
      return true;
    });
    assert.equal(await textFrom('context', undefined, latin1, 'latin1'), 'Le Café ouvre.\nLa suite.');
  } finally {
    await tmp.cleanup();
  }
});

test('a UTF-16LE --context-file is refused as UTF-8 with a hint, and read with --encoding utf-16le (BOM dropped)', async () => {
  const tmp = await makeTempDir('qa-ft-textfrom-');
  try {
    const file = join(tmp.dir, 'utf16.txt');
    await writeFile(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Paris 🎉', 'utf16le')]));
    await assert.rejects(textFrom('context', undefined, file), (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.match(e.message, /utf16\.txt: invalid UTF-8 at byte 0 \(line 1, 0xff: invalid start byte\)$/);
      assert.match(e.hint ?? '', /UTF-16LE byte-order mark: pass --encoding utf-16le/);
      return true;
    });
    assert.equal(await textFrom('context', undefined, file, 'utf-16le'), 'Paris 🎉');
    await writeFile(file, Buffer.from([0x41, 0x00, 0x00, 0xd8, 0x42, 0x00])); // "A", a lone high surrogate, "B"
    await assert.rejects(
      textFrom('context', undefined, file, 'utf-16le'),
      userError(/invalid UTF-16LE at byte 2 \(unpaired high surrogate 0xd800\)/),
    );
  } finally {
    await tmp.cleanup();
  }
});

test('one JSONL line: an object with string question and context, else an error naming the line', () => {
  assert.deepEqual(parseJsonlLine('{"question":"q2","context":"c2","id":7}\r', 3), { question: 'q2', context: 'c2' });
  assert.throws(() => parseJsonlLine('not json', 2), userError(/^stdin line 2: not valid JSON$/));
  assert.throws(
    () => parseJsonlLine('{"question":"q"}', 1),
    userError(/stdin line 1: "context" must be a string, got nothing/),
  );
  assert.throws(
    () => parseJsonlLine('{"question":1,"context":"c"}', 4),
    userError(/stdin line 4: "question" must be a string, got number/),
  );
  assert.throws(() => parseJsonlLine('["q","c"]', 1), userError(/stdin line 1: expected a JSON object/));
});

/** The entries of a stream that delivers `chunks` one at a time. */
async function entriesOf(chunks: (string | Buffer)[]): Promise<StdinEntry[][]> {
  async function* stream(): AsyncGenerator<Uint8Array> {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  const groups: StdinEntry[][] = [];
  for await (const g of stdinEntries(stream())) groups.push(g);
  return groups;
}

test('stdin JSONL: blank lines skipped, lines numbered across chunks, a bad line is an entry of its own', async () => {
  const groups = await entriesOf([
    '{"question":"q1","context":"c1"}\n\n{"question":"q2",',
    '"context":"c2"}\nnot json\n',
    Buffer.concat([
      Buffer.from('{"question":"Caf'),
      Buffer.from([0xe9]),
      Buffer.from('?","context":"c"}\n  \n{"question":"q6","context":"c6"}'),
    ]),
  ]);
  // a group per chunk, holding the lines it completed; the last line needs no newline (it comes at the end)
  assert.deepEqual(
    groups.map((g) => g.map((e) => e.line)),
    [[1], [3, 4], [5], [7]],
  );
  const flat = groups.flat();
  assert.deepEqual(flat[0], { line: 1, item: { question: 'q1', context: 'c1' } });
  assert.deepEqual(flat[1], { line: 3, item: { question: 'q2', context: 'c2' } });
  const errors = flat.flatMap((e) => ('error' in e ? [e.error.message] : []));
  assert.deepEqual(errors, [
    'stdin line 4: not valid JSON',
    'stdin line 5: invalid UTF-8 at byte 16 (0xe9: invalid continuation byte)',
  ]);
  assert.deepEqual(flat[4], { line: 7, item: { question: 'q6', context: 'c6' } });
});

test('stdin JSONL: a UTF-8 BOM before the first line is accepted', async () => {
  const [[entry]] = (await entriesOf([
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"question":"q","context":"c"}\n')]),
  ])) as [[StdinEntry]];
  assert.deepEqual(entry, { line: 1, item: { question: 'q', context: 'c' } });
});
