import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { answerQuestions } from '../../src/infer/answer.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { encodeWindows } from '../../src/tokenize/windows.js';
import { sharedDir } from '../helpers/cli.js';
import { fakeModel } from './fake-model.js';

const albertDir = join(sharedDir, 'models', 'tiny-albert-unigram');
const question = 'Who founded the school?';
const context = 'The school was founded in 1842 by Father Edward Sorin. '.repeat(3);

test('a model with token types gets the windows’ token type ids (0 question, 1 context, 0 padding); one without gets none', async () => {
  const tokenizer = await loadTokenizer(albertDir);
  const windows = await encodeWindows(tokenizer, question, context, { maxLength: 32, docStride: 8 });
  assert.ok(windows.length > 1);
  const albert = fakeModel({ typeVocabSize: 2 });
  await answerQuestions(albert.model, tokenizer, [{ question, context }], { maxLength: 32, docStride: 8 });
  const types = albert.batches.flatMap((b) => b.tokenTypeIds ?? []);
  assert.equal(types.length, windows.length);
  for (const [k, w] of windows.entries()) {
    const row = types[k]!;
    assert.deepEqual(row.slice(0, w.inputIds.length), w.tokenTypeIds);
    assert.ok(
      row.slice(w.inputIds.length).every((t) => t === 0),
      'padding is type 0',
    );
    assert.equal(row[w.contextStart], 1);
    assert.equal(row[1], 0);
  }
  const distilbert = fakeModel({});
  await answerQuestions(distilbert.model, tokenizer, [{ question, context }], { maxLength: 32, docStride: 8 });
  assert.ok(distilbert.batches.length > 0);
  assert.ok(distilbert.batches.every((b) => b.tokenTypeIds === undefined));
});
