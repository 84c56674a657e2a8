/**
 * The official SQuAD v1.1 evaluation (`evaluate-v1.1.py`), reproduced rule for rule: normalise, then exact match
 * and token F1, each the max over the gold answers, averaged over all questions and scaled to percentages.
 *
 * Hand-written because no JS package reproduces the script's Python string semantics: `string.punctuation` is
 * only the 32 ASCII marks, `str.split()` splits on Python's whitespace set, and Python 3's `\b` is Unicode-aware
 * (so `théa` keeps its `a`, where JavaScript's ASCII `\b` would cut it).
 */
import { QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import { PY_WHITESPACE_CHARS, pySplit } from '../util/py-string.js';

export interface SquadMetrics {
  /** Exact match, percent (0–100). */
  readonly exactMatch: number;
  /** Token-overlap F1, percent (0–100). */
  readonly f1: number;
  /** Number of questions scored (= number of references). */
  readonly count: number;
}

/** Python's `string.punctuation`: the 32 ASCII punctuation marks, nothing else (`¿`, `«`, `。` are kept). */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * Articles as whole words. Python 3's `\b` for str patterns sits between a `\w` character (letters of any
 * script, digits/numerics, `_`) and a non-`\w` one; JavaScript's `\b` knows only ASCII, so spell it out.
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** A Python whitespace character (`str.split()`'s separators), found from `lastIndex` on. */
const PY_SPACE = new RegExp(`[${PY_WHITESPACE_CHARS}]`, 'g');
/** Python whitespace other than the plain space: where a piece has none, `split(' ')` is Python's `split()`. */
const OTHER_PY_SPACE = new RegExp(`[${PY_WHITESPACE_CHARS.replace(' ', '')}]`);

/** A word of ASCII word characters only: an article there can only be the whole word. */
const ASCII_WORD = /^[a-z0-9_]+$/;

/**
 * An answer is normalised in pieces of about this many UTF-16 units, each cut at a whitespace character: every rule
 * (lower-casing, punctuation, articles, splitting) sees the same neighbours as on the whole string, so the tokens
 * are the same, while a huge answer (a 100 MB prediction) never has more than a piece's copies alive.
 */
const PIECE = 1 << 20;

/**
 * Calls `onToken` with each token of the normalised answer (what `normalizeAnswer` joins with spaces), in order, a
 * piece at a time: the token is `text.slice(start, end)`, left to the caller to make (a scorer makes only those that
 * could match a gold token). Articles are looked for word by word (whitespace is never a word character, so a
 * word's edges are boundaries there as in the whole string); a word of ASCII word characters only is scanned by
 * hand, as the regular expressions cost a hundred times more per word.
 */
export function forEachNormalizedToken(s: string, onToken: (text: string, start: number, end: number) => void): void {
  const word = (text: string, start: number, end: number, plain: boolean): void => {
    if (plain) {
      if (!isArticle(text, start, end)) onToken(text, start, end);
    } else {
      for (const t of pySplit(text.slice(start, end).replace(ARTICLES, ' '))) onToken(t, 0, t.length);
    }
  };
  for (let at = 0; at < s.length; ) {
    let end = s.length;
    if (at + PIECE < s.length) {
      PY_SPACE.lastIndex = at + PIECE;
      end = PY_SPACE.exec(s)?.index ?? s.length;
    }
    const piece = s.slice(at, end).toLowerCase().replace(PUNCTUATION, '');
    at = end;
    if (OTHER_PY_SPACE.test(piece)) {
      for (const w of pySplit(piece)) word(w, 0, w.length, ASCII_WORD.test(w));
      continue;
    }
    let start = 0;
    let plain = true; // the word so far is ASCII word characters only
    for (let i = 0; i <= piece.length; i++) {
      const c = i < piece.length ? piece.charCodeAt(i) : 32;
      if (c !== 32) {
        plain &&= (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95;
        continue;
      }
      if (i > start) word(piece, start, i, plain);
      start = i + 1;
      plain = true;
    }
  }
}

/** Whether `text.slice(start, end)` is `a`, `an` or `the`. */
function isArticle(text: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 1) return text.charCodeAt(start) === 97;
  if (n === 2) return text.charCodeAt(start) === 97 && text.charCodeAt(start + 1) === 110;
  return n === 3 && text.startsWith('the', start);
}

/** The tokens of the normalised answer. */
export function normalizedTokens(s: string): string[] {
  const tokens: string[] = [];
  forEachNormalizedToken(s, (text, start, end) => tokens.push(text.slice(start, end)));
  return tokens;
}

/** Lower-case, drop ASCII punctuation, replace the articles a/an/the by a space, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  return normalizedTokens(s).join(' ');
}

/** Which F1 rule: v1.1's (no shared token: 0, so two empty answers too), or 2.0's (two empty answers agree: 1). */
export type F1Rule = 'v1' | 'v2';

/**
 * Exact match and token F1 of `prediction` against each of `golds`, each the max over them (0 and 0 for no golds).
 * The prediction's tokens are made once and not kept: each is compared with the golds as it comes (so a huge
 * prediction costs one linear pass and bounded memory, whatever the number of golds).
 */
export function scoreAgainstGolds(
  prediction: string,
  golds: readonly string[],
  rule: F1Rule = 'v1',
): { exact: number; f1: number } {
  if (golds.length === 0) return { exact: 0, f1: 0 };
  const goldTokens = golds.map(normalizedTokens);
  const goldCounts = goldTokens.map((tokens) => {
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    return counts;
  });
  const longestGold = Math.max(...goldTokens.map((t) => t.length));
  const predCounts = new Map<string, number>(); // only tokens some gold has
  for (const counts of goldCounts) for (const t of counts.keys()) predCounts.set(t, 0);
  const sameSoFar = goldTokens.map(() => true); // the prediction's tokens so far are the gold's first ones
  let predLength = 0;
  const goldLengths = new Set([...predCounts.keys()].map((t) => t.length));
  forEachNormalizedToken(prediction, (text, start, end) => {
    const early = predLength < longestGold;
    predLength += 1;
    if (!early && !goldLengths.has(end - start)) return; // no gold token is this long: nothing to count
    const t = text.slice(start, end);
    if (early) goldTokens.forEach((tokens, g) => (sameSoFar[g] &&= tokens[predLength - 1] === t));
    const n = predCounts.get(t);
    if (n !== undefined) predCounts.set(t, n + 1);
  });
  let exact = 0;
  let f1 = 0;
  goldTokens.forEach((tokens, g) => {
    if (sameSoFar[g] && tokens.length === predLength) exact = 1;
    f1 = Math.max(f1, tokenF1(predLength, tokens.length, goldCounts[g] as Map<string, number>, predCounts, rule));
  });
  return { exact, f1 };
}

/** F1 over the multiset overlap: each token counts as often as both sides have it. */
function tokenF1(
  predLength: number,
  goldLength: number,
  goldCounts: ReadonlyMap<string, number>,
  predCounts: ReadonlyMap<string, number>,
  rule: F1Rule,
): number {
  if (rule === 'v2' && (predLength === 0 || goldLength === 0)) return predLength === goldLength ? 1 : 0;
  let numSame = 0;
  for (const [t, n] of goldCounts) numSame += Math.min(n, predCounts.get(t) ?? 0);
  if (numSame === 0) return 0;
  const precision = numSame / predLength;
  const recall = numSame / goldLength;
  return (2 * precision * recall) / (precision + recall);
}

/** 1 when the normalised strings are equal (two empty answers match), else 0. */
export function exactMatchScore(prediction: string, groundTruth: string): number {
  return scoreAgainstGolds(prediction, [groundTruth]).exact;
}

/** Token F1 over the multiset overlap of normalised tokens; 0 when nothing overlaps (so also for two empties). */
export function f1Score(prediction: string, groundTruth: string): number {
  return scoreAgainstGolds(prediction, [groundTruth]).f1;
}

/**
 * EM and F1 (percent) of `predictions` ({id: answer}) against `references` ({id: gold answers}). Every reference
 * counts; a question without a prediction scores 0 (as the official script). A prediction whose id is not among
 * the references is an error (the official script ignores it silently, which hides mismatched files).
 */
export function squadMetrics(
  predictions: Readonly<Record<string, string>>,
  references: Readonly<Record<string, readonly string[]>>,
): SquadMetrics {
  checkKnownIds(predictions, references, 'predictions');
  // Own entries only, so an id such as 'constructor' never reads Object.prototype.
  const predicted = new Map(Object.entries(predictions));
  let em = 0;
  let f1 = 0;
  let count = 0;
  for (const [id, golds] of Object.entries(references)) {
    count += 1;
    const prediction = predicted.get(id);
    if (prediction === undefined) continue; // no prediction: scores 0
    const scores = scoreAgainstGolds(prediction, golds);
    em += scores.exact;
    f1 += scores.f1;
  }
  if (count === 0) return { exactMatch: 0, f1: 0, count: 0 };
  return { exactMatch: (100 * em) / count, f1: (100 * f1) / count, count };
}

/**
 * Every id of `scored` ({id: …}) must be a question of `references`: an unknown one is an error naming up to three
 * (the official scripts ignore them silently, which hides mismatched files). `what` names the file's role.
 */
export function checkKnownIds(
  scored: Readonly<Record<string, unknown>>,
  references: Readonly<Record<string, unknown>>,
  what: string,
): void {
  const unknown = Object.keys(scored).filter((id) => !Object.hasOwn(references, id));
  if (unknown.length === 0) return;
  const shown = unknown
    .slice(0, 3)
    .map((id) => `'${id}'`)
    .join(', ');
  throw new QaFtError(
    'BAD_DATA',
    `${what} name ${unknown.length} id(s) not in the references: ${shown}${unknown.length > 3 ? ', …' : ''}`,
    {
      hint: 'score predictions against the data they were made from',
    },
  );
}

/**
 * The reference ids `predictions` has no answer for (each scores 0): the official scripts print them one by one
 * ("Unanswered question … will receive score 0." / "Missing prediction for …"); callers warn with the count.
 */
export function unansweredIds(
  predictions: Readonly<Record<string, unknown>>,
  references: Readonly<Record<string, unknown>>,
): string[] {
  return Object.keys(references).filter((id) => !Object.hasOwn(predictions, id));
}

/** `squadMetrics`' references from SQuAD rows: {id: gold answer texts}. */
export function referencesOf(rows: readonly SquadRow[]): Record<string, readonly string[]> {
  return Object.fromEntries(rows.map((r) => [r.id, r.answers.text]));
}
