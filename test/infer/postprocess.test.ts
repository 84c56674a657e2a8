import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pcg64 } from '../../src/data/rng.js';
import { codePointLength, codePointSlice } from '../../src/util/py-string.js';
import {
  argmaxSpan,
  bestSpans,
  cleanUpTokenization,
  nullAwareSpans,
  type WindowLogits,
} from '../../src/infer/postprocess.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { encodeWindows } from '../../src/tokenize/windows.js';
import { sharedDir } from '../helpers/cli.js';

const close = (a: number, b: number, tol = 1e-12): boolean => Math.abs(a - b) <= tol;

// "The quick fox": [CLS] Q [SEP]-like layout with three context tokens at 2..4.
const FOX = 'The quick fox';
const foxWindow: WindowLogits = {
  offsets: [null, null, [0, 3], [4, 9], [10, 13], null],
  startLogits: [5, 9, 1, 3, 0, 8], // the question token (1) and [SEP] (5) score highest but are not context
  endLogits: [5, 9, 0, 1, 4, 8],
};

test('best: n-best over context-token pairs with end ≥ start, scored by start+end logit, softmax probabilities', () => {
  const spans = bestSpans(FOX, [foxWindow], { nBest: 20, maxAnswerLength: 30 });
  // worked by hand: (3,4)=3+4=7, (2,4)=1+4=5, (3,3)=3+1=4, (4,4)=0+4=4, (2,3)=1+1=2, (2,2)=1+0=1
  assert.deepEqual(
    spans.map((s) => [s.text, s.score, s.startToken, s.endToken]),
    [
      ['quick fox', 7, 3, 4],
      ['The quick fox', 5, 2, 4],
      ['quick', 4, 3, 3], // ties keep HF's iteration order: start 3 (logit 3) is visited before start 4 (logit 0)
      ['fox', 4, 4, 4],
      ['The quick', 2, 2, 3],
      ['The', 1, 2, 2],
    ],
  );
  const z = 1 + Math.exp(-2) + 2 * Math.exp(-3) + Math.exp(-5) + Math.exp(-6);
  assert.ok(close(spans[0]!.probability, 1 / z));
  assert.ok(close(spans[2]!.probability, Math.exp(-3) / z));
  assert.deepEqual([spans[0]!.start, spans[0]!.end], [4, 13]);
});

test('best: spans longer than max answer length are dropped', () => {
  const spans = bestSpans(FOX, [foxWindow], { nBest: 20, maxAnswerLength: 2 });
  assert.ok(!spans.some((s) => s.text === 'The quick fox'));
  assert.equal(spans[0]!.text, 'quick fox');
  assert.equal(spans.length, 5);
});

test('best: only the top-n start and end tokens are considered, and the list is cut to n', () => {
  // top-4 starts are 1, 5, 0, 3 and top-4 ends 1, 5, 0, 4: the only context pair is (3, 4)
  const four = bestSpans(FOX, [foxWindow], { nBest: 4, maxAnswerLength: 30 });
  assert.deepEqual(
    four.map((s) => s.text),
    ['quick fox'],
  );
  assert.equal(four[0]!.probability, 1);
  // top-2 are all non-context tokens: no valid span at all
  assert.deepEqual(bestSpans(FOX, [foxWindow], { nBest: 2, maxAnswerLength: 30 }), []);
});

test('best: the best span over all windows wins, with its window index; padding logits are ignored', () => {
  const second: WindowLogits = {
    offsets: [null, [4, 9], [10, 13], null],
    startLogits: [0, 2, 6, 0, 100], // position 4 is batch padding beyond the window: never read
    endLogits: [0, 0, 6, 0, 100],
  };
  const spans = bestSpans(FOX, [foxWindow, second], { nBest: 20, maxAnswerLength: 30 });
  assert.equal(spans[0]!.text, 'fox');
  assert.equal(spans[0]!.score, 12);
  assert.equal(spans[0]!.window, 1);
  assert.equal(spans[1]!.text, 'quick fox'); // 2 + 6 = 8 from window 1 beats window 0's 7
  assert.equal(spans[1]!.window, 1);
});

test('best returns the exact context substring: accents, CJK, emoji and runs of whitespace kept', async () => {
  const tokenizer = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  const context = 'Le  Café Ünïcödé\tat 東京タワー 🗼 is   tall.';
  const [w] = await encodeWindows(tokenizer, 'Where?', context, { maxLength: 384, docStride: 128 });
  const n = w!.inputIds.length;
  const first = w!.offsets.findIndex((o) => o !== null && codePointSlice(context, o[0], o[1]) === 'Ünïcödé');
  const emoji = w!.offsets.findIndex((o) => o !== null && codePointSlice(context, o[0], o[1]) === '🗼');
  assert.ok(first > 0 && emoji > first, 'the tokenizer gives the accented word and the emoji their own tokens');
  const startLogits = new Array<number>(n).fill(0);
  const endLogits = new Array<number>(n).fill(0);
  startLogits[first] = 10;
  endLogits[emoji] = 10;
  const [top] = bestSpans(context, [{ offsets: w!.offsets, startLogits, endLogits }]);
  // the tokens decode to "unicode at 東 京 タ ##ワ ##ー [UNK]"; the answer is the original text
  assert.equal(top!.text, 'Ünïcödé\tat 東京タワー 🗼');
  assert.deepEqual([top!.start, top!.end], [9, 27]); // code points, as Python indexes the context
});

test('best never returns a span outside the context, over random logits on many windows', async () => {
  const tokenizer = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  const context = '  Ça va? 北京 is 🌍🌍 big — naïve   façade, 日本語のテキスト and «quotes» 🎉 end.  ';
  const windows = await encodeWindows(tokenizer, 'What is it?', context, { maxLength: 16, docStride: 3 });
  assert.ok(windows.length > 3, 'short windows force several of them');
  const pcg = new Pcg64(7); // the project's seeded generator: the same logits on every run
  const random = (): number => pcg.interval(1_000_000) / 1_000_000;
  const len = codePointLength(context);
  for (let trial = 0; trial < 200; trial++) {
    const logits = windows.map((w) => ({
      offsets: w.offsets,
      // +2 padding positions with huge logits that must be ignored
      startLogits: [...w.inputIds.map(() => random() * 10 - 5), 1e9, 1e9],
      endLogits: [...w.inputIds.map(() => random() * 10 - 5), 1e9, 1e9],
    }));
    for (const s of bestSpans(context, logits, { nBest: 20, maxAnswerLength: 30 })) {
      assert.ok(s.start >= 0 && s.end <= len && s.start < s.end, `span [${s.start}, ${s.end}) inside [0, ${len})`);
      assert.equal(s.text, codePointSlice(context, s.start, s.end));
      const offsets = windows[s.window]!.offsets;
      assert.ok(offsets[s.startToken] !== null && offsets[s.endToken] !== null, 'both ends are context tokens');
      assert.ok(s.endToken >= s.startToken && s.endToken - s.startToken < 30);
    }
  }
});

test('argmax: the first maximal start and end, the ids between them, char span only when valid', () => {
  const ids = [101, 7, 102, 20, 21, 22, 102];
  const w: WindowLogits = {
    offsets: [null, null, null, [0, 3], [4, 9], [10, 13], null],
    startLogits: [0, 1, 0, 4, 4, 1, 0, 99], // tie at 3 and 4 → 3 (torch.argmax takes the first); 99 is padding
    endLogits: [0, 1, 0, 0, 2, 5, 0, 99],
  };
  const span = argmaxSpan(ids, w);
  assert.deepEqual([span.startToken, span.endToken, span.ids], [3, 5, [20, 21, 22]]);
  assert.deepEqual([span.start, span.end], [0, 13]);
  const reversed = argmaxSpan(ids, { ...w, endLogits: [0, 9, 0, 0, 2, 5, 0] });
  assert.deepEqual([reversed.startToken, reversed.endToken, reversed.ids], [3, 1, []]);
  assert.deepEqual([reversed.start, reversed.end], [null, null]);
});

test('decode clean-up joins what the per-token WordPiece clean-up cannot (transformers clean_up_tokenization)', () => {
  assert.equal(cleanUpTokenization("it ' s a cat , isn ' t it ?"), "it's a cat, isn't it?");
  assert.equal(cleanUpTokenization('we do not know .'), 'we do not know.'); // no " do not" rule in Python
});

test('SQuAD 2.0: the null score (start+end at token 0) joins the n-best as ""; it wins by more than the threshold', () => {
  const options = { nBest: 20, maxAnswerLength: 30 };
  // null = 5 + 5 = 10, best span "quick fox" = 3 + 4 = 7: diff 3
  const p = nullAwareSpans(FOX, [foxWindow], options);
  assert.equal(p.answer, '');
  assert.equal(p.scoreDiff, 3);
  assert.deepEqual(p.nbest.map((e) => [e.kind, e.text, e.score]).slice(0, 3), [
    ['null', '', 10],
    ['span', 'quick fox', 7],
    ['span', 'The quick fox', 5],
  ]);
  const z = [10, 7, 5, 4, 4, 2, 1].reduce((sum, x) => sum + Math.exp(x - 10), 0);
  assert.ok(close(p.null?.probability ?? 0, 1 / z), `${p.null?.probability}`);
  assert.equal(p.best?.text, 'quick fox');
  // not above the threshold: the span
  assert.equal(nullAwareSpans(FOX, [foxWindow], { ...options, nullScoreDiffThreshold: 3 }).answer, 'quick fox');
  assert.equal(nullAwareSpans(FOX, [foxWindow], { ...options, nullScoreDiffThreshold: 2.5 }).answer, '');
});

test('SQuAD 2.0: the null score is the minimum over windows; a null below the n best is appended last', () => {
  // context-only window: top-2 starts 1 (3), 2 (2); top-2 ends 3 (4), 2 (2) → spans 7 "The quick fox", 6 "quick fox", 5, 4
  const low: WindowLogits = {
    offsets: [null, [0, 3], [4, 9], [10, 13], null],
    startLogits: [-1, 3, 2, 1, -5],
    endLogits: [-1, 1, 2, 4, -5],
  };
  const high: WindowLogits = { ...low, startLogits: [0.5, 3, 2, 1, -5], endLogits: [0.5, 1, 2, 4, -5] }; // null 1
  const p = nullAwareSpans(FOX, [high, low], { nBest: 2, maxAnswerLength: 30 });
  assert.deepEqual(
    p.nbest.map((e) => [e.kind, e.text, e.score]),
    [
      ['span', 'The quick fox', 7],
      ['span', 'The quick fox', 7],
      ['null', '', -2],
    ],
  );
  assert.equal(p.scoreDiff, -2 - 7);
  assert.equal(p.answer, 'The quick fox');
});

test('SQuAD 2.0: with no span at all, HF\'s "empty" placeholder comes first and the null decides against it', () => {
  const noContext: WindowLogits = { offsets: [null, null, null], startLogits: [0.5, 2, 3], endLogits: [0.25, 1, 1] };
  const p = nullAwareSpans('x', [noContext], { nBest: 20, maxAnswerLength: 30 });
  assert.deepEqual(
    p.nbest.map((e) => [e.kind, e.text]),
    [
      ['placeholder', 'empty'],
      ['null', ''],
    ],
  );
  assert.equal(p.scoreDiff, 0.75);
  assert.equal(p.answer, '');
});

interface NullCrosscheck {
  context: string;
  cases: {
    windows: { offsets: ([number, number] | null)[]; startLogits: number[]; endLogits: number[] }[];
    nBest: number;
    maxAnswerLength: number;
    threshold: number;
    expected: { answer: string; scoreDiff: number; nbest: { text: string; probability: number }[] };
  }[];
}

test('SQuAD 2.0 post-processing equals HF utils_qa (version_2_with_negative) on 60 random multi-window cases', () => {
  const data = JSON.parse(
    readFileSync(new URL('./fixtures/null-crosscheck.json', import.meta.url), 'utf8'),
  ) as NullCrosscheck;
  for (const [k, c] of data.cases.entries()) {
    const p = nullAwareSpans(data.context, c.windows, {
      nBest: c.nBest,
      maxAnswerLength: c.maxAnswerLength,
      nullScoreDiffThreshold: c.threshold,
    });
    assert.equal(p.answer, c.expected.answer, `case ${k}`);
    assert.ok(close(p.scoreDiff, c.expected.scoreDiff, 1e-9), `case ${k}: ${p.scoreDiff} vs ${c.expected.scoreDiff}`);
    assert.deepEqual(
      p.nbest.map((e) => e.text),
      c.expected.nbest.map((e) => e.text),
      `case ${k}`,
    );
    p.nbest.forEach((e, i) =>
      assert.ok(close(e.probability, c.expected.nbest[i]?.probability ?? NaN, 1e-9), `case ${k} entry ${i}`),
    );
  }
});
