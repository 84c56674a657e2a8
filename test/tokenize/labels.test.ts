import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { answerTokenLabels, noAnswerLabels } from '../../src/tokenize/labels.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { sharedDir } from '../helpers/cli.js';

// [CLS] q q [SEP] "the(0,3) big(4,7) red(8,11) fox(12,15) ##es(15,17)" [SEP]
const offsets: ([number, number] | null)[] = [
  null,
  null,
  null,
  null,
  [0, 3],
  [4, 7],
  [8, 11],
  [12, 15],
  [15, 17],
  null,
];
const CS = 4;
const CE = 8;

test('answer on whole tokens → its first and last token', () => {
  // "big red" = chars [4, 11)
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 4, 11), { start: 5, end: 6 });
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 4, 11, 'whole'), { start: 5, end: 6 });
});

test('answer inside a word → the tokens that contain its ends', () => {
  // "ig re" = [5, 10): start walks to the last token starting ≤ 5 (big), end to the first ending ≥ 10 (red)
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 5, 10), { start: 5, end: 6 });
  // "foxes" = [12, 17) spans two word pieces
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 12, 17), { start: 7, end: 8 });
});

test('answer wholly after the window → (0, 0) under both rules', () => {
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 30, 35), { start: 0, end: 0 });
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 30, 35, 'whole'), { start: 0, end: 0 });
});

test('answer wholly before the window (a later stride window) → (0, 0)', () => {
  const later: ([number, number] | null)[] = [null, null, [40, 43], [44, 47], null];
  assert.deepEqual(answerTokenLabels(later, 2, 3, 4, 11), { start: 0, end: 0 });
  assert.deepEqual(answerTokenLabels(later, 2, 3, 4, 11, 'whole'), { start: 0, end: 0 });
});

test('answer cut off by truncation: the seed still labels it (end one past the context), run_qa gives (0, 0)', () => {
  // "foxes and more" = [12, 26): starts inside the window, ends after it
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 12, 26), { start: 7, end: 9 });
  assert.deepEqual(answerTokenLabels(offsets, CS, CE, 12, 26, 'whole'), { start: 0, end: 0 });
});

test('a window with no context token → (0, 0)', () => {
  assert.deepEqual(answerTokenLabels([null, null, null], 2, 1, 0, 3), { start: 0, end: 0 });
});

test('no answer (SQuAD 2.0) → both labels at the [CLS] index: 0 for BERT windows, the first [CLS] wherever it is', () => {
  assert.deepEqual(noAnswerLabels([101, 7, 102, 9, 102], 101), { start: 0, end: 0 });
  assert.deepEqual(noAnswerLabels([7, 8, 102, 9, 102, 3, 101], 3), { start: 5, end: 5 }); // XLNet-style: CLS last
});

test('an unanswerable question is labelled at [CLS] in every doc-stride window; its answerable twin is not', async () => {
  const tok = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  const filler = 'Farmers grow cloves and coconuts on the green island near the coast. ';
  const context = `${filler.repeat(12)}The capital is Zanzibar City. ${filler.repeat(12)}`;
  const answerStart = context.indexOf('Zanzibar City');
  const rows = [
    { id: 'none', title: 't', context, question: 'What is the currency?', answers: { text: [], answer_start: [] } },
    {
      id: 'has',
      title: 't',
      context,
      question: 'What is the capital?',
      answers: { text: ['Zanzibar City'], answer_start: [answerStart] },
    },
  ];
  const { features } = await prepareFeatures(rows, tok, { maxLength: 64, docStride: 16 });
  const none = features.filter((f) => f.exampleId === 'none');
  assert.ok(none.length > 5, `${none.length} windows`);
  for (const f of none) {
    assert.equal(f.inputIds[0], tok.clsTokenId);
    assert.deepEqual([f.startPosition, f.endPosition], [0, 0]);
  }
  const labelled = features.filter((f) => f.exampleId === 'has' && f.startPosition > 0);
  assert.ok(labelled.length >= 1);
  for (const f of labelled)
    assert.equal(await tok.decode(f.inputIds.slice(f.startPosition, f.endPosition + 1)), 'zanzibar city');
});
