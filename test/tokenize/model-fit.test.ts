import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/model/config.js';
import { checkDataFitsModel, checkTokenizerFitsModel, takesTokenTypeIds } from '../../src/tokenize/model-fit.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import type { Feature } from '../../src/records.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';
import { writeSmallTokenizer } from '../helpers/small-tokenizer.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';

const bert = { vocabSize: 100, maxPositionEmbeddings: 16, typeVocabSize: 2 };
const roberta = { vocabSize: 100, maxPositionEmbeddings: 16, typeVocabSize: 1 };
const distilbert = { vocabSize: 100, maxPositionEmbeddings: 16 };
const manifest = (tokenTypeIds?: boolean) => ({
  manifest: {
    maxLength: 16,
    tokenizer: { dir: '/t', files: [], vocabSize: 100, ...(tokenTypeIds === undefined ? {} : { tokenTypeIds }) },
  },
  dir: 'data',
});

test('models with a token type table take token type ids; DistilBERT and type_vocab_size 0 (DeBERTa-v3) take none', () => {
  assert.equal(takesTokenTypeIds(bert), true);
  assert.equal(takesTokenTypeIds(roberta), true);
  assert.equal(takesTokenTypeIds(distilbert), false);
  assert.equal(takesTokenTypeIds({ ...bert, typeVocabSize: 0 }), false);
});

test('data prepared without token type ids by an older qa-ft is refused for a model with two types, in one line', () => {
  assert.throws(() => checkDataFitsModel(manifest(), bert), {
    code: 'BAD_DATA',
    message: /older qa-ft without token type ids.*type_vocab_size 2/,
  });
  checkDataFitsModel(manifest(), distilbert);
  checkDataFitsModel(manifest(), roberta);
  checkDataFitsModel(manifest(true), bert);
  checkDataFitsModel(manifest(false), bert); // a RoBERTa-style tokenizer gives none: zeros, as Python feeds
});

test('BERT-style token types (0 and 1) for a model with one type are refused, from the manifest or the features', () => {
  assert.throws(() => checkDataFitsModel(manifest(true), roberta), {
    code: 'BAD_CONFIG',
    message: /type_vocab_size 1/,
  });
  const f: Feature = {
    exampleId: 'x',
    inputIds: [1, 2, 3],
    offsets: [null, null, null],
    tokenTypeIds: [0, 0, 1],
    startPosition: 0,
    endPosition: 0,
  };
  assert.throws(() => checkDataFitsModel({ features: [f] }, roberta), {
    code: 'BAD_DATA',
    message: /'x' has token type id 1, beyond the model's type_vocab_size 1/,
  });
  checkDataFitsModel({ features: [f] }, bert);
  checkDataFitsModel({ features: [f] }, distilbert);
});

let tmp: { dir: string; cleanup: () => Promise<void> };
/** 113 WordPiece tokens, [PAD] 0, [CLS] 2, [SEP] 3. */
let small: QaTokenizer;
before(async () => {
  tmp = await makeTempDir('qa-ft-model-fit-');
  small = await loadTokenizer(await writeSmallTokenizer(join(tmp.dir, 'small')));
});
after(() => tmp.cleanup());

const fixture = (family: string): string => join(sharedDir, 'fixtures', `tiny-${family}-qa`);
const HINT = 'use the model’s tokenizer';

test('a tokenizer that fits the model passes: ids below its rows, its padding id; configs without cls/bos ids compare none', async () => {
  for (const family of ['distilbert', 'bert', 'electra', 'deberta-v2']) {
    checkTokenizerFitsModel(small, await loadConfig(fixture(family)), `${family}/config.json`, HINT);
  }
  // ALBERT's config names [CLS] 2 and [SEP] 3 as bos/eos_token_id: the small tokenizer's ids
  checkTokenizerFitsModel(small, await loadConfig(fixture('albert')), 'albert/config.json', HINT);
});

test('a 30,522-token tokenizer with a 120-row embedding is refused in one line naming both', async () => {
  const base = await loadTokenizer(BASE_TOKENIZER_DIR);
  const config = await loadConfig(fixture('distilbert'));
  assert.throws(
    () => checkTokenizerFitsModel(base, config, 'model/config.json', HINT),
    (e: Error & { code?: string; hint?: string }) => {
      assert.equal(e.code, 'BAD_CONFIG');
      assert.match(
        e.message,
        /^the tokenizer in .*distilbert-base-uncased has token ids up to 30521, but the model \(model\/config\.json\) has 120 embedding rows \(vocab_size\)$/,
      );
      assert.equal(e.hint, HINT);
      return true;
    },
  );
});

test('an id beyond the rows is refused even when the vocabulary has fewer tokens than rows (a gap in its ids)', async () => {
  const dir = join(tmp.dir, 'gap');
  await writeSmallTokenizer(dir);
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  };
  json.model.vocab.zebra = 200; // 114 tokens, ids up to 200
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const gap = await loadTokenizer(dir);
  assert.equal(gap.vocabSize, 114);
  assert.deepEqual((await gap.encodeText('zebra')).ids, [200]);
  const config = await loadConfig(fixture('distilbert'));
  assert.throws(
    () => checkTokenizerFitsModel(gap, config, 'c.json', HINT),
    /has token ids up to 200, but the model \(c\.json\) has 120 embedding rows/,
  );
});

test("a padding id other than the config's pad_token_id, or a [CLS]/[SEP] other than its bos/eos_token_id, is refused naming both", async () => {
  // RoBERTa's config: pad 1, <s> 0, </s> 2; the WordPiece tokenizer pads with 0
  const robertaConfig = await loadConfig(fixture('roberta'));
  assert.throws(() => checkTokenizerFitsModel(small, robertaConfig, 'roberta/config.json', HINT), {
    code: 'BAD_CONFIG',
    message:
      /the tokenizer in .*small pads with id 0 \(\[PAD\]\), but the model \(roberta\/config\.json\) has pad_token_id 1$/,
  });
  const albert = await loadConfig(fixture('albert'));
  const withIds = (json: Record<string, unknown>) => ({ ...albert, json: { ...albert.json, ...json } });
  assert.throws(() => checkTokenizerFitsModel(small, withIds({ bos_token_id: 5 }), 'a.json', HINT), {
    message: /has the classifier token 2 \(\[CLS\]\), but the model \(a\.json\) has bos_token_id 5$/,
  });
  assert.throws(() => checkTokenizerFitsModel(small, withIds({ eos_token_id: 7 }), 'a.json', HINT), {
    message: /has the separator token 3 \(\[SEP\]\), but the model \(a\.json\) has eos_token_id 7$/,
  });
  // cls_token_id / sep_token_id, where a config states them, come before bos / eos
  assert.throws(() => checkTokenizerFitsModel(small, withIds({ cls_token_id: 9 }), 'a.json', HINT), {
    message: /has cls_token_id 9$/,
  });
  checkTokenizerFitsModel(small, withIds({ bos_token_id: 0, cls_token_id: 2, eos_token_id: null }), 'a.json', HINT);
});
