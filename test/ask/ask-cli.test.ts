import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, runCli, type CliResult } from '../helpers/cli.js';
import { writeTinyModelDir } from './model-dir.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let modelDir: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-ask-');
  modelDir = join(tmp.dir, 'model');
  await writeTinyModelDir(modelDir);
});
after(async () => tmp.cleanup());

const CONTEXT = 'The  Café Ünïcödé in 東京 opened in 1999 🎉 and   closed in 2005.';
const ask = (args: string[], input?: string): Promise<CliResult> =>
  runCli(['ask', '--model', modelDir, '--backend', 'cpu', ...args], input === undefined ? {} : { input });

/** One line on stderr, exit 1, no stack trace. */
function assertUserError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('ask --json prints {answer, score, start, end} with the answer an exact substring of the context', async () => {
  const r = await ask(['--question', 'When did it open?', '--context', CONTEXT, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { answer: string; score: number; start: number; end: number };
  assert.deepEqual(Object.keys(a), ['answer', 'score', 'start', 'end']);
  assert.equal(a.answer, Array.from(CONTEXT).slice(a.start, a.end).join(''));
  assert.ok(a.score > 0 && a.score <= 1);
});

test('ask prints the answer and score per line, reading the context from --context-file', async () => {
  const file = join(tmp.dir, 'context.txt');
  await writeFile(file, CONTEXT);
  const r = await ask(['--question', 'When?', '--context-file', file, '--top-k', '2']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  for (const [i, line] of lines.entries()) {
    const m = /^(\d)\. (.+)\t\(score (\d\.\d{4})\)$/u.exec(line);
    assert.ok(m, line);
    assert.equal(m[1], String(i + 1));
    assert.ok(CONTEXT.includes(m[2]!), `${m[2]} is a piece of the context`);
  }
});

test('ask answers every JSONL line on stdin, in order, one JSON line each', async () => {
  const lines = [
    { question: 'When did it open?', context: CONTEXT },
    { question: 'Who?', context: 'A zebra met a lion.' },
    { question: 'Where?', context: 'It was in Paris.' },
  ];
  const r = await ask(['--json', '--batch-size', '2'], `${lines.map((l) => JSON.stringify(l)).join('\n')}\n\n`);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { answer: string; start: number; end: number });
  assert.equal(out.length, 3);
  out.forEach((a, i) => assert.equal(a.answer, Array.from(lines[i]!.context).slice(a.start, a.end).join('')));
});

test('bad input → one-line errors, exit 1 (empty question/context, no text tokens, no weights, no tokenizer, bad JSONL)', async () => {
  const noWeights = join(tmp.dir, 'no-weights');
  const noTokenizer = join(tmp.dir, 'no-tokenizer');
  await mkdir(noWeights, { recursive: true });
  await mkdir(noTokenizer, { recursive: true });
  await writeFile(join(noWeights, 'config.json'), '{}');
  await writeFile(join(noTokenizer, 'config.json'), '{}');
  await writeFile(join(noTokenizer, 'model.safetensors'), '');
  const cases: [string[], string | undefined, RegExp][] = [
    [['--question', '  ', '--context', CONTEXT], undefined, /error: the question is empty/],
    [['--question', 'Why?', '--context', ''], undefined, /error: the context is empty/],
    [['--question', 'Why?', '--context', '\u0001\u0002\u200b'], undefined, /the context has no text tokens/],
    [['--question', 'Why?', '--context', 'x', '--model', noWeights], undefined, /has no weights \(model\.safetensors\)/],
    [['--question', 'Why?', '--context', 'x', '--model', noTokenizer], undefined, /has no tokenizer/],
    [[], '{"question": "q", "context": "fine"}\n{"question": "", "context": "c"}\n', /stdin item 2: the question is empty/],
  ];
  const results = await Promise.all(cases.map(([args, input]) => ask(args, input)));
  results.forEach((r, i) => assertUserError(r, cases[i]![2]));
});
