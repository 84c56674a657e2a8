// The official SQuAD 2.0 metric: hand-worked cases for each rule, then a cross-check against a Python transcription
// of evaluate-v2.0.py on 331 generated questions (fixtures/make_squad_v2_crosscheck.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { f1Score } from '../../src/infer/squad-metric.js';
import { f1ScoreV2, squadV2Metrics, type SquadV2Metrics } from '../../src/infer/squad-v2-metric.js';

function assertClose(got: SquadV2Metrics, expected: Record<string, number>, what = ''): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `${what} keys`);
  for (const [k, v] of Object.entries(expected)) {
    const g = (got as unknown as Record<string, number>)[k];
    assert.ok(g !== undefined && Math.abs(g - v) < 1e-9, `${what} ${k}: got ${g}, expected ${v}`);
  }
}

test('F1: empty against non-empty is 0 either way; two empties (after normalisation) agree (v1.1 gave 0)', () => {
  assert.equal(f1ScoreV2('', 'Paris'), 0);
  assert.equal(f1ScoreV2('Paris', ''), 0);
  assert.equal(f1ScoreV2('', ''), 1);
  assert.equal(f1ScoreV2('The.', ''), 1); // "the." normalises to nothing
  assert.equal(f1Score('', ''), 0);
  assert.equal(f1ScoreV2('red cat', 'big red cat'), 0.8);
});

// a: right; b: no answer but predicted one; c: partial (F1 0.8); d: no answer, predicted none
const references = { a: ['Paris'], b: [], c: ['big red cat'], d: [] };
const predictions = { a: 'Paris', b: 'Paris', c: 'red cat', d: '' };

test('exact/f1/total with HasAns and NoAns splits, worked by hand', () => {
  // EM: 1, 0, 0, 1 → 50; F1: 1, 0, 0.8, 1 → 70; HasAns (a, c): 50 / 90; NoAns (b, d): 50 / 50
  assertClose(squadV2Metrics(predictions, references), {
    exact: 50,
    f1: 70,
    total: 4,
    HasAns_exact: 50,
    HasAns_f1: 90,
    HasAns_total: 2,
    NoAns_exact: 50,
    NoAns_f1: 50,
    NoAns_total: 2,
  });
  // only answerable questions: no NoAns keys (the script adds a group only when it has questions)
  assertClose(squadV2Metrics({ a: 'Paris' }, { a: ['Paris'] }), {
    exact: 100,
    f1: 100,
    total: 1,
    HasAns_exact: 100,
    HasAns_f1: 100,
    HasAns_total: 1,
  });
});

test('best thresholds, worked by hand: the sweep by rising no-answer probability', () => {
  // start: all abstain = 2 right (b, d). a (0.1): +1 → 3 (best, thresh 0.1); c (0.5): EM +0, F1 +0.8 → 3.8 (F1 best,
  // thresh 0.5); d (0.5): +0; b (0.9): predicted "Paris" for no answer, -1.
  const got = squadV2Metrics(predictions, references, { a: 0.1, b: 0.9, c: 0.5, d: 0.5 });
  assertClose(got, {
    exact: 50,
    f1: 70,
    total: 4,
    HasAns_exact: 50,
    HasAns_f1: 90,
    HasAns_total: 2,
    NoAns_exact: 50,
    NoAns_f1: 50,
    NoAns_total: 2,
    best_exact: 75,
    best_exact_thresh: 0.1,
    best_f1: 95,
    best_f1_thresh: 0.5,
  });
});

test('threshold sweep ties: the order of the probabilities file decides, as in the script', () => {
  const refs = { y: ['Paris'], x: [] };
  const preds = { y: 'Paris', x: 'Rome' };
  // start 1 (x abstains). y first: +1 → 2, a best at 0.5; then x: -1.
  const yFirst = squadV2Metrics(preds, refs, { y: 0.5, x: 0.5 });
  assert.equal(yFirst.best_exact, 100);
  assert.equal(yFirst.best_exact_thresh, 0.5);
  // x first: -1 → 0, then y: +1 → 1, never above the start: the best stays "abstain on all" at threshold 0
  const xFirst = squadV2Metrics(preds, refs, { x: 0.5, y: 0.5 });
  assert.equal(xFirst.best_exact, 50);
  assert.equal(xFirst.best_exact_thresh, 0);
});

test('a question missing from the predictions scores 0 everywhere and still counts in the totals', () => {
  const got = squadV2Metrics({ a: 'Paris' }, { a: ['Paris'], b: [] }, { a: 0.2 });
  // EM 1 + 0 over 2; NoAns: b unanswered → 0; sweep: start 0 (b has no prediction), a → 1 at 0.2
  assertClose(got, {
    exact: 50,
    f1: 50,
    total: 2,
    HasAns_exact: 100,
    HasAns_f1: 100,
    HasAns_total: 1,
    NoAns_exact: 0,
    NoAns_f1: 0,
    NoAns_total: 1,
    best_exact: 50,
    best_exact_thresh: 0.2,
    best_f1: 50,
    best_f1_thresh: 0.2,
  });
});

test('gold answers that normalise to nothing leave "" as the gold: the question still counts as HasAns', () => {
  const got = squadV2Metrics({ q: '' }, { q: ['the', 'A.'] });
  assertClose(got, { exact: 100, f1: 100, total: 1, HasAns_exact: 100, HasAns_f1: 100, HasAns_total: 1 });
});

test('a no-answer probability above --na-prob-thresh turns the prediction into an abstention', () => {
  const refs = { a: ['Paris'], b: [] };
  const preds = { a: 'Paris', b: 'Rome' };
  assert.equal(squadV2Metrics(preds, refs, { a: 0.2, b: 0.7 }).exact, 50); // default threshold 1.0: never
  assert.equal(squadV2Metrics(preds, refs, { a: 0.2, b: 0.7 }, 0.5).exact, 100); // b abstains: right
  assert.equal(squadV2Metrics(preds, refs, { a: 0.6, b: 0.7 }, 0.5).exact, 50); // a abstains too: wrong
});

test('unknown ids and missing or non-numeric probabilities are one-line errors', () => {
  assert.throws(() => squadV2Metrics({ z: 'x' }, references), {
    code: 'BAD_DATA',
    message: /predictions name 1 id\(s\) not in the references: 'z'/,
  });
  assert.throws(() => squadV2Metrics(predictions, references, { a: 0.1, b: 0.2, c: 0.3 }), {
    message: /no-answer probabilities lack 1 predicted question\(s\): 'd'/,
  });
  assert.throws(() => squadV2Metrics(predictions, references, { a: 0.1, b: 0.2, c: 0.3, d: 0.1, e: 0 }), {
    message: /no-answer probabilities name 1 id\(s\) not in the references: 'e'/,
  });
  assert.throws(() => squadV2Metrics({ a: 'x' }, { a: [] }, { a: 'high' as unknown as number }), {
    message: /probability of 'a' must be a finite number, got "high"/,
  });
});

interface Crosscheck {
  cases: {
    references: Record<string, string[]>;
    predictions: Record<string, string>;
    naProbs: Record<string, number> | null;
    naProbThresh: number;
    expected: Record<string, number>;
  }[];
}

test('equals a Python transcription of the official 2.0 script on 6 generated sets (331 questions, tied probabilities)', () => {
  const data = JSON.parse(
    readFileSync(new URL('./fixtures/squad-v2-crosscheck.json', import.meta.url), 'utf8'),
  ) as Crosscheck;
  for (const [i, c] of data.cases.entries()) {
    const got = squadV2Metrics(c.predictions, c.references, c.naProbs ?? undefined, c.naProbThresh);
    assertClose(got, c.expected, `case ${i}`);
  }
});
