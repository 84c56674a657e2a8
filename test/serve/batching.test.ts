// The batching answerer's timing rule: a pass waits for items that arrived together and are still being tokenized,
// so a burst of requests goes through the model in one pass rather than split at whoever finished tokenizing first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BatchingAnswerer } from '../../src/infer/batching.js';
import { openFixture } from './helpers.js';

let answerer: BatchingAnswerer;
const passes: number[] = [];
before(async () => {
  answerer = await openFixture({ maxBatchSize: 64, maxWaitMs: 0 });
  answerer.onBatch((windows) => passes.push(windows));
  // tokenizing finishes at staggered times, as it does for a burst of requests read after a pass
  const tokenizer = answerer.tokenizer;
  const encodeTexts = tokenizer.encodeTexts.bind(tokenizer);
  let calls = 0;
  tokenizer.encodeTexts = async (texts) => {
    const delay = 2 * calls++;
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
