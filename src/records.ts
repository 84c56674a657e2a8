/**
 * The records that cross layers, in one leaf that imports nothing (as Hugging Face's `modeling_outputs.py`):
 * a SQuAD row (data → tokenize → infer), a tokenized feature (tokenize → train, infer) and a padded batch
 * (tokenize → model).
 */

/** One SQuAD example, exactly the Hugging Face `rajpurkar/squad` schema. */
export interface SquadRow {
  readonly id: string;
  readonly title: string;
  readonly context: string;
  readonly question: string;
  readonly answers: {
    readonly text: readonly string[];
    /** Character offsets into `context`, counted in Unicode code points (as Python does). */
    readonly answer_start: readonly number[];
  };
}

/** A SQuAD 2.0 question without an answer in its context: empty answers lists (the hub's `squad_v2` layout). */
export function isUnanswerable(row: SquadRow): boolean {
  return row.answers.text.length === 0;
}

/**
 * One tokenized window of (question, context): what `prepare` writes and `train`/`evaluate` read.
 * A long context with a doc stride yields several features with the same `exampleId`.
 */
export interface Feature {
  readonly exampleId: string;
  /** [CLS] question [SEP] context-window [SEP], unpadded. */
  readonly inputIds: readonly number[];
  /**
   * Per token: [start, end) character offsets into the context in Unicode code points for context tokens,
   * null for question and special tokens (as HF keeps `offset_mapping` for post-processing).
   */
  readonly offsets: readonly (readonly [number, number] | null)[];
  /**
   * Per token, the token type ids the tokenizer's pair template gives (BERT-style: 0 up to the first [SEP], 1
   * after); absent when it gives only type 0 (RoBERTa) or for data prepared before qa-ft stored them.
   */
  readonly tokenTypeIds?: readonly number[];
  /** Token index of the answer start, or 0 when the answer is not wholly inside this window. */
  readonly startPosition: number;
  /** Token index of the answer end (inclusive), or 0 when the answer is not wholly inside this window. */
  readonly endPosition: number;
}

/** A padded batch, as the model's forward pass takes it. */
export interface QaBatch {
  readonly inputIds: number[][]; // [B, T]
  readonly attentionMask: number[][]; // [B, T], 1 = real token, 0 = padding
  /**
   * [B, T] segment ids (0 = question, 1 = context for BERT-style pairs); absent = all zeros. Only for models with
   * token type embeddings (BERT, ELECTRA, ALBERT; RoBERTa's single type): the model rejects it otherwise.
   */
  readonly tokenTypeIds?: number[][];
  readonly startPositions?: number[]; // [B]
  readonly endPositions?: number[]; // [B]
}
