/**
 * `qa-ft train` and the tokenizer of the prepared data: one that does not go with the model is refused before the
 * first step, with nothing written; one that does is saved so that transformers builds the model family's tokenizer
 * (a DistilBERT trained on data prepared with a BERT tokenizer directory gets a DistilBertTokenizer without
 * token_type_ids, which its forward does not take).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { writeSmallTokenizer } from '../helpers/small-tokenizer.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';
import { TINY_CONFIG, writeSyntheticSquad } from '../train/synthetic-squad.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let facts: string;

before(async () => {
  tmp = await makeTempDir('qa-ft-train-tokenizer-');
  facts = join(tmp.dir, 'facts.json');
  await writeSyntheticSquad(facts, 40, 7);
});
after(() => tmp.cleanup());

async function prepare(tokenizer: string, name: string): Promise<string> {
  const out = join(tmp.dir, `data-${name}`);
  const r = await runCli([
    'prepare',
    '--input',
    facts,
    '--split',
    'train',
    '--tokenizer',
    tokenizer,
    '--max-length',
    '48',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

async function train(data: string, config: object, out: string, extra: string[] = []): Promise<CliResult> {
  const configPath = `${out}-config.json`;
  await writeFile(configPath, JSON.stringify(config));
  return runCli([
    'train',
    '--data',
    data,
    '--model',
    BASE_TOKENIZER_DIR,
    '--init',
    'random',
    '--config',
    configPath,
    '--out',
    out,
    '--epochs',
    '1',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--quiet',
    ...extra,
  ]);
}

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft: error'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0] ?? '', pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('a DistilBERT trained on data prepared with a BERT tokenizer directory saves a DistilBertTokenizer without token_type_ids', {
  timeout: 180_000,
}, async () => {
  const bertDir = join(tmp.dir, 'bert-base-uncased');
  await mkdir(bertDir);
  for (const f of ['tokenizer.json', 'vocab.txt']) await copyFile(join(BASE_TOKENIZER_DIR, f), join(bertDir, f));
  const source = {
    ...(JSON.parse(await readFile(join(BASE_TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')) as object),
    tokenizer_class: 'BertTokenizer',
  };
  await writeFile(join(bertDir, 'tokenizer_config.json'), JSON.stringify(source));
  const data = await prepare(bertDir, 'bert');
  const out = join(tmp.dir, 'distilbert-on-bert');
  const r = await train(data, TINY_CONFIG, out);
  assert.equal(r.code, 0, r.stderr);
  const expected = {
    ...source,
    tokenizer_class: 'DistilBertTokenizer',
    model_input_names: ['input_ids', 'attention_mask'],
  };
  for (const dir of [out, join(out, 'checkpoint-4')]) {
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')), expected, dir);
    for (const f of ['tokenizer.json', 'vocab.txt'])
      assert.deepEqual(
        await readFile(join(dir, f)),
        await readFile(join(bertDir, f)),
        `${dir}/${f} is the prepared tokenizer's`,
      );
  }
});

test('a tokenizer that pads with another id than the model is refused before anything is written', {
  timeout: 120_000,
}, async () => {
  // tiny-roberta-bpe: 4000 tokens, <pad> 1; a DistilBERT of 4000 rows with pad_token_id 0
  const data = await prepare(join(sharedDir, 'models', 'tiny-roberta-bpe'), 'roberta-bpe');
  const out = join(tmp.dir, 'pad-mismatch');
  const r = await train(data, { ...TINY_CONFIG, vocab_size: 4000 }, out);
  assertOneLineError(
    r,
    /the tokenizer in .*tiny-roberta-bpe pads with id 1 \(<pad>\), but the model \(.*pad-mismatch-config\.json\) has pad_token_id 0/,
  );
  assert.match(r.stderr, /qa-ft prepare --tokenizer/);
  assert.ok(!existsSync(out), 'nothing written');
});

test('a tokenizer with an id beyond the embedding rows is refused before anything is written, though it has fewer tokens', {
  timeout: 120_000,
}, async () => {
  // 114 tokens, but "zebra" is id 200: the data's vocabulary size (114) fits 120 rows, its ids do not
  const dir = await writeSmallTokenizer(join(tmp.dir, 'gap-tokenizer'));
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  };
  json.model.vocab.zebra = 200;
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const data = await prepare(dir, 'gap');
  const out = join(tmp.dir, 'gap-model');
  const r = await train(data, { ...TINY_CONFIG, vocab_size: 120 }, out);
  assertOneLineError(
    r,
    /the tokenizer in .*gap-tokenizer has token ids up to 200, but the model \(.*gap-model-config\.json\) has 120 embedding rows \(vocab_size\)/,
  );
  assert.ok(!existsSync(out), 'nothing written');
});
