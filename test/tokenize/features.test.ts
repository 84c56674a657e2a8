import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { codePointLength } from '../../src/util/py-string.js';
import type { SquadRow } from '../../src/records.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { sharedDir } from '../helpers/cli.js';

let tok: QaTokenizer;
before(async () => {
  tok = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
});

/** A row whose answer is `answer` placed after `before` (answer_start in code points, as SQuAD counts). */
function row(id: string, before: string, answer: string, after: string, question = 'What is the capital?'): SquadRow {
  return {
    id,
    title: 't',
    context: before + answer + after,
    question,
    answers: { text: [answer], answer_start: [codePointLength(before)] },
  };
}

test('doc stride: every window that holds the whole answer labels exactly the answer tokens; the others (0, 0)', async () => {
  const filler = 'Farmers grow cloves and coconuts on the green island near the coast. ';
  const r = row('z', filler.repeat(30), 'Zanzibar City', `. ${filler.repeat(30)}`);
  const { features, stats } = await prepareFeatures([r], tok, { maxLength: 128, docStride: 48 });
  assert.ok(features.length > 5, `${features.length} windows`);
  assert.equal(stats.truncated, 1);
  let holding = 0;
  for (const f of features) {
    const holds =
      f.offsets.some((o) => o && o[0] <= 30 * filler.length && o[1] > 30 * filler.length) &&
      f.offsets.some((o) => o && o[1] >= 30 * filler.length + 13);
    if (f.startPosition === 0) {
      assert.equal(f.endPosition, 0);
      continue;
    }
    holding++;
    assert.ok(holds);
    assert.equal(await tok.decode(f.inputIds.slice(f.startPosition, f.endPosition + 1)), 'zanzibar city');
  }
  assert.ok(holding >= 1 && holding <= 3, `${holding} windows hold the answer`);
  assert.equal(stats.unanswerable, features.length - holding);
  assert.ok(features.every((f) => f.exampleId === 'z' && f.inputIds.length <= 128));
});

test('emoji and accents before the answer: code-point answer_start lands on the answer tokens', async () => {
  const r = row('e', 'Ça va 😀😀 très bien 👍🏽 — the capital is ', 'Zanzibar City', ' 🌴.');
  const { features } = await prepareFeatures([r], tok, { maxLength: 384 });
  const f = features[0]!;
  assert.equal(await tok.decode(f.inputIds.slice(f.startPosition, f.endPosition + 1)), 'zanzibar city');
  // the offsets of the label tokens point at the answer in code points
  const cps = Array.from(r.context);
  assert.equal(cps.slice(f.offsets[f.startPosition]![0], f.offsets[f.endPosition]![1]).join(''), 'Zanzibar City');
});

test('without a stride a long context is cut to one window; a cut-off answer is labelled as the tutorial does', async () => {
  const filler = 'Farmers grow cloves and coconuts on the green island near the coast. ';
  const early = row('a', 'The capital is ', 'Zanzibar City', `. ${filler.repeat(20)}`);
  const late = row('b', filler.repeat(20), 'Zanzibar City', '.');
  const { features, stats } = await prepareFeatures([early, late], tok, { maxLength: 64 });
  assert.equal(features.length, 2);
  assert.equal(stats.truncated, 2);
  assert.equal(
    await tok.decode(features[0]!.inputIds.slice(features[0]!.startPosition, features[0]!.endPosition + 1)),
    'zanzibar city',
  );
  assert.deepEqual([features[1]!.startPosition, features[1]!.endPosition], [0, 0]);
  assert.equal(stats.unanswerable, 1);
});

test('rows whose question leaves no room are skipped and counted; rows without an answer get (0, 0)', async () => {
  const long = row('long', 'The capital is ', 'Zanzibar City', '.', 'why '.repeat(70));
  const none: SquadRow = { ...row('none', 'No answer here', '', '.'), answers: { text: [], answer_start: [] } };
  const ok = row('ok', 'The capital is ', 'Zanzibar City', '.');
  const { features, stats, skippedExampleIds } = await prepareFeatures([long, none, ok], tok, { maxLength: 64 });
  assert.deepEqual(skippedExampleIds, ['long']);
  assert.equal(stats.skippedLongQuestion, 1);
  assert.deepEqual(features.map((f) => [f.exampleId, f.startPosition, f.endPosition]).slice(0, 1), [['none', 0, 0]]);
  assert.equal(features.length, 2);
});
