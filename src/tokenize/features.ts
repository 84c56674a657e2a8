/**
 * SQuAD rows → labelled features: the tutorial's `preprocess_function` (one truncated window per row), or with a
 * doc stride HF `run_qa.py`'s `prepare_train_features` (several overlapping windows per long row).
 *
 * SQuAD has about five questions per context, so each distinct context is tokenized once and its encoding reused:
 * exact, because the Rust tokenizer encodes the two sequences of a pair independently (see tokenizer.ts).
 */
import type { SquadRow } from '../records.js';
import { zip } from '../util/checked-index.js';
import { codePointLength } from '../util/py-string.js';
import { answerTokenLabels, noAnswerLabels, type LabelRule, type TokenLabels } from './labels.js';
import type { QaTokenizer, TextEncoding } from './tokenizer.js';
import type { Feature } from '../records.js';
import { cleanQuestion, cutWindows, validateWindowOptions, type Window, type WindowOptions } from './windows.js';

export interface FeatureOptions extends WindowOptions {
  /** Default: `tutorial` without a doc stride, `whole` with one (run_qa.py). */
  readonly labelRule?: LabelRule;
  /** Context encodings to reuse and fill (share one between the train and test calls). */
  readonly contextCache?: Map<string, TextEncoding>;
}

export interface FeatureStats {
  readonly examples: number;
  readonly features: number;
  /** Rows whose context did not fit in one window (cut off, or split into several windows with a stride). */
  readonly truncated: number;
  /** Windows labelled (0, 0): the answer is not in the window (or the row has no answer). */
  readonly unanswerable: number;
  /** Rows dropped because the question leaves no room for context (or no more room than the stride). */
  readonly skippedLongQuestion: number;
}

export interface PreparedFeatures {
  readonly features: Feature[];
  readonly stats: FeatureStats;
  /** Ids of the rows in `skippedLongQuestion`, in row order. */
  readonly skippedExampleIds: string[];
}

/** A window as a feature of example `exampleId`, with its labels (inference: (0, 0)). */
export function windowFeature(exampleId: string, w: Window, labels: TokenLabels = { start: 0, end: 0 }): Feature {
  return {
    exampleId,
    inputIds: w.inputIds,
    offsets: w.offsets,
    ...(w.tokenTypeIds === undefined ? {} : { tokenTypeIds: w.tokenTypeIds }),
    startPosition: labels.start,
    endPosition: labels.end,
  };
}

/** Rows per tokenizer call: big enough for Rust's parallel batch, small enough for steady progress. */
const CHUNK = 512;

export async function prepareFeatures(
  rows: readonly SquadRow[],
  tokenizer: QaTokenizer,
  options: FeatureOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<PreparedFeatures> {
  validateWindowOptions(tokenizer.pairTemplate, options);
  const rule: LabelRule = options.labelRule ?? (options.docStride === undefined ? 'tutorial' : 'whole');
  const contextCache = options.contextCache ?? new Map<string, TextEncoding>();
  const features: Feature[] = [];
  const skippedExampleIds: string[] = [];
  let truncated = 0;
  let unanswerable = 0;
  onProgress?.(0, rows.length);
  for (let from = 0; from < rows.length; from += CHUNK) {
    const chunk = rows.slice(from, from + CHUNK);
    const newContexts = [...new Set(chunk.map((r) => r.context).filter((c) => !contextCache.has(c)))];
    const [questions, contexts] = await Promise.all([
      tokenizer.encodeTexts(chunk.map((r) => cleanQuestion(r.question, options))),
      tokenizer.encodeTexts(newContexts),
    ]);
    for (const [c, encoding] of zip(newContexts, contexts)) contextCache.set(c, encoding);
    for (const [row, question] of zip(chunk, questions)) {
      const context = contextCache.get(row.context);
      if (context === undefined) throw new RangeError(`row ${row.id}: its context was not encoded`); // a bug: all were, above
      const cut = cutWindows(tokenizer.pairTemplate, question, context, options);
      if (!cut.ok) {
        skippedExampleIds.push(row.id);
        continue;
      }
      if (cut.truncated) truncated++;
      const answerText = row.answers.text[0];
      const startChar = row.answers.answer_start[0];
      for (const w of cut.windows) {
        const labels =
          answerText === undefined || startChar === undefined
            ? noAnswerLabels(w.inputIds, tokenizer.clsTokenId) // SQuAD 2.0 unanswerable: [CLS] in every window
            : answerTokenLabels(
                w.offsets,
                w.contextStart,
                w.contextEnd,
                startChar,
                startChar + codePointLength(answerText),
                rule,
              );
        if (labels.start === 0 && labels.end === 0) unanswerable++;
        features.push(windowFeature(row.id, w, labels));
      }
    }
    onProgress?.(Math.min(from + CHUNK, rows.length), rows.length);
  }
  return {
    features,
    skippedExampleIds,
    stats: {
      examples: rows.length,
      features: features.length,
      truncated,
      unanswerable,
      skippedLongQuestion: skippedExampleIds.length,
    },
  };
}
