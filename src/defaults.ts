/**
 * The defaults a user of the Hugging Face tools expects, in one place: the tutorial's model and data set, its
 * window length and seed, and `run_qa.py`'s post-processing sizes. Commands show them in `--help`; the library
 * falls back to them. Imports nothing.
 */

/** The tutorial's model (a hub id). */
export const DEFAULT_MODEL_ID = 'distilbert-base-uncased';
/** The tutorial's data set (a hub id). */
export const DEFAULT_DATASET_ID = 'rajpurkar/squad';
/** Tokens per window, special tokens included (the tutorial's `max_length`). */
export const DEFAULT_MAX_LENGTH = 384;
/** Seed of the split, shuffling, dropout and random init (the tutorial's and the Trainer's). */
export const DEFAULT_SEED = 42;
/** Longest answer in tokens (`run_qa.py`'s `max_answer_length`). */
export const DEFAULT_MAX_ANSWER_LENGTH = 30;
/** Start/end candidates and n-best list size (`run_qa.py`'s `n_best_size`). */
export const DEFAULT_N_BEST = 20;
