/**
 * The official SQuAD 2.0 evaluation (`evaluate-v2.0.py`, also Hugging Face `evaluate`'s `squad_v2`), rule for rule,
 * with its key names: `exact`, `f1`, `total`, `HasAns_*` and `NoAns_*` (each only when the references hold such
 * questions), and with no-answer probabilities the threshold sweep `best_exact(_thresh)`, `best_f1(_thresh)`.
 *
 * The 2.0 rules on top of v1.1's normalisation (squad-metric.ts):
 * - a question has an answer when its reference list is non-empty; gold answers that normalise to "" are dropped,
 *   and a question left with none has the single gold answer "" (only an empty prediction is right);
 * - F1 is 1 when prediction and gold both have no tokens, 0 when only one of them has none;
 * - a question whose no-answer probability exceeds `naProbThresh` (default 1.0, i.e. never) scores as an
 *   abstention: 1 if it has no answer, else 0;
 * - `best_*`: questions in order of rising no-answer probability (a stable sort, so ties keep the order of
 *   `naProbs`), starting from "abstain on all" (= the no-answer questions right), each step answering one more;
 *   the threshold is the probability at the step where the running score first reached its maximum.
 *
 * Where the script stops with a KeyError (a question without a prediction), this scores the question 0 in every
 * figure, as the v1.1 script does; with every prediction present the figures are the script's own.
 */
import { DEFAULTS } from '../defaults.js';
import { QaFtError } from '../errors.js';
import { checkKnownIds, normalizeAnswer, scoreAgainstGolds } from './squad-metric.js';

export interface SquadV2Metrics {
  /** Exact match over all questions, percent. */
  readonly exact: number;
  readonly f1: number;
  readonly total: number;
  readonly HasAns_exact?: number;
  readonly HasAns_f1?: number;
  readonly HasAns_total?: number;
  readonly NoAns_exact?: number;
  readonly NoAns_f1?: number;
  readonly NoAns_total?: number;
  /** Only with no-answer probabilities: the best EM over all thresholds, and the threshold giving it. */
  readonly best_exact?: number;
  readonly best_exact_thresh?: number;
  readonly best_f1?: number;
  readonly best_f1_thresh?: number;
}

/** 2.0's F1: like v1.1's, except that two token-less answers agree (1) and one token-less answer scores 0. */
export function f1ScoreV2(prediction: string, groundTruth: string): number {
  return scoreAgainstGolds(prediction, [groundTruth], 'v2').f1;
}

/** A question's gold answers as the script scores them: those that normalise to non-empty, else [""]. */
function scoredGolds(golds: readonly string[]): string[] {
  const kept = golds.filter((g) => normalizeAnswer(g) !== '');
  return kept.length > 0 ? kept : [''];
}

interface Question {
  readonly id: string;
  readonly hasAnswer: boolean;
  /** The prediction, or undefined when the predictions lack the question. */
  readonly prediction: string | undefined;
  /** Raw scores (before the no-answer threshold); 0 without a prediction. */
  readonly exact: number;
  readonly f1: number;
}

/**
 * SQuAD 2.0 figures of `predictions` ({id: answer, "" = no answer}) against `references` ({id: gold answers, []
 * for an unanswerable question}); `naProbs` ({id: no-answer probability}, the script's `--na-prob-file`) must
 * cover every predicted question. Ids unknown to the references are an error, as in `squadMetrics`.
 */
export function squadV2Metrics(
  predictions: Readonly<Record<string, string>>,
  references: Readonly<Record<string, readonly string[]>>,
  naProbs?: Readonly<Record<string, number>>,
  naProbThresh: number = DEFAULTS.naProbThresh,
): SquadV2Metrics {
  checkKnownIds(predictions, references, 'predictions');
  const predicted = new Map(Object.entries(predictions)); // own entries only: an id such as 'constructor' is safe
  const probs = naProbs === undefined ? undefined : checkNaProbs(naProbs, predicted, references);
  const questions: Question[] = Object.entries(references).map(([id, golds]) => {
    const prediction = predicted.get(id);
    if (prediction === undefined) return { id, hasAnswer: golds.length > 0, prediction, exact: 0, f1: 0 };
    const { exact, f1 } = scoreAgainstGolds(prediction, scoredGolds(golds), 'v2');
    return { id, hasAnswer: golds.length > 0, prediction, exact, f1 };
  });
  // apply_no_ans_threshold: a question predicted "no answer" by its probability scores as an abstention
  const thresholded = (q: Question, raw: number): number => {
    if (q.prediction === undefined || probs === undefined) return raw;
    return (probs.get(q.id) ?? 0) > naProbThresh ? (q.hasAnswer ? 0 : 1) : raw;
  };
  const figures = (qs: readonly Question[]) => {
    const total = qs.length;
    if (total === 0) return { exact: 0, f1: 0, total: 0 };
    let exact = 0;
    let f1 = 0;
    for (const q of qs) {
      exact += thresholded(q, q.exact);
      f1 += thresholded(q, q.f1);
    }
    return { exact: (100 * exact) / total, f1: (100 * f1) / total, total };
  };
  const hasAns = questions.filter((q) => q.hasAnswer);
  const noAns = questions.filter((q) => !q.hasAnswer);
  const all = figures(questions);
  const out: { -readonly [K in keyof SquadV2Metrics]: SquadV2Metrics[K] } = { ...all };
  if (hasAns.length > 0) {
    const h = figures(hasAns);
    Object.assign(out, { HasAns_exact: h.exact, HasAns_f1: h.f1, HasAns_total: h.total });
  }
  if (noAns.length > 0) {
    const n = figures(noAns);
    Object.assign(out, { NoAns_exact: n.exact, NoAns_f1: n.f1, NoAns_total: n.total });
  }
  if (probs !== undefined && questions.length > 0) {
    const exact = bestThreshold(questions, probs, (q) => q.exact);
    const f1 = bestThreshold(questions, probs, (q) => q.f1);
    Object.assign(out, {
      best_exact: exact.score,
      best_exact_thresh: exact.thresh,
      best_f1: f1.score,
      best_f1_thresh: f1.thresh,
    });
  }
  return out;
}

/** The no-answer probabilities as a Map in the given order; each a finite number, one per predicted question. */
function checkNaProbs(
  naProbs: Readonly<Record<string, number>>,
  predicted: ReadonlyMap<string, string>,
  references: Readonly<Record<string, readonly string[]>>,
): Map<string, number> {
  checkKnownIds(naProbs, references, 'no-answer probabilities');
  const probs = new Map(Object.entries(naProbs));
  for (const [id, p] of probs) {
    if (typeof p !== 'number' || !Number.isFinite(p)) {
      throw new QaFtError(
        'BAD_DATA',
        `the no-answer probability of '${id}' must be a finite number, got ${JSON.stringify(p)}`,
      );
    }
  }
  const missing = [...predicted.keys()].filter((id) => !probs.has(id));
  if (missing.length > 0) {
    throw new QaFtError(
      'BAD_DATA',
      `no-answer probabilities lack ${missing.length} predicted question(s): ${missing
        .slice(0, 3)
        .map((id) => `'${id}'`)
        .join(', ')}${missing.length > 3 ? ', …' : ''}`,
      {
        hint: 'give a probability for every question in the predictions (null_odds.json from the same run)',
      },
    );
  }
  return probs;
}

/**
 * `find_best_thresh`: start with every question abstaining (score = the no-answer questions), then, by rising
 * no-answer probability, let each answer: +its score if it has an answer, -1 if it has none but a non-empty
 * prediction (the raw string, as the script tests it), else 0. The best running total and the probability where
 * it was first reached; questions without a prediction score 0 throughout.
 */
function bestThreshold(
  questions: readonly Question[],
  probs: ReadonlyMap<string, number>,
  score: (q: Question) => number,
): { score: number; thresh: number } {
  const byId = new Map(questions.map((q) => [q.id, q]));
  let current = questions.filter((q) => !q.hasAnswer && q.prediction !== undefined).length;
  let best = current;
  let thresh = 0;
  const order = [...probs].sort((a, b) => a[1] - b[1]); // stable: ties keep the order of naProbs
  for (const [id, p] of order) {
    const q = byId.get(id);
    if (q === undefined || q.prediction === undefined) continue;
    current += q.hasAnswer ? score(q) : q.prediction !== '' ? -1 : 0;
    if (current > best) {
      best = current;
      thresh = p;
    }
  }
  return { score: (100 * best) / questions.length, thresh };
}
