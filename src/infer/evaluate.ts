/**
 * Evaluation of a QA model on SQuAD examples: every feature (window) through the model in order, the evaluation
 * loss as the Hugging Face Trainer reports it, then per example the n-best spans over its windows
 * (HF `utils_qa`) and the official SQuAD v1.1 EM/F1 of the best ones; or, with `versionTwoWithNegative`, the
 * SQuAD 2.0 prediction (the null answer "" competing, `null_odds`) and the official 2.0 figures, as run_qa.py
 * reports them (no-answer probabilities all 0, so `best_*` are present too).
 *
 * The trainer calls `evaluateModel` after each epoch. Memory: see forward.ts (no tensor is allocated here; only a
 * Float32Array of logits per feature is kept).
 */
import { QaFtError } from '../errors.js';
import { isUnanswerable, type SquadRow } from '../records.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { forwardFeatures } from './forward.js';
import { bestSpans, DEFAULT_SPAN_OPTIONS, nullAwareSpans, type WindowLogits } from './postprocess.js';
import { referencesOf, squadMetrics } from './squad-metric.js';
import { squadV2Metrics, type SquadV2Metrics } from './squad-v2-metric.js';

export interface EvaluateOptions {
  /** Features per forward pass (default 16). */
  readonly batchSize?: number;
  /** Longest answer in tokens (default 30). */
  readonly maxAnswerLength?: number;
  /** n-best size (default 20). */
  readonly nBest?: number;
  /** Called after each batch with batches done / total. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * SQuAD 2.0: predict "" when the null score wins (run_qa's `--version_2_with_negative`), score by the 2.0 metric.
   * Default: when some row has no answer (data holds such rows only when read or prepared as SQuAD 2.0).
   */
  readonly versionTwoWithNegative?: boolean;
  /** SQuAD 2.0: the null answer wins when null score − best span score > this (default 0.0). */
  readonly nullScoreDiffThreshold?: number;
}

/** One entry of `nbest_predictions.json`, with the keys HF `utils_qa` writes (plus the character span). */
export interface NBestEntry {
  readonly start_logit: number;
  readonly end_logit: number;
  readonly text: string;
  readonly probability: number;
  /** Character span in code points; absent for HF's "empty" placeholder. */
  readonly start?: number;
  readonly end?: number;
}

export interface EvaluateResult {
  /**
   * Mean loss over all features, each batch's mean loss weighted by its size (HF Trainer's `eval_loss`:
   * per-batch losses repeated batch-size times, then averaged). NaN when the model reports no loss.
   */
  readonly evalLoss: number;
  /** SQuAD v1.1 exact match, percent. */
  readonly exactMatch: number;
  /** SQuAD v1.1 F1, percent. */
  readonly f1: number;
  /** Number of examples scored. */
  readonly count: number;
  /** {id: best answer text} — `predictions.json`. */
  readonly predictions: Record<string, string>;
  /** {id: n-best list} — `nbest_predictions.json`. */
  readonly nbest: Record<string, NBestEntry[]>;
  /** SQuAD 2.0 only: {id: null score − best span score} — `null_odds.json`. */
  readonly nullOdds?: Record<string, number>;
  /** SQuAD 2.0 only: the official 2.0 figures (`exactMatch`, `f1`, `count` are its `exact`, `f1`, `total`). */
  readonly squadV2?: SquadV2Metrics;
  /**
   * Figures beyond EM/F1 for the training log, by their metric names (SQuAD 2.0: `HasAns_exact`, `HasAns_f1`,
   * `HasAns_total`, `NoAns_*`, `best_*`); the trainer logs them with the `eval_` prefix.
   */
  readonly extraMetrics?: Readonly<Record<string, number>>;
}

/**
 * HF writes this single entry when an example has no valid span (e.g. all its windows were skipped, or no top-n
 * start/end pair is a valid context span); it scores like any wrong answer.
 */
const EMPTY_PLACEHOLDER: NBestEntry = { start_logit: 0, end_logit: 0, text: 'empty', probability: 1 };

/** Whether the evaluation of `rows` is SQuAD 2.0's: asked for, or by default when some row has no answer. */
function isNullAware(rows: readonly SquadRow[], options: Pick<EvaluateOptions, 'versionTwoWithNegative'>): boolean {
  return options.versionTwoWithNegative ?? rows.some(isUnanswerable);
}

/**
 * The figures `evaluateModel` reports for `rows` (`eval_`-prefixed, as the training log names them), known before
 * it runs: loss, EM and F1; for SQuAD 2.0 also HasAns_* (when some row has an answer), NoAns_* (when some has
 * none) and best_*, as `squadV2Metrics` gives them. A training run checks its best-model metric against them.
 */
export function evaluationMetricNames(
  rows: readonly SquadRow[],
  options: Pick<EvaluateOptions, 'versionTwoWithNegative'> = {},
): string[] {
  const names = ['loss', 'exact_match', 'f1'];
  if (isNullAware(rows, options) && rows.length > 0) {
    if (rows.some((r) => !isUnanswerable(r))) names.push('HasAns_exact', 'HasAns_f1', 'HasAns_total');
    if (rows.some(isUnanswerable)) names.push('NoAns_exact', 'NoAns_f1', 'NoAns_total');
    names.push('best_exact', 'best_exact_thresh', 'best_f1', 'best_f1_thresh');
  }
  return names.map((n) => `eval_${n}`);
}

export async function evaluateModel(
  model: QaModel,
  rows: readonly SquadRow[],
  features: readonly Feature[],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const spanOptions = {
    maxAnswerLength: options.maxAnswerLength ?? DEFAULT_SPAN_OPTIONS.maxAnswerLength,
    nBest: options.nBest ?? DEFAULT_SPAN_OPTIONS.nBest,
  };
  // Each example's windows, filled after the forward pass; a feature of an unknown example fails before it.
  const examples = rows.map((row): { row: SquadRow; windows: WindowLogits[] } => ({ row, windows: [] }));
  const windowsOf = new Map(examples.map((e) => [e.row.id, e.windows]));
  features.forEach((f, i) => {
    if (!windowsOf.has(f.exampleId)) {
      throw new QaFtError(
        'BAD_DATA',
        `feature ${i} belongs to example '${f.exampleId}', which is not among the ${rows.length} rows`,
        {
          hint: 'evaluate features with the rows they were prepared from',
        },
      );
    }
  });

  const { logits, loss } = await forwardFeatures(model, features, {
    batchSize: options.batchSize,
    withLabels: true,
    onProgress: options.onProgress,
  });
  for (const { feature, startLogits, endLogits } of logits) {
    const windows = windowsOf.get(feature.exampleId);
    if (windows === undefined)
      throw new Error(`unreachable: example '${feature.exampleId}' was checked before the forward pass`);
    windows.push({ offsets: feature.offsets, startLogits, endLogits });
  }

  if (isNullAware(rows, options))
    return {
      evalLoss: loss,
      ...predictNullAware(examples, { ...spanOptions, nullScoreDiffThreshold: options.nullScoreDiffThreshold }),
    };
  const predictions: Record<string, string> = {};
  const nbest: Record<string, NBestEntry[]> = {};
  for (const { row, windows } of examples) {
    const spans = bestSpans(row.context, windows, spanOptions);
    // No valid span: HF's placeholder is the whole list.
    const [best = EMPTY_PLACEHOLDER, ...rest] = spans.map(
      (s): NBestEntry => ({
        start_logit: s.startLogit,
        end_logit: s.endLogit,
        text: s.text,
        probability: s.probability,
        start: s.start,
        end: s.end,
      }),
    );
    nbest[row.id] = [best, ...rest];
    predictions[row.id] = best.text;
  }
  const metrics = squadMetrics(predictions, referencesOf(rows));
  return { evalLoss: loss, ...metrics, predictions, nbest };
}

/** SQuAD 2.0: each example's prediction with the null answer competing, and the official 2.0 figures. */
function predictNullAware(
  examples: readonly { row: SquadRow; windows: WindowLogits[] }[],
  options: Parameters<typeof nullAwareSpans>[2],
): Omit<EvaluateResult, 'evalLoss'> {
  const predictions: Record<string, string> = {};
  const nbest: Record<string, NBestEntry[]> = {};
  const nullOdds: Record<string, number> = {};
  for (const { row, windows } of examples) {
    const p = nullAwareSpans(row.context, windows, options);
    nbest[row.id] = p.nbest.map(
      (e): NBestEntry => ({
        start_logit: e.startLogit,
        end_logit: e.endLogit,
        text: e.text,
        probability: e.probability,
        ...(e.kind === 'span' ? { start: e.start, end: e.end } : {}),
      }),
    );
    predictions[row.id] = p.answer;
    nullOdds[row.id] = p.scoreDiff;
  }
  // run_qa.py passes no_answer_probability 0.0 for every question, so its figures include the best_* sweep
  const noAnswerProbabilities = Object.fromEntries(Object.keys(predictions).map((id) => [id, 0]));
  const v2 = squadV2Metrics(predictions, referencesOf(examples.map((e) => e.row)), noAnswerProbabilities);
  const { exact, f1, total, ...extraMetrics } = v2;
  return { exactMatch: exact, f1, count: total, predictions, nbest, nullOdds, squadV2: v2, extraMetrics };
}
