/**
 * What is too big to run, refused in one line before it is allocated or read (exit 1, no stack trace): a config
 * whose weights cannot fit in memory, a tensor larger than one typed array (a random init or a safetensors file
 * whose header and config agree on it), a device given as a data file (`/dev/zero`); and a huge predicted answer,
 * scored in seconds within a capped heap.
 */
import assert from 'node:assert/strict';
import { open, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { createRandomQaModel } from '../../src/model/qa-model.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { parameterShapes } from '../../src/model/weights.js';
import { makeTempDir, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR, writeTinyModelDir } from '../helpers/tiny-model-dir.js';
import { prepareSynthetic, TINY_CONFIG } from '../train/synthetic-squad.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
let data = '';

before(async () => {
  ({ dir, cleanup } = await makeTempDir('qa-ft-oversized-'));
  ({ data } = await prepareSynthetic(dir, { rows: 20, seed: 7, prepareArgs: ['--test-size', '0.2'] }));
});
after(() => cleanup());

/** Exit 1 and one line on stderr, a user error. */
function assertOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, pattern);
}

function trainRandom(config: string, out: string): Promise<{ code: number | null; stderr: string }> {
  return runCli([
    'train',
    '--data',
    data,
    '--model',
    BASE_TOKENIZER_DIR,
    '--init',
    'random',
    '--config',
    config,
    '--out',
    out,
    '--backend',
    'cpu',
    '--quiet',
  ]);
}

/** A DistilBERT of 6 layers of width 40,000: 41 billion parameters, 658 GB to train. */
const HUGE = { ...TINY_CONFIG, dim: 40_000, hidden_dim: 3072, n_layers: 6 };

test('train --config with dim 40000: refused before allocating, in one line with the estimate; the check takes well under a second', async () => {
  const config = join(dir, 'huge.json');
  await writeFile(config, JSON.stringify(HUGE));
  const out = join(dir, 'huge-out');
  const r = await trainRandom(config, out);
  assertOneLineError(
    r,
    /^qa-ft: error: .*huge\.json: 41,100,338,434 parameters need at least 657\.6 GB for training \(float32 weights, gradients and AdamW moments\), more than the [\d.]+ GB of memory available \([\d.]+ GB in all\) \(use a smaller config, or free memory\)$/,
  );

  // the same refusal in this process: before any weight exists, in well under a second
  const rss = process.memoryUsage.rss();
  const started = performance.now();
  await assert.rejects(
    createRandomQaModel(parseDistilBertConfig(HUGE, 'huge'), { backend: 'cpu', purpose: 'training', source: 'huge' }),
    { code: 'BAD_CONFIG' },
  );
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
  assert.ok(process.memoryUsage.rss() - rss < 200e6, 'nothing big was allocated');
});

test('train --init random --config with vocab_size 200000000: a one-line error naming the tensor, not a RangeError', async () => {
  const config = join(dir, 'vocab.json');
  await writeFile(config, JSON.stringify({ ...TINY_CONFIG, vocab_size: 200_000_000 }));
  const r = await trainRandom(config, join(dir, 'vocab-out'));
  assertOneLineError(
    r,
    /vocab\.json: tensor distilbert\.embeddings\.word_embeddings\.weight would be \[200000000, 64\] = 12,800,000,000 values, more than the [\d,]+ one array can hold \(check vocab_size and the hidden sizes\)$/,
  );
});

/**
 * A model directory whose config.json and (sparse) model.safetensors agree on a [2e8, 32] word embedding: a valid
 * file of 25.6 GB that takes no disk.
 */
async function writeSparseHugeModel(modelDir: string): Promise<void> {
  await writeTinyModelDir(modelDir);
  const json = {
    model_type: 'distilbert',
    vocab_size: 200_000_000,
    dim: 32,
    n_layers: 1,
    n_heads: 2,
    hidden_dim: 64,
    max_position_embeddings: 512,
    dropout: 0,
    attention_dropout: 0,
    qa_dropout: 0,
  };
  await writeFile(join(modelDir, 'config.json'), JSON.stringify(json));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of parameterShapes(parseDistilBertConfig(json, 'sparse'))) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  const fh = await open(join(modelDir, 'model.safetensors'), 'w');
  try {
    await fh.write(Buffer.concat([length, Buffer.from(text)]));
    await fh.truncate(8 + text.length + offset); // a hole: all zeros, no blocks
  } finally {
    await fh.close();
  }
}

test('a safetensors file whose header and config agree on a [2e8, 32] embedding: a one-line error from the CLI and from SafetensorsFile.read', async () => {
  const modelDir = join(dir, 'sparse-model');
  await mkdir(modelDir);
  await writeSparseHugeModel(modelDir);
  const r = await runCli([
    'ask',
    '--model',
    modelDir,
    '--question',
    'who?',
    '--context',
    'the cat sat',
    '--backend',
    'cpu',
  ]);
  assertOneLineError(
    r,
    /config\.json: tensor distilbert\.embeddings\.word_embeddings\.weight would be \[200000000, 32\] = 6,400,000,000 values, more than the [\d,]+ one array can hold/,
  );

  const file = await SafetensorsFile.open(join(modelDir, 'model.safetensors'));
  try {
    await assert.rejects(file.read('distilbert.embeddings.word_embeddings.weight'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BAD_WEIGHTS');
      assert.match(
        e.message,
        /tensor distilbert\.embeddings\.word_embeddings\.weight \[200000000, 32\] has 6,400,000,000 values, more than the [\d,]+ one array can hold$/,
      );
      return true;
    });
  } finally {
    await file.close();
  }
});

test('/dev/zero as a data file (prepare --input, train --config, evaluate --predictions, ask --context-file): refused at once in one line', async () => {
  const facts = join(dir, 'facts.json');
  const cases: [string[], RegExp][] = [
    [
      ['prepare', '--input', '/dev/zero', '--tokenizer', BASE_TOKENIZER_DIR, '--out', join(dir, 'zero-prep')],
      /input file \/dev\/zero is a character device, not a file/,
    ],
    [
      [
        'train',
        '--data',
        data,
        '--model',
        BASE_TOKENIZER_DIR,
        '--init',
        'random',
        '--config',
        '/dev/zero',
        '--out',
        join(dir, 'zero-train'),
      ],
      /\/dev\/zero is a character device, not a file; expected a config\.json file/,
    ],
    [
      ['evaluate', '--data', facts, '--predictions', '/dev/zero'],
      /predictions file \/dev\/zero is a character device, not a file/,
    ],
    [
      ['ask', '--model', BASE_TOKENIZER_DIR, '--question', 'who?', '--context-file', '/dev/zero'],
      /\/dev\/zero is a character device, not a file/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const started = Date.now();
    const r = await runCli(args);
    assertOneLineError(r, pattern);
    assert.ok(Date.now() - started < 30_000, `${args[0]}: ${Date.now() - started} ms`);
  }
});

test('evaluate --predictions with one 100 MB predicted answer: scored in seconds within a 512 MB heap', async () => {
  const gold = join(dir, 'one.json');
  await writeFile(
    gold,
    JSON.stringify({
      version: '1.1',
      data: [
        {
          title: 't',
          paragraphs: [
            {
              context: 'the cat sat on the mat',
              qas: [{ id: 'q0', question: 'who sat?', answers: [{ text: 'the cat', answer_start: 0 }] }],
            },
          ],
        },
      ],
    }),
  );
  // 100 MB of words; against "the cat" (normalised: [cat]) one token is shared (the overlap counts the gold's one
  // "cat" once), so R = 1, P = 1 / (the prediction's tokens) and F1 = 2P / (P + 1)
  const words = ['The', 'cat,', 'sat', 'on', 'a', 'MAT.', 'Denver', 'Broncos!'];
  const unit = `${words.join(' ')} `;
  const repeats = Math.ceil(100e6 / unit.length);
  const predictions = join(dir, 'big-predictions.json');
  await writeFile(predictions, `{"q0": ${JSON.stringify(unit.repeat(repeats))}}`);
  const started = Date.now();
  const r = await runCli(['evaluate', '--data', gold, '--predictions', predictions, '--json'], {
    env: { NODE_OPTIONS: '--max-old-space-size=512' },
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr);
  const tokens = repeats * 6; // normalised: the articles 'The' and 'a' dropped
  const precision = 1 / tokens;
  const f1 = (100 * 2 * precision) / (precision + 1);
  const got = JSON.parse(r.stdout) as { exactMatch: number; f1: number };
  assert.equal(got.exactMatch, 0);
  assert.ok(Math.abs(got.f1 - f1) < 1e-9, `${got.f1} vs ${f1}`);
  assert.ok(seconds < 60, `${seconds} s (a shared 2-core machine; measured 3–10 s)`);
});
