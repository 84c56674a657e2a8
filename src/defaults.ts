/**
 * The defaults a user of the Hugging Face tools expects, in one place: the tutorial's model and data set, its
 * window length, batch size and seed, the question-answering pipeline's doc stride, and `run_qa.py`'s
 * post-processing sizes. Commands show them in `--help`; the library falls back to them. Imports nothing.
 */

/** The tutorial's model (a hub id). */
export const DEFAULT_MODEL_ID = 'distilbert-base-uncased';
/** The tutorial's data set (a hub id). */
export const DEFAULT_DATASET_ID = 'rajpurkar/squad';
/** The SQuAD 2.0 data set (a hub id): `prepare --version-2-with-negative` reads it when no input is given. */
export const SQUAD_V2_DATASET_ID = 'rajpurkar/squad_v2';
/** Tokens per window, special tokens included (the tutorial's `max_length`). */
export const DEFAULT_MAX_LENGTH = 384;
/** Tokens shared by consecutive windows of a long context (the question-answering pipeline's `doc_stride`). */
export const DEFAULT_DOC_STRIDE = 128;
/** Windows per forward pass, in training and evaluation (the tutorial's `per_device_*_batch_size`). */
export const DEFAULT_BATCH_SIZE = 16;
/** Seed of the split, shuffling, dropout and random init (the tutorial's and the Trainer's). */
export const DEFAULT_SEED = 42;
/** Longest answer in tokens (`run_qa.py`'s `max_answer_length`). */
export const DEFAULT_MAX_ANSWER_LENGTH = 30;
/** Start/end candidates and n-best list size (`run_qa.py`'s `n_best_size`). */
export const DEFAULT_N_BEST = 20;

/** The window length when none is given: DEFAULT_MAX_LENGTH, or the model's positions if fewer. */
export function defaultMaxLength(maxPositionEmbeddings: number): number {
  return Math.min(DEFAULT_MAX_LENGTH, maxPositionEmbeddings);
}

/** The doc stride when none is given: the pipeline's DEFAULT_DOC_STRIDE, at most half a window. */
export function defaultDocStride(maxLength: number): number {
  return Math.min(DEFAULT_DOC_STRIDE, Math.floor(maxLength / 2));
}
