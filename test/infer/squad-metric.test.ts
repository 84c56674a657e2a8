// Expected values are worked by hand from the rules of the official evaluate-v1.1.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { exactMatchScore, f1Score, normalizeAnswer, squadMetrics } from '../../src/infer/squad-metric.js';

test('normalise lower-cases', () => {
  assert.equal(normalizeAnswer('Denver BRONCOS'), 'denver broncos');
});

test('normalise drops the 32 ASCII punctuation marks, joining what they separated', () => {
  assert.equal(normalizeAnswer('U.S. (Army)!'), 'us army');
  assert.equal(normalizeAnswer('state-of-the-art'), 'stateoftheart'); // punctuation goes before articles
  assert.equal(normalizeAnswer(`!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`), '');
});

test('normalise keeps Unicode punctuation (not in string.punctuation)', () => {
  assert.equal(normalizeAnswer('«Paris»'), '«paris»');
  assert.equal(normalizeAnswer('¿Qué?'), '¿qué');
  assert.equal(normalizeAnswer('東京。'), '東京。');
  assert.equal(normalizeAnswer('“quoted” — dash'), '“quoted” — dash');
});

test('normalise removes a/an/the only as whole words', () => {
  assert.equal(normalizeAnswer('The Eiffel Tower'), 'eiffel tower');
  assert.equal(normalizeAnswer('an apple a day'), 'apple day');
  assert.equal(normalizeAnswer('theater anthem Atlas'), 'theater anthem atlas');
  assert.equal(normalizeAnswer('the1 a2'), 'the1 a2'); // digits are word characters
});

test('article boundaries are Unicode-aware like Python 3 (accented and non-Latin letters are word characters)', () => {
  // JavaScript's ASCII \b would see a boundary after é and д and strip these articles.
  assert.equal(normalizeAnswer('théa'), 'théa');
  assert.equal(normalizeAnswer('дthe'), 'дthe');
  assert.equal(normalizeAnswer('éan the'), 'éan');
  // a non-word neighbour (Unicode punctuation) is a boundary, as in Python
  assert.equal(normalizeAnswer('«the» city'), '« » city');
});

test('normalise collapses whitespace with Python str.split semantics', () => {
  assert.equal(normalizeAnswer('  Denver\t\n Broncos  '), 'denver broncos');
  assert.equal(normalizeAnswer('Denver\u00a0Broncos\u3000x'), 'denver broncos x'); // NBSP, ideographic space
  assert.equal(normalizeAnswer('x\u001fy\u0085z'), 'x y z'); // Python counts these as whitespace
  assert.equal(normalizeAnswer('x\ufeffy'), 'x\ufeffy'); // BOM is not Python whitespace (JS \s would split)
});

test('exact match compares normalised strings', () => {
  assert.equal(exactMatchScore('The Denver Broncos.', 'denver broncos'), 1);
  assert.equal(exactMatchScore('Denver', 'denver broncos'), 0);
});

test('F1 is the harmonic mean of token precision and recall over the multiset overlap', () => {
  // pred → [cat, sat, on, mat], gold → [cat, on, mat]: overlap 3, P 3/4, R 1 → F1 6/7
  assert.ok(Math.abs(f1Score('the cat sat on the mat', 'a cat on a mat') - 6 / 7) < 1e-12);
  // repeated tokens count once per gold occurrence: overlap 2, P 2/4, R 2/2 → 2/3
  assert.ok(Math.abs(f1Score('new york new york', 'New York') - 2 / 3) < 1e-12);
  assert.equal(f1Score('Carolina', 'Denver'), 0);
});

test('Unicode punctuation stays attached to its token, so it breaks F1 overlap', () => {
  assert.equal(exactMatchScore('«Paris»', 'Paris'), 0);
  assert.equal(f1Score('«Paris»', 'Paris'), 0);
});

test('empty strings: EM 1 and F1 0 when both normalise to empty (v1.1 behaviour)', () => {
  assert.equal(exactMatchScore('', ''), 1);
  assert.equal(f1Score('', ''), 0);
  assert.equal(exactMatchScore('The', 'a.'), 1);
  assert.equal(f1Score('The', 'a.'), 0);
  assert.equal(exactMatchScore('', 'Denver'), 0);
  assert.equal(f1Score('Denver', ''), 0);
});

test('EM and F1 each take the max over all gold answers (independently)', () => {
  const r = squadMetrics({ q: 'Denver' }, { q: ['Carolina Panthers', 'Denver Broncos', 'Broncos'] });
  // EM: no gold equals "denver" → 0; F1: best is "denver broncos" with P 1, R 1/2 → 2/3
  assert.equal(r.exactMatch, 0);
  assert.ok(Math.abs(r.f1 - 200 / 3) < 1e-9);
  const r2 = squadMetrics({ q: 'Broncos' }, { q: ['Denver Broncos', 'broncos'] });
  assert.equal(r2.exactMatch, 100);
  assert.equal(r2.f1, 100);
});

test('averages over all references ×100; a missing prediction scores 0', () => {
  const r = squadMetrics(
    { q1: 'denver broncos', q2: 'Clara' },
    { q1: ['Denver Broncos'], q2: ['Santa Clara'], q3: ['1'] },
  );
  assert.equal(r.count, 3);
  assert.ok(Math.abs(r.exactMatch - 100 / 3) < 1e-9); // (1 + 0 + 0) / 3
  assert.ok(Math.abs(r.f1 - (100 * (1 + 2 / 3)) / 3) < 1e-9); // q2: P 1, R 1/2 → 2/3
});

test('predictions naming ids absent from the references are rejected with one line naming them', () => {
  assert.throws(
    () => squadMetrics({ q1: 'x', ghost: 'y' }, { q1: ['x'] }),
    (e: unknown) =>
      e instanceof QaFtError && e.code === 'BAD_DATA' && /'ghost'/.test(e.message) && !e.message.includes('\n'),
  );
});

test('no references → zero counts, no division by zero', () => {
  assert.deepEqual(squadMetrics({}, {}), { exactMatch: 0, f1: 0, count: 0 });
});

test('a long answer is normalised in pieces cut at whitespace, to the same tokens as a short one (worked by hand)', () => {
  // lower → '«the» éclair, an σ apple\u00a0the-end a'; no punctuation → '… éclair an σ apple\u00a0theend a';
  // articles (whole words only: « and » are not word characters) → '« » éclair σ apple theend'
  const unit = '«The» Éclair, an Σ Apple\u00a0the-end a';
  assert.equal(normalizeAnswer(unit), '« » éclair σ apple theend');
  const n = 120_000; // 4.4 M UTF-16 units: five pieces, cut wherever whitespace falls (NBSP included)
  const long = Array(n).fill(unit).join(' ');
  const expected = Array(n).fill('« » éclair σ apple theend').join(' ');
  assert.equal(normalizeAnswer(long), expected);
  assert.equal(exactMatchScore(long, expected), 1);
  assert.ok(Math.abs(f1Score(long, 'apple pie') - (2 * (1 / (6 * n)) * 0.5) / (1 / (6 * n) + 0.5)) < 1e-15);
});
