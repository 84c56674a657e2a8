import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDataFitsModel, takesTokenTypeIds } from '../../src/tokenize/model-fit.js';
import type { Feature } from '../../src/records.js';

const bert = { vocabSize: 100, maxPositionEmbeddings: 16, typeVocabSize: 2 };
const roberta = { vocabSize: 100, maxPositionEmbeddings: 16, typeVocabSize: 1 };
const distilbert = { vocabSize: 100, maxPositionEmbeddings: 16 };
const manifest = (tokenTypeIds?: boolean) => ({
  manifest: { maxLength: 16, tokenizer: { dir: '/t', files: [], vocabSize: 100, ...(tokenTypeIds === undefined ? {} : { tokenTypeIds }) } },
  dir: 'data',
});

test('models with a token type table take token type ids; DistilBERT and type_vocab_size 0 (DeBERTa-v3) take none', () => {
  assert.equal(takesTokenTypeIds(bert), true);
  assert.equal(takesTokenTypeIds(roberta), true);
  assert.equal(takesTokenTypeIds(distilbert), false);
  assert.equal(takesTokenTypeIds({ ...bert, typeVocabSize: 0 }), false);
});

test('data prepared without token type ids by an older qa-ft is refused for a model with two types, in one line', () => {
  assert.throws(() => checkDataFitsModel(manifest(), bert), { code: 'BAD_DATA', message: /older qa-ft without token type ids.*type_vocab_size 2/ });
  checkDataFitsModel(manifest(), distilbert);
  checkDataFitsModel(manifest(), roberta);
  checkDataFitsModel(manifest(true), bert);
  checkDataFitsModel(manifest(false), bert); // a RoBERTa-style tokenizer gives none: zeros, as Python feeds
});

test('BERT-style token types (0 and 1) for a model with one type are refused, from the manifest or the features', () => {
  assert.throws(() => checkDataFitsModel(manifest(true), roberta), { code: 'BAD_CONFIG', message: /type_vocab_size 1/ });
  const f: Feature = { exampleId: 'x', inputIds: [1, 2, 3], offsets: [null, null, null], tokenTypeIds: [0, 0, 1], startPosition: 0, endPosition: 0 };
  assert.throws(() => checkDataFitsModel({ features: [f] }, roberta), { code: 'BAD_DATA', message: /'x' has token type id 1, beyond the model's type_vocab_size 1/ });
  checkDataFitsModel({ features: [f] }, bert);
  checkDataFitsModel({ features: [f] }, distilbert);
});
