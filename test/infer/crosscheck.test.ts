// The metric and `best` against Python transcriptions of the official SQuAD v1.1 script and of HF utils_qa
// (fixtures/make_crosscheck.py: Python's own str.lower/re \b/str.split/slicing on random Unicode inputs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { bestSpans } from '../../src/infer/postprocess.js';
import { f1Score, normalizeAnswer } from '../../src/infer/squad-metric.js';

interface Crosscheck {
  metric: { strings: string[]; normalized: string[]; pairs: [string, string][]; f1: number[] };
  best: {
    context: string;
    cases: {
      windows: { offsets: ([number, number] | null)[]; startLogits: number[]; endLogits: number[] }[];
      nBest: number;
      maxAnswerLength: number;
      expected: { text: string; probability: number }[];
    }[];
  };
}
const data = JSON.parse(readFileSync(new URL('./fixtures/crosscheck.json', import.meta.url), 'utf8')) as Crosscheck;

test("normalisation and F1 equal Python's official-script semantics on 300 random Unicode strings", () => {
  data.metric.strings.forEach((s, i) => assert.equal(normalizeAnswer(s), data.metric.normalized[i], JSON.stringify(s)));
  data.metric.pairs.forEach(([p, g], i) =>
    assert.ok(Math.abs(f1Score(p, g) - data.metric.f1[i]!) < 1e-12, JSON.stringify([p, g])),
  );
});

test('best equals HF utils_qa (n-best texts and probabilities) on 40 random multi-window cases', () => {
  for (const [k, c] of data.best.cases.entries()) {
    const spans = bestSpans(data.best.context, c.windows, { nBest: c.nBest, maxAnswerLength: c.maxAnswerLength });
    const got =
      spans.length === 0
        ? [{ text: 'empty', probability: 1 }]
        : spans.map((s) => ({ text: s.text, probability: s.probability }));
    assert.deepEqual(
      got.map((g) => g.text),
      c.expected.map((e) => e.text),
      `case ${k}`,
    );
    got.forEach((g, i) =>
      assert.ok(Math.abs(g.probability - c.expected[i]!.probability) < 1e-9, `case ${k} entry ${i}`),
    );
  }
});
