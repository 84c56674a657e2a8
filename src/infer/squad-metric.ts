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
import { pySplit } from '../util/py-string.js';

export interface SquadMetrics {
  /** Exact match, percent (0–100). */
  readonly exactMatch: number;
  /** Token-overlap F1, percent (0–100). */
  readonly f1: number;
  /** Number of questions scored (= number of references). */
  readonly count: number;
}

/** Python's `string.punctuation`: the 32 ASCII punctuation marks, nothing else (`¿`, `«`, `。` are kept). */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/**
 * Articles as whole words. Python 3's `\b` for str patterns sits between a `\w` character (letters of any
 * script, digits/numerics, `_`) and a non-`\w` one; JavaScript's `\b` knows only ASCII, so spell it out.
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** Lower-case, drop ASCII punctuation, replace the articles a/an/the by a space, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  const lower = s.toLowerCase();
  let noPunct = '';
  for (const ch of lower) if (!PUNCTUATION.has(ch)) noPunct += ch;
  const noArticles = noPunct.replace(ARTICLES, ' ');
  return pySplit(noArticles).join(' ');
}

/** 1 when the normalised strings are equal (two empty answers match), else 0. */
export function exactMatchScore(prediction: string, groundTruth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth) ? 1 : 0;
}

/** Token F1 over the multiset overlap of normalised tokens; 0 when nothing overlaps (so also for two empties). */
export function f1Score(prediction: string, groundTruth: string): number {
  const predTokens = pySplit(normalizeAnswer(prediction));
  const goldTokens = pySplit(normalizeAnswer(groundTruth));
  const goldCounts = new Map<string, number>();
  for (const t of goldTokens) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let numSame = 0;
  for (const t of predTokens) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      numSame += 1;
      goldCounts.set(t, left - 1);
    }
  }
  if (numSame === 0) return 0;
  const precision = numSame / predTokens.length;
  const recall = numSame / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

function maxOverGroundTruths(fn: (p: string, g: string) => number, prediction: string, golds: readonly string[]): number {
  let best = 0;
  for (const g of golds) best = Math.max(best, fn(prediction, g));
  return best;
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
    em += maxOverGroundTruths(exactMatchScore, prediction, golds);
    f1 += maxOverGroundTruths(f1Score, prediction, golds);
  }
  if (count === 0) return { exactMatch: 0, f1: 0, count: 0 };
  return { exactMatch: (100 * em) / count, f1: (100 * f1) / count, count };
}

/**
 * Every id of `scored` ({id: …}) must be a question of `references`: an unknown one is an error naming up to three
 * (the official scripts ignore them silently, which hides mismatched files). `what` names the file's role.
 */
export function checkKnownIds(scored: Readonly<Record<string, unknown>>, references: Readonly<Record<string, unknown>>, what: string): void {
  const unknown = Object.keys(scored).filter((id) => !Object.hasOwn(references, id));
  if (unknown.length === 0) return;
  const shown = unknown.slice(0, 3).map((id) => `'${id}'`).join(', ');
  throw new QaFtError('BAD_DATA', `${what} name ${unknown.length} id(s) not in the references: ${shown}${unknown.length > 3 ? ', …' : ''}`, {
    hint: 'score predictions against the data they were made from',
  });
}

/**
 * The reference ids `predictions` has no answer for (each scores 0): the official scripts print them one by one
 * ("Unanswered question … will receive score 0." / "Missing prediction for …"); callers warn with the count.
 */
export function unansweredIds(predictions: Readonly<Record<string, unknown>>, references: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(references).filter((id) => !Object.hasOwn(predictions, id));
}

/** `squadMetrics`' references from SQuAD rows: {id: gold answer texts}. */
export function referencesOf(rows: readonly SquadRow[]): Record<string, readonly string[]> {
  return Object.fromEntries(rows.map((r) => [r.id, r.answers.text]));
}
