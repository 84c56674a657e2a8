/**
 * Which evaluation is the best so far, and when to stop early, with the Hugging Face Trainer's rules:
 * `metric_for_best_model` names an eval metric with or without its `eval_` prefix; greater is better unless the
 * name ends in `loss`; a new best must be strictly better (`_determine_best_metric`); `EarlyStoppingCallback` counts
 * evaluations that fail to beat the previous best by more than the threshold and stops after `patience` of them,
 * comparing with the best *before* this evaluation (HF calls it from `on_evaluate`, ahead of the best-metric update).
 */
import { field, OptionError, opt } from '../errors.js';

/** How a run picks its best checkpoint. */
export interface BestMetric {
  /** The eval record key, e.g. `eval_f1`. */
  readonly key: string;
  readonly greaterIsBetter: boolean;
}

/** `f1` / `eval_f1` → `{ key: 'eval_f1', greaterIsBetter: true }`; `available` are the eval record's keys. */
export function resolveBestMetric(name: string, available: readonly string[]): BestMetric {
  const key = name.startsWith('eval_') ? name : `eval_${name}`;
  if (!available.includes(key)) {
    const names = available.map((k) => k.replace(/^eval_/, '')).join(', ');
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`${field('metricForBestModel')} '${name}' is not an evaluation metric; expected one of ${names}`,
    );
  }
  return { key, greaterIsBetter: !key.endsWith('loss') };
}

export interface EarlyStoppingOptions {
  /** Evaluations without improvement before stopping (HF `early_stopping_patience`). */
  readonly patience: number;
  /** How much the metric must beat the previous best by to count as an improvement (default 0). */
  readonly threshold?: number;
}

/** Where the best-model search stands: what checkpoints record and a resumed run continues. */
export interface BestState {
  bestMetric: number | null;
  bestCheckpoint: string | null;
  /** Evaluations in a row that did not improve (HF `early_stopping_patience_counter`). */
  patienceCounter: number;
}

/**
 * Updates `state` with one evaluation's `value` (saved in `checkpoint`); returns whether it is a new best and
 * whether training should stop.
 */
export function recordEvaluation(
  state: BestState,
  value: number,
  checkpoint: string,
  metric: BestMetric,
  earlyStopping?: EarlyStoppingOptions,
): { newBest: boolean; stop: boolean } {
  const better = (a: number, b: number): boolean => (metric.greaterIsBetter ? a > b : a < b);
  const previous = state.bestMetric;
  if (earlyStopping) {
    const improved =
      previous === null || (better(value, previous) && Math.abs(value - previous) > (earlyStopping.threshold ?? 0));
    state.patienceCounter = improved ? 0 : state.patienceCounter + 1;
  }
  const newBest = previous === null ? !Number.isNaN(value) : better(value, previous); // HF starts from ∓inf
  if (newBest) {
    state.bestMetric = value;
    state.bestCheckpoint = checkpoint;
  }
  return { newBest, stop: earlyStopping !== undefined && state.patienceCounter >= earlyStopping.patience };
}
