/**
 * Evaluation of a QA model on SQuAD examples: every feature (window) through the model in order, the evaluation
 * loss as the Hugging Face Trainer reports it, then per example the n-best spans over its windows
 * (HF `utils_qa`) and the official SQuAD v1.1 EM/F1 of the best ones.
 *
 * The trainer calls `evaluateModel` after each epoch. Memory: see forward.ts (no tensor is allocated here; only a
 * Float32Array of logits per feature is kept).
 */
import { QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import type { QaModel } from '../model/types.js';
import type { Feature } from '../records.js';
import { forwardFeatures } from './forward.js';
import { bestSpans, DEFAULT_SPAN_OPTIONS, type WindowLogits } from './postprocess.js';
import { referencesOf, squadMetrics } from './squad-metric.js';

export interface EvaluateOptions {
  /** Features per forward pass (default 16). */
  readonly batchSize?: number;
  /** Longest answer in tokens (default 30). */
  readonly maxAnswerLength?: number;
  /** n-best size (default 20). */
  readonly nBest?: number;
  /** Called after each batch with batches done / total. */
  readonly onProgress?: (done: number, total: number) => void;
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
}

/**
 * HF writes this single entry when an example has no valid span (e.g. all its windows were skipped, or no top-n
 * start/end pair is a valid context span); it scores like any wrong answer.
 */
const EMPTY_PLACEHOLDER: NBestEntry = { start_logit: 0, end_logit: 0, text: 'empty', probability: 1 };

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
      throw new QaFtError('BAD_DATA', `feature ${i} belongs to example '${f.exampleId}', which is not among the ${rows.length} rows`, {
        hint: 'evaluate features with the rows they were prepared from',
      });
    }
  });

  const { logits, loss } = await forwardFeatures(model, features, {
    batchSize: options.batchSize,
    withLabels: true,
    onProgress: options.onProgress,
  });
  for (const { feature, startLogits, endLogits } of logits) {
    const windows = windowsOf.get(feature.exampleId);
    if (windows === undefined) throw new Error(`unreachable: example '${feature.exampleId}' was checked before the forward pass`);
    windows.push({ offsets: feature.offsets, startLogits, endLogits });
  }

  const predictions: Record<string, string> = {};
  const nbest: Record<string, NBestEntry[]> = {};
  for (const { row, windows } of examples) {
    const spans = bestSpans(row.context, windows, spanOptions);
    // No valid span: HF's placeholder is the whole list.
    const [best = EMPTY_PLACEHOLDER, ...rest] = spans.map((s): NBestEntry => ({
      start_logit: s.startLogit,
      end_logit: s.endLogit,
      text: s.text,
      probability: s.probability,
      start: s.start,
      end: s.end,
    }));
    nbest[row.id] = [best, ...rest];
    predictions[row.id] = best.text;
  }
  const metrics = squadMetrics(predictions, referencesOf(rows));
  return { evalLoss: loss, ...metrics, predictions, nbest };
}
