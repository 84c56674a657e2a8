/**
 * Answering free-form (question, context) pairs: each context cut into overlapping windows with the doc stride
 * (so nothing is cut off), all windows of all items batched through the model, then per item the best spans
 * over its windows (`best`, HF `utils_qa`) or the tutorial's argmax decode (`argmax`). With
 * `handleImpossibleAnswer` (a SQuAD 2.0 model), `best` lets the null answer compete as `utils_qa` does with
 * `version_2_with_negative`: the answer is "" ("no answer") when the null score wins by more than the threshold.
 */
import { field, opt, OptionError, QaFtError } from '../errors.js';
import { pyStrip } from '../util/py-string.js';
import type { QaModel } from '../model/types.js';
import type { QaTokenizer } from '../tokenize/tokenizer.js';
import type { Feature } from '../records.js';
import { windowFeature } from '../tokenize/features.js';
import { encodeWindows, type Window } from '../tokenize/windows.js';
import { forwardFeatures } from './forward.js';
import { argmaxSpan, bestSpans, cleanUpTokenization, nullAwareSpans, type WindowLogits } from './postprocess.js';
import { checkStrategy, type Strategy } from './strategy.js';
import { DEFAULTS, defaultDocStride, defaultMaxLength } from '../defaults.js';

export interface AskItem {
  readonly question: string;
  readonly context: string;
}

export interface AnswerOptions {
  /** Answers per item, best first (default 1; `argmax` always gives one). */
  readonly topK?: number;
  /** Longest answer in tokens for `best` (default 30). */
  readonly maxAnswerLength?: number;
  /** Tokens shared by consecutive windows of a long context (default 128). */
  readonly docStride?: number;
  /** Window length in tokens, special tokens included (default 384, at most the model's position table). */
  readonly maxLength?: number;
  readonly strategy?: Strategy;
  /** Windows per forward pass (default 16). */
  readonly batchSize?: number;
  /** Called after each batch with batches done / total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** SQuAD 2.0: the answer may be "" (no answer), when null score − best span score > `nullScoreDiffThreshold`. */
  readonly handleImpossibleAnswer?: boolean;
  /** With `handleImpossibleAnswer`: default 0.0 (run_qa's `null_score_diff_threshold`). */
  readonly nullScoreDiffThreshold?: number;
}

export interface Answer {
  readonly answer: string;
  /**
   * `best`: the span's probability (softmax over the n-best list of its example). `argmax`: the probability of
   * the argmax start times that of the argmax end (softmaxes over the window's tokens).
   */
  readonly score: number;
  /** Character span in the context, in code points (Python indexing); null when `argmax` decodes no context span. */
  readonly start: number | null;
  readonly end: number | null;
  /**
   * With `handleImpossibleAnswer`: the item's null score − its best span's score (> the threshold: no answer).
   * The no-answer entry has answer "", no span, and as `score` the null entry's probability in the n-best list.
   */
  readonly nullScoreDiff?: number;
}

/** A window's logits with its token ids (the argmax strategy decodes ids). */
interface ItemWindow extends WindowLogits {
  readonly inputIds: readonly number[];
}

/** One-line errors for items without a question or context (callers may check before loading a model). */
export function checkItems(items: readonly AskItem[]): void {
  items.forEach((item, index) => {
    const where = `item ${index + 1}`;
    if (typeof item.question !== 'string' || pyStrip(item.question) === '') {
      throw new QaFtError('BAD_ARGUMENT', `${where}: the question is empty`, { hint: 'give a non-empty question' });
    }
    if (typeof item.context !== 'string' || pyStrip(item.context) === '') {
      throw new QaFtError('BAD_ARGUMENT', `${where}: the context is empty`, { hint: 'give a non-empty context' });
    }
  });
}

/** Windows of one item; a context without any text token is a one-line error. */
async function windowsOf(
  tokenizer: QaTokenizer,
  item: AskItem,
  index: number,
  maxLength: number,
  docStride: number,
): Promise<Window[]> {
  const where = `item ${index + 1}`;
  const windows = await encodeWindows(tokenizer, item.question, item.context, { maxLength, docStride });
  if (windows.every((w) => w.contextEnd < w.contextStart)) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `${where}: the context has no text tokens (only whitespace or control characters)`,
      {
        hint: 'give a context with words in it',
      },
    );
  }
  return windows;
}

export async function answerQuestions(
  model: QaModel,
  tokenizer: QaTokenizer,
  items: readonly AskItem[],
  options: AnswerOptions = {},
): Promise<Answer[][]> {
  const topK = options.topK ?? 1;
  const maxAnswerLength = options.maxAnswerLength ?? DEFAULTS.maxAnswerLength;
  const maxLength = options.maxLength ?? defaultMaxLength(model.config.maxPositionEmbeddings);
  const docStride = options.docStride ?? defaultDocStride(maxLength);
  const strategy = checkStrategy(options.strategy ?? 'best');
  if (!Number.isInteger(topK) || topK < 1)
    throw new QaFtError('BAD_ARGUMENT', `top-k must be a positive integer, got ${topK}`);
  if (!Number.isInteger(maxAnswerLength) || maxAnswerLength < 1) {
    throw new QaFtError('BAD_ARGUMENT', `max answer length must be a positive integer, got ${maxAnswerLength}`);
  }
  if (options.handleImpossibleAnswer && strategy === 'argmax') {
    throw new OptionError(
      'BAD_ARGUMENT',
      opt`handling impossible answers needs the best strategy (argmax has no null score)`,
      { hint: opt`use ${field('strategy')} best` },
    );
  }
  if (maxLength > model.config.maxPositionEmbeddings) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `max length ${maxLength} exceeds the model's ${model.config.maxPositionEmbeddings} positions`,
    );
  }

  checkItems(items);
  // Every window of every item becomes one unlabelled feature, item after item.
  const itemFeatures: { item: AskItem; features: Feature[] }[] = [];
  for (const [i, item] of items.entries()) {
    const windows = await windowsOf(tokenizer, item, i, maxLength, docStride);
    const features = windows.map((w): Feature => windowFeature(String(i), w));
    itemFeatures.push({ item, features });
  }
  const { logits } = await forwardFeatures(
    model,
    itemFeatures.flatMap((f) => f.features),
    {
      batchSize: options.batchSize,
      withLabels: false,
      onProgress: options.onProgress,
    },
  );

  const results: Answer[][] = [];
  let from = 0; // an item's windows are the next `features.length` entries of `logits` (same order as the features)
  for (const { item, features } of itemFeatures) {
    const windows: ItemWindow[] = logits
      .slice(from, from + features.length)
      .map(({ feature, startLogits, endLogits }) => ({
        inputIds: feature.inputIds,
        offsets: feature.offsets,
        startLogits,
        endLogits,
      }));
    from += features.length;
    if (strategy === 'argmax') {
      results.push([await argmaxAnswer(tokenizer, windows)]);
      continue;
    }
    const spanOptions = {
      maxAnswerLength,
      nBest: Math.max(DEFAULTS.nBest, topK) /* raised to top-k when more answers are asked for */,
    };
    if (options.handleImpossibleAnswer) {
      results.push(
        nullAwareAnswers(
          item.context,
          windows,
          { ...spanOptions, nullScoreDiffThreshold: options.nullScoreDiffThreshold },
          topK,
        ),
      );
      continue;
    }
    const spans = bestSpans(item.context, windows, spanOptions);
    // Overlapping windows can propose the same span twice; a user asking for top-k wants k different answers.
    const seen = new Set<string>();
    const answers: Answer[] = [];
    for (const s of spans) {
      const key = `${s.start}:${s.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      answers.push({ answer: s.text, score: s.probability, start: s.start, end: s.end });
      if (answers.length === topK) break;
    }
    results.push(answers);
  }
  return results;
}

/**
 * SQuAD 2.0 answers of one item: the decision first ("" when the null wins, else the best span), then the rest of
 * the n-best list in order (the null entry among them as ""), spans found by several windows given once.
 */
function nullAwareAnswers(
  context: string,
  windows: readonly WindowLogits[],
  options: Parameters<typeof nullAwareSpans>[2],
  topK: number,
): Answer[] {
  const p = nullAwareSpans(context, windows, options);
  const first = p.answer === '' ? p.null : p.best;
  const ordered = [first, ...p.nbest.filter((e) => e !== first)].filter(
    (e) => e !== undefined && e.kind !== 'placeholder',
  );
  const seen = new Set<string>();
  const answers: Answer[] = [];
  for (const e of ordered) {
    if (e === undefined) continue;
    const key = e.kind === 'span' ? `${e.start}:${e.end}` : 'null';
    if (seen.has(key)) continue;
    seen.add(key);
    const span = e.kind === 'span' ? { start: e.start ?? null, end: e.end ?? null } : { start: null, end: null };
    answers.push({ answer: e.text, score: e.probability, ...span, nullScoreDiff: p.scoreDiff });
    if (answers.length === topK) break;
  }
  return answers;
}

/**
 * The tutorial's answer: `tokenizer.decode(input_ids[argmax(start) : argmax(end) + 1])` with special tokens
 * kept and transformers' clean-up. With several windows (a context the tutorial could not take whole), the window
 * whose argmax start + end logits are highest answers.
 */
async function argmaxAnswer(tokenizer: QaTokenizer, windows: readonly ItemWindow[]): Promise<Answer> {
  const [first, ...rest] = windows;
  if (first === undefined) throw new Error('no windows to answer from'); // windowsOf gives at least one
  let best = argmaxSpan(first.inputIds, first);
  for (const w of rest) {
    const span = argmaxSpan(w.inputIds, w);
    if (span.score > best.score) best = span;
  }
  return {
    answer: await tutorialDecode(tokenizer, best.ids),
    score: best.probability,
    start: best.start,
    end: best.end,
  };
}

/** `tokenizer.decode(ids)` as transformers does it by default: special tokens kept, tokenization spaces cleaned. */
export async function tutorialDecode(tokenizer: QaTokenizer, ids: readonly number[]): Promise<string> {
  if (ids.length === 0) return '';
  return cleanUpTokenization(await tokenizer.decode(ids, { skipSpecialTokens: false }));
}
