/**
 * The defaults a user of the Hugging Face tools expects, in one object: the tutorial's model, data set, window,
 * batch size and seed, the Trainer's hyper-parameters, the QA pipeline's doc stride and `run_qa.py`'s
 * post-processing. Commands show and parse them (`--help`); the library falls back to them. Imports nothing.
 */

export const DEFAULTS = Object.freeze({
  /** The tutorial's model (a hub id). */
  modelId: 'distilbert-base-uncased',
  /** The tutorial's data set (a hub id). */
  datasetId: 'rajpurkar/squad',
  /** The SQuAD 2.0 data set (a hub id): `prepare --version-2-with-negative` reads it when no input is given. */
  squadV2DatasetId: 'rajpurkar/squad_v2',
  /** Tokens per window, special tokens included (the tutorial's `max_length`). */
  maxLength: 384,
  /** Tokens shared by consecutive windows of a long context (the question-answering pipeline's `doc_stride`). */
  docStride: 128,
  /** Windows per forward pass, in training and evaluation (the tutorial's `per_device_*_batch_size`). */
  batchSize: 16,
  /** Seed of the split, shuffling, dropout and random init (the tutorial's and the Trainer's). */
  seed: 42,
  /** Training epochs (the tutorial's `num_train_epochs`). */
  epochs: 3,
  /** Peak learning rate (the tutorial's). */
  learningRate: 2e-5,
  /** Decoupled weight decay, not on biases or LayerNorm (the tutorial's). */
  weightDecay: 0.01,
  /** Fraction of the optimizer steps with linear warm-up (the Trainer's). */
  warmupRatio: 0,
  /** Global gradient-norm clipping threshold (the Trainer's; 0 disables). */
  maxGradNorm: 1.0,
  /** Micro-batches per optimizer step (the Trainer's). */
  gradientAccumulationSteps: 1,
  /** The learning-rate schedule (the Trainer's `lr_scheduler_type`). */
  lrSchedulerType: 'linear' as const,
  /** A metrics record every this many optimizer steps (qa-ft's; the Trainer logs every 500). */
  loggingSteps: 10,
  /** How much the best-model metric must improve by to reset early stopping (the Trainer's). */
  earlyStoppingThreshold: 0,
  /** Longest answer in tokens (`run_qa.py`'s `max_answer_length`). */
  maxAnswerLength: 30,
  /** Start/end candidates and n-best list size (`run_qa.py`'s `n_best_size`). */
  nBest: 20,
  /** SQuAD 2.0: "" wins when null score − best span score exceeds it (`run_qa.py`'s `null_score_diff_threshold`). */
  nullScoreDiffThreshold: 0,
  /**
   * The official SQuAD 2.0 script's `--na-prob-thresh`: a probability never exceeds it, so predictions count as given.
   */
  naProbThresh: 1.0,
});

/** The window length when none is given: DEFAULTS.maxLength, or the model's positions if fewer. */
export function defaultMaxLength(maxPositionEmbeddings: number): number {
  return Math.min(DEFAULTS.maxLength, maxPositionEmbeddings);
}

/** The doc stride when none is given: the pipeline's DEFAULTS.docStride, at most half a window. */
export function defaultDocStride(maxLength: number): number {
  return Math.min(DEFAULTS.docStride, Math.floor(maxLength / 2));
}
