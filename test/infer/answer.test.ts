import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { join } from 'node:path';
import { QaFtError } from '../../src/errors.js';
import { answerQuestions } from '../../src/infer/answer.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { encodeWindows } from '../../src/tokenize/windows.js';
import { sharedDir } from '../helpers/cli.js';
import { fakeModel } from './fake-model.js';

let tokenizer: QaTokenizer;
let zebra: number;
let lion: number;
before(async () => {
  tokenizer = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  const one = async (word: string): Promise<number> => {
    const { ids } = await tokenizer.encodeText(word);
    assert.equal(ids.length, 1, `${word} is one token`);
    return ids[0]!;
  };
  zebra = await one('zebra');
  lion = await one('lion');
});

const FILLER = 'The river flows past the old mill near the village. '; // 11 tokens

test('a context 3× longer than 384 tokens is answered from its last window', async () => {
  const tail = 'At the end, a zebra met a lion by the water.';
  const context = FILLER.repeat(105) + tail; // ≈ 1170 context tokens
  const question = 'Who met whom?';
  const windows = await encodeWindows(tokenizer, question, context, { maxLength: 384, docStride: 128 });
  assert.ok(windows.length >= 4, `${windows.length} windows`);
  assert.ok(windows.reduce((n, w) => n + w.contextEnd - w.contextStart + 1, 0) > 3 * 384);
  const holding = windows.flatMap((w, i) => (w.inputIds.includes(zebra) ? [i] : []));
  assert.deepEqual(holding, [windows.length - 1], 'only the last window holds the answer');

  const { model, batches } = fakeModel({ startById: new Map([[zebra, 8]]), endById: new Map([[lion, 8]]) });
  const [answers] = await answerQuestions(model, tokenizer, [{ question, context }], { batchSize: 3 });
  const expectedStart = context.indexOf('zebra');
  assert.deepEqual(answers, [
    {
      answer: 'zebra met a lion',
      score: answers![0]!.score,
      start: expectedStart,
      end: expectedStart + 'zebra met a lion'.length,
    },
  ]);
  assert.ok(answers![0]!.score > 0.99, 'the planted span dominates its n-best list');
  // every window went through the model, none longer than 384 tokens
  assert.equal(
    batches.reduce((n, b) => n + b.inputIds.length, 0),
    windows.length,
  );
  assert.ok(batches.every((b) => b.inputIds[0]!.length <= 384));
});

test('without the stride the answer would be lost: a one-window cut never sees it', async () => {
  // the check above is meaningful only if the first window alone cannot answer
  const context = `${FILLER.repeat(105)}a zebra met a lion`;
  const [first] = await encodeWindows(tokenizer, 'Who?', context, { maxLength: 384 });
  assert.ok(!first!.inputIds.includes(zebra));
});

test('top-k gives k different spans best first, with character offsets into the original text', async () => {
  const context = 'A  zebra met a lion; later a lion met a zebra.';
  const { model } = fakeModel({ startById: new Map([[zebra, 5]]), endById: new Map([[lion, 5]]) });
  const [answers] = await answerQuestions(model, tokenizer, [{ question: 'Who met?', context }], { topK: 3 });
  assert.equal(answers!.length, 3);
  assert.equal(answers![0]!.answer, 'zebra met a lion'); // the only zebra…lion pair with end ≥ start
  assert.equal(answers![0]!.start, 3);
  for (const a of answers!) assert.equal(a.answer, context.slice(a.start!, a.end!));
  assert.equal(new Set(answers!.map((a) => `${a.start}:${a.end}`)).size, 3);
  assert.ok(answers![0]!.score >= answers![1]!.score && answers![1]!.score >= answers![2]!.score);
});

test('max answer length bounds the span in tokens', async () => {
  const context = 'zebra one two three four five six seven lion';
  const { model } = fakeModel({ startById: new Map([[zebra, 5]]), endById: new Map([[lion, 5]]) });
  const [long] = await answerQuestions(model, tokenizer, [{ question: 'q?', context }], { maxAnswerLength: 30 });
  assert.equal(long![0]!.answer, context);
  const [short] = await answerQuestions(model, tokenizer, [{ question: 'q?', context }], { maxAnswerLength: 8 });
  assert.notEqual(short![0]!.answer, context); // 9 tokens do not fit in 8
});

test('several items are batched together and answered in order', async () => {
  const { model, batches } = fakeModel({ startById: new Map([[zebra, 5]]), endById: new Map([[lion, 5]]) });
  const items = [
    { question: 'a?', context: 'the zebra and the lion' },
    { question: 'b?', context: 'lion first, then zebra, then a lion' },
  ];
  const out = await answerQuestions(model, tokenizer, items, { batchSize: 8 });
  assert.equal(batches.length, 1);
  assert.deepEqual(
    out.map((a) => a[0]!.answer),
    ['zebra and the lion', 'zebra, then a lion'],
  );
});

test('argmax strategy decodes the tokens between argmax start and end (empty when reversed)', async () => {
  const { model } = fakeModel({ startById: new Map([[zebra, 5]]), endById: new Map([[lion, 5]]) });
  const a = (
    await answerQuestions(model, tokenizer, [{ question: 'Who?', context: 'A Zebra met a Lion.' }], {
      strategy: 'argmax',
    })
  )[0]![0]!;
  assert.equal(a.answer, 'zebra met a lion'); // decoded word pieces (lower-cased), not the context text
  assert.deepEqual([a.start, a.end], [2, 18]);
  const { model: reversed } = fakeModel({ startById: new Map([[lion, 5]]), endById: new Map([[zebra, 5]]) });
  const r = (
    await answerQuestions(reversed, tokenizer, [{ question: 'Who?', context: 'A zebra met a lion.' }], {
      strategy: 'argmax',
    })
  )[0]![0]!;
  assert.equal(r.answer, ''); // end before start: empty, as the tutorial's slice
  assert.equal(r.start, null);
});

function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  return assert.rejects(
    p,
    (e: unknown) => e instanceof QaFtError && pattern.test(e.message) && !e.message.includes('\n'),
  );
}

test('empty question, empty context and a context without text tokens are one-line errors naming the item', async () => {
  const { model } = fakeModel({});
  await rejects(answerQuestions(model, tokenizer, [{ question: '  ', context: 'x' }]), /item 1: the question is empty/);
  await rejects(
    answerQuestions(model, tokenizer, [
      { question: 'q', context: 'ok' },
      { question: 'q', context: '\n\t ' },
    ]),
    /item 2: the context is empty/,
  );
  await rejects(
    answerQuestions(model, tokenizer, [{ question: 'q', context: '\u0000\u0001\u200b' }]),
    /item 1: the context has no text tokens/,
  );
});

test("a window longer than the model's position table is refused", async () => {
  const { model } = fakeModel({ maxPositionEmbeddings: 64 });
  await rejects(
    answerQuestions(model, tokenizer, [{ question: 'q', context: 'c' }], { maxLength: 384 }),
    /exceeds the model's 64 positions/,
  );
});

test('handleImpossibleAnswer: "" with the null entry\'s probability when [CLS] wins, the span when it does not', async () => {
  const question = 'Who met whom?';
  const cls = tokenizer.clsTokenId;
  const items = [
    { question, context: 'The sun rose over the hills.' }, // no zebra/lion: spans score 0, null 3 + 3
    { question, context: 'A zebra met a lion.' }, // span 8 + 8 beats the null
  ];
  const { model } = fakeModel({
    startById: new Map([
      [zebra, 8],
      [cls, 3],
    ]),
    endById: new Map([
      [lion, 8],
      [cls, 3],
    ]),
  });
  const [none, some] = await answerQuestions(model, tokenizer, items, { handleImpossibleAnswer: true, topK: 2 });
  assert.equal(none![0]!.answer, '');
  assert.deepEqual([none![0]!.start, none![0]!.end, none![0]!.nullScoreDiff], [null, null, 6]);
  assert.ok(none![0]!.score > 0.5, `the null entry dominates: ${none![0]!.score}`);
  assert.notEqual(none![1]!.answer, ''); // the next n-best entry: a span
  assert.equal(some![0]!.answer, 'zebra met a lion');
  assert.equal(some![0]!.nullScoreDiff, 6 - 16);
  assert.equal(some![1]!.answer === '' || some![1]!.start !== null, true);
  // a threshold above the null's lead keeps the span answer; without the option the null never competes
  const [lenient] = await answerQuestions(model, tokenizer, [items[0]!], {
    handleImpossibleAnswer: true,
    nullScoreDiffThreshold: 6,
  });
  assert.notEqual(lenient![0]!.answer, '');
  const [plain] = await answerQuestions(model, tokenizer, [items[0]!], {});
  assert.notEqual(plain![0]!.answer, '');
  assert.equal(plain![0]!.nullScoreDiff, undefined);
  await assert.rejects(
    answerQuestions(model, tokenizer, items, { handleImpossibleAnswer: true, strategy: 'argmax' }),
    /needs the best strategy/,
  );
});
