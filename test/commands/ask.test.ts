import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, repoRoot, runCli, type CliResult } from '../helpers/cli.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';

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
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { answer: string; start: number; end: number });
  assert.equal(out.length, 3);
  out.forEach((a, i) => assert.equal(a.answer, Array.from(lines[i]!.context).slice(a.start, a.end).join('')));
});

test('bad input → one-line errors, exit 1 (empty question/context, no text tokens, no weights, no tokenizer)', async () => {
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
    [
      ['--question', 'Why?', '--context', 'x', '--model', noWeights],
      undefined,
      /has no weights \(model\.safetensors\)/,
    ],
    [['--question', 'Why?', '--context', 'x', '--model', noTokenizer], undefined, /has no tokenizer/],
  ];
  const results = await Promise.all(cases.map(([args, input]) => ask(args, input)));
  results.forEach((r, i) => assertUserError(r, cases[i]![2]));
});

test('--context-file that is UTF-16 (bytes 0xFF 0xFE …) → one-line error with the byte offset; --encoding utf-16le reads it', async () => {
  const file = join(tmp.dir, 'utf16.txt');
  await writeFile(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(CONTEXT, 'utf16le')]));
  assertUserError(
    await ask(['--question', 'When?', '--context-file', file]),
    /^qa-ft: error: --context-file .*utf16\.txt: invalid UTF-8 at byte 0 \(line 1, 0xff: invalid start byte\) \(it starts with a UTF-16LE byte-order mark: pass --encoding utf-16le\)$/m,
  );
  const r = await ask(['--question', 'When?', '--context-file', file, '--encoding', 'utf-16le', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { answer: string; start: number; end: number };
  assert.equal(a.answer, Array.from(CONTEXT).slice(a.start, a.end).join(''));
});

test('--context-file DIR → "is a directory"; a missing one → "does not exist"', async () => {
  assertUserError(
    await ask(['--question', 'When?', '--context-file', tmp.dir]),
    /--context-file .* is a directory, expected a text file$/m,
  );
  assertUserError(
    await ask(['--question', 'When?', '--context-file', join(tmp.dir, 'absent.txt')]),
    /--context-file .*absent\.txt does not exist$/m,
  );
});

/** JSONL lines: good ones around every kind of bad one (bad JSON, a missing field, an empty question, invalid UTF-8, a context without text). */
const MIXED: (string | Buffer)[] = [
  JSON.stringify({ question: 'When did it open?', context: CONTEXT }),
  '{"question": "Who?", "context": ',
  JSON.stringify({ question: 'Who?', context: 'A zebra met a lion.' }),
  JSON.stringify({ question: 'Who?' }),
  '',
  JSON.stringify({ question: ' ', context: 'c' }),
  Buffer.concat([Buffer.from('{"question": "Caf'), Buffer.from([0xe9]), Buffer.from('?", "context": "x"}')]),
  JSON.stringify({ question: 'Why?', context: '\u0001\u0002\u200b' }),
  JSON.stringify({ question: 'Where?', context: 'It was in Paris.' }),
];
const MIXED_INPUT = Buffer.concat(MIXED.map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\n')]))).toString(
  'latin1',
);
const MIXED_ERRORS = [
  /^stdin line 2: not valid JSON/,
  /^stdin line 4: "context" must be a string, got nothing/,
  /^stdin line 6: the question is empty/,
  /^stdin line 7: invalid UTF-8 at byte 17 \(0xe9: invalid continuation byte\)/,
  /^stdin line 8: the context has no text tokens/,
];

/** `ask` on the tiny model with stdin given as raw bytes. */
function askBytes(args: string[], input: Buffer): Promise<CliResult> {
  return runCli(['ask', '--model', modelDir, '--backend', 'cpu', ...args], { input });
}

test('JSONL stdin --json: bad lines get {"error"} records in place, the good ones their answers, exit 1 with a count', async () => {
  const r = await askBytes(['--json', '--batch-size', '2'], Buffer.from(MIXED_INPUT, 'latin1'));
  assert.equal(r.code, 1, r.stderr);
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { answer?: string; start?: number; end?: number; error?: string; line?: number });
  assert.equal(out.length, 8, r.stdout); // the blank line is skipped
  const answered = [0, 2, 7]; // output positions of lines 1, 3 and 9
  const contexts = [CONTEXT, 'A zebra met a lion.', 'It was in Paris.'];
  answered.forEach((pos, k) => {
    const a = out[pos]!;
    assert.equal(a.error, undefined, JSON.stringify(a));
    assert.equal(a.answer, Array.from(contexts[k]!).slice(a.start!, a.end!).join(''));
  });
  const errors = out.filter((o) => o.error !== undefined);
  assert.deepEqual(
    errors.map((o) => o.line),
    [2, 4, 6, 7, 8],
  );
  errors.forEach((o, i) => assert.match(o.error!, MIXED_ERRORS[i]!));
  // stderr: only the summary, one line, no stack trace
  assert.match(
    r.stderr.trim(),
    /^qa-ft: error: 5 of 8 stdin lines failed \(each has an \{"error"\} record in the output\)$/,
  );
});

test('JSONL stdin without --json: answers on stdout in order, each bad line named on stderr, exit 1', async () => {
  const r = await askBytes([], Buffer.from(MIXED_INPUT, 'latin1'));
  assert.equal(r.code, 1, r.stderr);
  const answers = r.stdout.trimEnd().split('\n');
  assert.equal(answers.length, 3, r.stdout);
  for (const line of answers) assert.match(line, /^.+\t\(score \d\.\d{4}\)$/u);
  assert.ok('It was in Paris.'.includes(answers[2]!.split('\t')[0]!), answers[2]);
  const errs = r.stderr.trimEnd().split('\n');
  assert.equal(errs.length, 6, r.stderr);
  errs.slice(0, 5).forEach((l, i) => assert.match(l.replace(/^qa-ft: error: /, ''), MIXED_ERRORS[i]!));
  assert.match(errs[5]!, /^qa-ft: error: 5 of 8 stdin lines failed/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('JSONL stdin: answers stream out as lines arrive, before stdin is closed', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(repoRoot, 'src', 'cli.ts'),
      'ask',
      '--model',
      modelDir,
      '--backend',
      'cpu',
      '--json',
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, CI: '1' },
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  let pending = '';
  let waiter: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    lines.push(...parts);
    waiter?.();
  });
  const nextLine = (count: number): Promise<void> =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer line ${count} within 60 s; stderr: ${stderr}`)),
        60_000,
      );
      waiter = () => {
        if (lines.length >= count) {
          clearTimeout(timer);
          resolvePromise();
        }
      };
      waiter();
    });
  try {
    child.stdin.write(`${JSON.stringify({ question: 'Where?', context: 'It was in Paris.' })}\n`);
    await nextLine(1); // answered while stdin is still open
    child.stdin.write('not json\n');
    await nextLine(2); // the error record, too, comes at once
    child.stdin.end(`${JSON.stringify({ question: 'Who?', context: 'A zebra met a lion.' })}\n`);
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 1, stderr);
  } finally {
    child.kill();
  }
  assert.equal(lines.length, 3);
  assert.ok('answer' in JSON.parse(lines[0]!));
  assert.match((JSON.parse(lines[1]!) as { error: string }).error, /^stdin line 2: not valid JSON/);
  assert.ok('answer' in JSON.parse(lines[2]!));
  assert.match(stderr, /1 of 3 stdin lines failed/);
});
