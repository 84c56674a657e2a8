/**
 * The tokenizer_config.json saved beside a trained model names the model family's tokenizer class and the inputs the
 * model takes, whatever the tokenizer directory the data was prepared with called itself; its other settings stay.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { familyTokenizer, loadConfig, type ModelConfig } from '../../src/model/config.js';
import { fittedTokenizerConfig } from '../../src/tokenize/saved-tokenizer.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
/** distilbert-base-uncased's files with bert-base-uncased's class: what a BERT tokenizer directory holds. */
let bertDir: string;
before(async () => {
  tmp = await makeTempDir('qa-ft-saved-tokenizer-');
  bertDir = join(tmp.dir, 'bert-base-uncased');
  await mkdir(bertDir);
  for (const f of ['tokenizer.json', 'vocab.txt']) await copyFile(join(BASE_TOKENIZER_DIR, f), join(bertDir, f));
  const config = JSON.parse(await readFile(join(BASE_TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(
    join(bertDir, 'tokenizer_config.json'),
    JSON.stringify({ ...config, tokenizer_class: 'BertTokenizer' }),
  );
});
after(() => tmp.cleanup());

const config = (family: string): Promise<ModelConfig> => loadConfig(join(sharedDir, 'fixtures', `tiny-${family}-qa`));
async function fitted(tokenizer: QaTokenizer, family: string): Promise<Record<string, unknown>> {
  const c = await config(family);
  return JSON.parse(await fittedTokenizerConfig(tokenizer, familyTokenizer(c), c)) as Record<string, unknown>;
}

test('a BERT tokenizer saved with a DistilBERT is a DistilBertTokenizer without token_type_ids; its settings are kept', async () => {
  const saved = await fitted(await loadTokenizer(bertDir), 'distilbert');
  const source = JSON.parse(await readFile(join(bertDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(saved.do_lower_case, true);
  assert.deepEqual(saved, {
    ...source,
    tokenizer_class: 'DistilBertTokenizer',
    model_input_names: ['input_ids', 'attention_mask'],
  });
});

test('each family gets its own class, and token_type_ids exactly when it tells two types apart', async () => {
  const wordPiece = await loadTokenizer(bertDir);
  const bpe = await loadTokenizer(join(sharedDir, 'models', 'tiny-roberta-bpe'));
  const unigram = await loadTokenizer(join(sharedDir, 'models', 'tiny-albert-unigram'));
  const withTypes = ['input_ids', 'token_type_ids', 'attention_mask'];
  const without = ['input_ids', 'attention_mask'];
  const cases: Array<[QaTokenizer, string, string, string[]]> = [
    [wordPiece, 'bert', 'BertTokenizer', withTypes],
    [wordPiece, 'electra', 'ElectraTokenizer', withTypes],
    [bpe, 'roberta', 'RobertaTokenizer', without], // type_vocab_size 1
    [unigram, 'albert', 'AlbertTokenizer', withTypes],
    [unigram, 'deberta-v2', 'DebertaV2Tokenizer', without], // type_vocab_size 0
  ];
  for (const [tokenizer, family, tokenizerClass, inputs] of cases) {
    const saved = await fitted(tokenizer, family);
    assert.equal(saved.tokenizer_class, tokenizerClass, family);
    assert.deepEqual(saved.model_input_names, inputs, family);
  }
  // the 5.x-written source named "TokenizersBackend", a class transformers 4.x does not have
  assert.equal((await fitted(bpe, 'roberta')).pad_token, '<pad>');
});

test('a tokenizer of another kind than the family expects keeps its own class (the family class could not load it)', async () => {
  // a WordPiece tokenizer with a RoBERTa model (whose class needs BPE files): still a BertTokenizer, no token types
  const saved = await fitted(await loadTokenizer(bertDir), 'roberta');
  assert.equal(saved.tokenizer_class, 'BertTokenizer');
  assert.deepEqual(saved.model_input_names, ['input_ids', 'attention_mask']);
});

test('a tokenizer directory without tokenizer_config.json gets one naming the class and inputs', async () => {
  const dir = join(tmp.dir, 'vocab-only');
  await mkdir(dir);
  await copyFile(join(BASE_TOKENIZER_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  assert.deepEqual(await fitted(await loadTokenizer(dir), 'distilbert'), {
    model_input_names: ['input_ids', 'attention_mask'],
    tokenizer_class: 'DistilBertTokenizer',
  });
});
