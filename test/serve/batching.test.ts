// The batching answerer's timing rule: a pass waits for items that arrived together and are still being tokenized,
// so a burst of requests goes through the model in one pass rather than split at whoever finished tokenizing first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { lengthGroups, type BatchingAnswerer } from '../../src/infer/batching.js';
import { openFixture } from './helpers.js';

let answerer: BatchingAnswerer;
const passes: number[] = [];
before(async () => {
  answerer = await openFixture({ maxBatchSize: 64, maxWaitMs: 0 });
  await answerer.answer({ question: 'warm?', context: 'The tokenizer and the model, warmed up.' });
  answerer.onBatch((windows) => passes.push(windows));
  // tokenizing finishes at staggered times, as it does for a burst of requests read after a pass
  const tokenizer = answerer.tokenizer;
  const encodeTexts = tokenizer.encodeTexts.bind(tokenizer);
  let calls = 0;
  tokenizer.encodeTexts = async (texts) => {
    const delay = calls++; // ms, well within the answerer's 20 ms cap
    const out = await encodeTexts(texts);
    await new Promise((resolve) => setTimeout(resolve, delay));
    return out;
  };
});
after(() => answerer.close());

test('items tokenized a few ms apart share one forward pass even with no wait set', async () => {
  const item = { question: 'Who wrote it?', context: 'It was written by Ada in 1843.' };
  const answers = await Promise.all(Array.from({ length: 6 }, () => answerer.answer(item)));
  assert.equal(answers.length, 6);
  for (const a of answers) assert.deepEqual(a, answers[0]);
  assert.deepEqual(passes, [6], `windows per pass: ${passes.join(', ')}`);
});

const windowsOf = (...lengths: number[]) =>
  lengths.map((n) => ({ feature: { inputIds: new Array<number>(n).fill(0) } }));
const lengthsOf = (groups: { feature: { inputIds: ArrayLike<number> } }[][]) =>
  groups.map((g) => g.map((w) => w.feature.inputIds.length));

test('a batch of two length clusters goes through the model as two passes, longest first', () => {
  // one pass: 5 × 384 padded tokens; two: 2 × 384 + 3 × 200, which saves more than a pass's overhead
  assert.deepEqual(lengthsOf(lengthGroups(windowsOf(190, 384, 200, 180, 380))), [
    [384, 380],
    [200, 190, 180],
  ]);
});

test('windows of equal or close lengths share one pass', () => {
  assert.deepEqual(lengthsOf(lengthGroups(windowsOf(150, 150, 150, 150))), [[150, 150, 150, 150]]);
  assert.deepEqual(lengthsOf(lengthGroups(windowsOf(160, 170, 150))), [[170, 160, 150]]);
  assert.deepEqual(lengthGroups([]), []);
});
