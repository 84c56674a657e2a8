/**
 * The training log: one record per logged step and per evaluation, with Hugging Face `log_history` keys
 * (`loss`, `learning_rate`, `grad_norm`, `eval_loss`, `eval_exact_match`, `eval_f1`, `epoch`, `step`).
 * Kept in memory (it goes into `trainer_state.json` as the history) and appended to `metrics.jsonl`.
 */
import { appendFile, mkdir, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { withFileSystemErrors } from '../util/fs-errors.js';

interface StepRecord {
  readonly step: number;
  /** Fractional epoch, as HF logs it (1.5 = half-way through epoch 2). */
  readonly epoch: number;
  /** Mean training loss over the optimizer steps since the previous record (within the epoch). */
  readonly loss: number;
  readonly learning_rate: number;
  readonly grad_norm: number;
}

export interface EvalRecord {
  readonly step: number;
  readonly epoch: number;
  readonly eval_loss: number;
  readonly eval_exact_match: number;
  readonly eval_f1: number;
  readonly eval_count: number;
  /**
   * SQuAD 2.0 evaluations: F1 over the answerable and the unanswerable questions (and the rest of the official
   * figures).
   */
  readonly eval_HasAns_f1?: number;
  readonly eval_NoAns_f1?: number;
}

export type MetricsRecord = StepRecord | EvalRecord;

/**
 * The metrics an evaluation record may hold (what `--metric-for-best-model` may name): every evaluation's, then the
 * SQuAD 2.0 evaluation's figures under the official script's names (logged only when the data has unanswerable rows).
 */
export const EVAL_METRIC_KEYS: readonly string[] = [
  'eval_loss',
  'eval_exact_match',
  'eval_f1',
  'eval_HasAns_exact',
  'eval_HasAns_f1',
  'eval_NoAns_exact',
  'eval_NoAns_f1',
  'eval_best_exact',
  'eval_best_f1',
];

export function isEvalRecord(r: MetricsRecord): r is EvalRecord {
  return 'eval_f1' in r;
}

export class MetricsLog {
  private readonly records: MetricsRecord[];
  /** Bytes in the file: a failed append is cut back to here, so the file never ends in half a line. */
  private size: number;

  private constructor(
    readonly path: string,
    records: MetricsRecord[],
    size: number,
  ) {
    this.records = records;
    this.size = size;
  }

  /** A fresh log (truncating `path`), or one continuing `history` (a resumed run rewrites the file to it). */
  static async open(path: string, history: readonly MetricsRecord[] = []): Promise<MetricsLog> {
    const text = history.map((r) => `${JSON.stringify(r)}\n`).join('');
    const bytes = Buffer.byteLength(text);
    await withFileSystemErrors({ path: dirname(path), operation: 'create directory' }, () =>
      mkdir(dirname(path), { recursive: true }),
    );
    await withFileSystemErrors({ path, operation: 'write', bytes }, () => writeFile(path, text));
    return new MetricsLog(path, [...history], bytes);
  }

  get history(): readonly MetricsRecord[] {
    return this.records;
  }

  async append(record: MetricsRecord): Promise<void> {
    this.records.push(record);
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    try {
      await withFileSystemErrors({ path: this.path, operation: 'append to', bytes }, () => appendFile(this.path, line));
    } catch (e) {
      await truncate(this.path, this.size).catch(() => undefined);
      throw e;
    }
    this.size += bytes;
  }
}
