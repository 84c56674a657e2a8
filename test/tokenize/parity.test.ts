/**
 * Label parity with the Hugging Face tutorial on all 5000 rows of the shared SQuAD slice: an independent
 * transcription of the tutorial's `preprocess_function` loop runs over the library's own truncating encoder
 * (`truncation="only_second", max_length=384`), and every input id and start/end label must equal ours; the same
 * for RoBERTa's byte-level BPE and ALBERT's Unigram tokenizers (with their token type ids) on 1500 rows.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { readSquad } from '../../src/data/read.js';
import { pyStrip } from '../../src/util/py-string.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { sharedDir } from '../helpers/cli.js';

const modelDir = join(sharedDir, 'models', 'distilbert-base-uncased');
const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');

/** The tutorial's loop body for one example, transcribed line by line from Python. */
function seedLabels(
  offset: number[][],
  sequenceIds: (number | null | undefined)[],
  answer: { text: string[]; answer_start: number[] },
): [number, number] {
  const startChar = answer.answer_start[0] as number;
  const endChar = startChar + [...(answer.text[0] as string)].length; // len() counts code points
  let idx = 0;
  while (sequenceIds[idx] !== 1) idx += 1;
  const contextStart = idx;
  while (sequenceIds[idx] === 1) idx += 1;
  const contextEnd = idx - 1;
  const o = (i: number): number[] => offset[i] as number[];
  if ((o(contextStart)[0] as number) > endChar || (o(contextEnd)[1] as number) < startChar) return [0, 0];
  idx = contextStart;
  while (idx <= contextEnd && (o(idx)[0] as number) <= startChar) idx += 1;
  const start = idx - 1;
  idx = contextEnd;
  while (idx >= contextStart && (o(idx)[1] as number) >= endChar) idx -= 1;
  return [start, idx + 1];
}

test('labels and ids equal the tutorial preprocess_function on all 5000 rows of train-first5000.parquet', async () => {
  const { rows } = await readSquad(parquet);
  assert.equal(rows.length, 5000);
  assert.equal(rows[0]?.id, '5733be284776f41900661182');
  assert.deepEqual(rows[0]?.answers, { text: ['Saint Bernadette Soubirous'], answer_start: [515] });

  const ours = await prepareFeatures(rows, await loadTokenizer(modelDir), { maxLength: 384 });
  assert.equal(ours.features.length, 5000);

  const lib = Tokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  lib.setTruncation(384, { strategy: 'OnlySecond' as never });
  let truncated = 0;
  let zero = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const enc = await lib.encode(pyStrip(row.question), row.context);
    const expected = seedLabels(enc.getOffsets(), enc.getSequenceIds(), {
      text: [...row.answers.text],
      answer_start: [...row.answers.answer_start],
    });
    const f = ours.features[i]!;
    assert.deepEqual(f.inputIds, enc.getIds(), `row ${i} (${row.id}): input ids differ`);
    assert.deepEqual([f.startPosition, f.endPosition], expected, `row ${i} (${row.id}): labels differ`);
    if (enc.getIds().length === 384) truncated++;
    if (expected[0] === 0 && expected[1] === 0) zero++;
  }
  // the shared README: 90 of these rows are truncated at 384
  assert.equal(truncated, 90);
  assert.equal(ours.stats.truncated, 90);
  assert.equal(ours.stats.unanswerable, zero);
  assert.ok(zero > 0, 'some truncated answers are labelled (0, 0)');
});

for (const name of ['tiny-roberta-bpe', 'tiny-albert-unigram']) {
  test(`${name}: ids, token type ids and labels equal the tutorial preprocess_function over the library's own truncation on 1500 rows`, async () => {
    const dir = join(sharedDir, 'models', name);
    const rows = (await readSquad(parquet)).rows.slice(0, 1500);
    const ours = await prepareFeatures(rows, await loadTokenizer(dir), { maxLength: 384 });
    assert.equal(ours.features.length, rows.length);
    const lib = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    lib.setTruncation(384, { strategy: 'OnlySecond' as never });
    let labelled = 0;
    for (const [i, row] of rows.entries()) {
      const enc = await lib.encode(pyStrip(row.question), row.context);
      const expected = seedLabels(enc.getOffsets(), enc.getSequenceIds(), {
        text: [...row.answers.text],
        answer_start: [...row.answers.answer_start],
      });
      const f = ours.features[i]!;
      assert.deepEqual(f.inputIds, enc.getIds(), `row ${i} (${row.id}): input ids differ`);
      assert.deepEqual(
        f.tokenTypeIds ?? f.inputIds.map(() => 0),
        enc.getTypeIds(),
        `row ${i} (${row.id}): token type ids differ`,
      );
      assert.deepEqual([f.startPosition, f.endPosition], expected, `row ${i} (${row.id}): labels differ`);
      if (expected[0] !== 0) labelled++;
    }
    assert.ok(labelled > 1450, `${labelled} rows labelled`);
  });
}
