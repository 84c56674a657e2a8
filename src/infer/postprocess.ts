/**
 * Start/end logits of an example's windows → answer spans (pure). Two strategies:
 *
 * - `best` is Hugging Face `utils_qa.postprocess_qa_predictions` (SQuAD v1): per window the top-n start and top-n
 *   end tokens, only pairs of context tokens with end ≥ start and at most `maxAnswerLength` tokens, score =
 *   start logit + end logit; all windows of the example pooled, the n best kept, probability = softmax of their
 *   scores; the answer is the original context substring between the tokens' character offsets.
 * - `argmax` is the tutorial's decode: argmax of the start logits, argmax of the end logits, and the tokens between
 *   (empty when end < start), decoded by the tokenizer (see answer.ts); nothing else is checked.
 *
 * SQuAD 2.0 (`nullAwareSpans`, `utils_qa` with `version_2_with_negative=True`): the null score of an example is the
 * smallest start + end logit at token 0 ([CLS]) over its windows; it joins the n-best list as the answer "" and the
 * answer is "" when null score − the best non-empty span's start + end logit > `nullScoreDiffThreshold`.
 *
 * Logits are read only over a window's own tokens (`offsets.length`): padding added by batching never competes,
 * as in run_qa.py, where padded positions are filled with -100 before post-processing.
 */
import { codePointLength, codePointSlice } from '../util/py-string.js';
import { DEFAULTS } from '../defaults.js';

/** One window's post-processing input. */
export interface WindowLogits {
  /** Per token: [start, end) code-point offsets into the context, null for question/special tokens. */
  readonly offsets: readonly (readonly [number, number] | null)[];
  /** At least `offsets.length` values; extra (padding) positions are ignored. */
  readonly startLogits: ArrayLike<number>;
  readonly endLogits: ArrayLike<number>;
}

interface SpanOptions {
  /** Longest answer in tokens (HF `max_answer_length`, 30). */
  readonly maxAnswerLength: number;
  /** Candidates per side and length of the n-best list (HF `n_best_size`, 20). */
  readonly nBest: number;
}

export const DEFAULT_SPAN_OPTIONS: SpanOptions = { maxAnswerLength: DEFAULTS.maxAnswerLength, nBest: DEFAULTS.nBest };

/** One n-best entry. */
interface SpanCandidate {
  /** The context substring `context[start:end]` (code points, as Python slices). */
  readonly text: string;
  /** Character start in code points. */
  readonly start: number;
  /** Character end (exclusive) in code points. */
  readonly end: number;
  readonly startLogit: number;
  readonly endLogit: number;
  /** startLogit + endLogit. */
  readonly score: number;
  /** Softmax of `score` over the n-best list. */
  readonly probability: number;
  /** Which window (index into the input list) the span came from. */
  readonly window: number;
  /** Token indices of the span within its window (inclusive). */
  readonly startToken: number;
  readonly endToken: number;
}

/** `values[i]`; the callers check that a window has a logit per token first, so a miss is a bug and throws. */
function logitAt(values: ArrayLike<number>, i: number): number {
  const v = values[i];
  if (v === undefined) throw new RangeError(`logit ${i} is past the end of ${values.length} logits`);
  return v;
}

/** A window needs a start and an end logit per token (`n` of them); fewer is a caller's bug. */
function checkLogitLength(w: WindowLogits, n: number, window?: number): void {
  if (w.startLogits.length < n || w.endLogits.length < n) {
    const which = window === undefined ? 'window' : `window ${window}`;
    throw new Error(`${which} has ${n} tokens but ${w.startLogits.length}/${w.endLogits.length} start/end logits`);
  }
}

/** `entries` with `probability`: the softmax of their scores over the list (utils_qa's n-best probabilities). */
function withProbabilities<T extends { readonly score: number }>(
  entries: readonly T[],
): (T & { probability: number })[] {
  const maxScore = Math.max(...entries.map((e) => e.score));
  const total = entries.reduce((sum, e) => sum + Math.exp(e.score - maxScore), 0);
  return entries.map((e) => ({ ...e, probability: Math.exp(e.score - maxScore) / total }));
}

/** A token index with its logit. */
interface Ranked {
  readonly index: number;
  readonly value: number;
}

/**
 * The `k` largest values of `values[0..length)` with their indices, largest first; ties keep the lower index first
 * (numpy's argsort is not stable, so HF's order among exact ties is unspecified anyway). One pass keeping a sorted
 * list of at most k: the same result as sorting all indices and taking k, without sorting the whole window.
 */
function topIndices(values: ArrayLike<number>, length: number, k: number): Ranked[] {
  const top: Ranked[] = [];
  for (let index = 0; index < length; index++) {
    const value = logitAt(values, index);
    const last = top.at(-1);
    if (last !== undefined && top.length >= k && !(value > last.value)) continue; // not above the k-th (an equal one came first)
    const at = top.findIndex((t) => t.value < value); // after every equal value: ties stay in index order
    if (at === -1) top.push({ index, value });
    else top.splice(at, 0, { index, value });
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * The n-best spans of one example over all its windows, best first (HF `utils_qa`, SQuAD v1). Empty when no
 * window offers a valid span (HF then writes the placeholder answer "empty"; see evaluate.ts).
 */
export function bestSpans(
  context: string,
  windows: readonly WindowLogits[],
  options: SpanOptions = DEFAULT_SPAN_OPTIONS,
): SpanCandidate[] {
  const prelim = candidateSpans(codePointLength(context), windows, options);
  // Array.prototype.sort is stable, like Python's sorted(..., reverse=True).
  const top = prelim.sort((a, b) => b.score - a.score).slice(0, options.nBest);
  return withProbabilities(top.map((p) => ({ ...p, text: codePointSlice(context, p.start, p.end) })));
}

type Prelim = Omit<SpanCandidate, 'text' | 'probability'>;

/** Every valid pair of each window's top-n start and end tokens, window by window (utils_qa's `prelim_predictions`). */
function candidateSpans(contextLength: number, windows: readonly WindowLogits[], options: SpanOptions): Prelim[] {
  const prelim: Prelim[] = [];
  windows.forEach((w, window) => {
    const n = w.offsets.length;
    checkLogitLength(w, n, window);
    const starts = topIndices(w.startLogits, n, options.nBest);
    const ends = topIndices(w.endLogits, n, options.nBest);
    for (const { index: s, value: startLogit } of starts) {
      const so = w.offsets[s];
      if (!so) continue; // not a context token
      for (const { index: e, value: endLogit } of ends) {
        const eo = w.offsets[e];
        if (!eo) continue;
        if (e < s || e - s + 1 > options.maxAnswerLength) continue;
        const start = so[0];
        const end = eo[1];
        // Offsets come from the tokenizer and are always inside the context; guard so a bad caller cannot leak
        // text from outside it.
        if (start < 0 || end > contextLength || end < start) continue;
        prelim.push({
          start,
          end,
          startLogit,
          endLogit,
          score: startLogit + endLogit,
          window,
          startToken: s,
          endToken: e,
        });
      }
    }
  });
  return prelim;
}

/** One entry of a SQuAD 2.0 n-best list: a span, the null answer ("" at token 0), or HF's "empty" placeholder. */
export interface NullAwareEntry {
  readonly kind: 'span' | 'null' | 'placeholder';
  readonly text: string;
  readonly startLogit: number;
  readonly endLogit: number;
  readonly score: number;
  /** Softmax of `score` over the n-best list (the null entry and the placeholder included). */
  readonly probability: number;
  /** Character span of a `span` entry, in code points. */
  readonly start?: number;
  readonly end?: number;
}

export interface NullAwarePrediction {
  /** The answer: "" when the null score wins by more than the threshold. */
  readonly answer: string;
  /** The n-best list, best first: spans and the null entry (appended last if it scored below the n best). */
  readonly nbest: NullAwareEntry[];
  /** The best entry with a non-empty text (the answer unless the null wins), or undefined if there is none. */
  readonly best: NullAwareEntry | undefined;
  /** The null entry (undefined only without windows). */
  readonly null: NullAwareEntry | undefined;
  /** Null score − the best non-empty entry's start + end logit: `null_odds.json`'s value (0 without windows). */
  readonly scoreDiff: number;
}

/**
 * The `utils_qa` placeholder when no window offers a span: text "empty", logits 0 (it scores like any wrong answer).
 */
const PLACEHOLDER = { kind: 'placeholder', text: 'empty', startLogit: 0, endLogit: 0, score: 0 } as const;

/**
 * The SQuAD 2.0 prediction of one example (`utils_qa.postprocess_qa_predictions(version_2_with_negative=True)`):
 * the candidate spans and the null entry (the window with the smallest [CLS] score; the first on ties) sorted
 * together and cut to n best (spans first among equal scores, as HF appends the null after them), the null entry
 * put back if it fell out, the placeholder put first if nothing but the null is left, probabilities over the list,
 * and "" as the answer when `null score − best > nullScoreDiffThreshold` (HF's `null_score_diff_threshold`, 0).
 */
export function nullAwareSpans(
  context: string,
  windows: readonly WindowLogits[],
  options: SpanOptions & { readonly nullScoreDiffThreshold?: number } = DEFAULT_SPAN_OPTIONS,
): NullAwarePrediction {
  type Entry = Omit<NullAwareEntry, 'text' | 'probability'>;
  const entries: Entry[] = candidateSpans(codePointLength(context), windows, options).map((p) => ({
    kind: 'span',
    ...p,
  }));
  let nullEntry: Entry | undefined;
  for (const w of windows) {
    const startLogit = logitAt(w.startLogits, 0);
    const endLogit = logitAt(w.endLogits, 0);
    if (nullEntry === undefined || nullEntry.score > startLogit + endLogit) {
      nullEntry = { kind: 'null', startLogit, endLogit, score: startLogit + endLogit, start: 0, end: 0 };
    }
  }
  if (nullEntry !== undefined) entries.push(nullEntry);
  const top = entries.sort((a, b) => b.score - a.score).slice(0, options.nBest);
  // HF looks for offsets (0, 0), which a span at the very start of the context with no width would also match
  if (nullEntry !== undefined && !top.some((e) => e.start === 0 && e.end === 0)) top.push(nullEntry);
  const texted = top.map((e) => ({
    ...e,
    text: e.kind === 'span' ? codePointSlice(context, e.start ?? 0, e.end ?? 0) : '',
  }));
  const [only] = texted;
  if (only === undefined || (texted.length === 1 && only.text === '')) texted.unshift({ ...PLACEHOLDER });
  const nbest: NullAwareEntry[] = withProbabilities(texted);
  const best = nbest.find((e) => e.text !== '');
  const nullOut = nbest.find((e) => e.kind === 'null');
  if (nullOut === undefined || best === undefined)
    return { answer: best?.text ?? '', nbest, best, null: nullOut, scoreDiff: 0 };
  const scoreDiff = nullOut.score - best.startLogit - best.endLogit;
  const threshold = options.nullScoreDiffThreshold ?? DEFAULTS.nullScoreDiffThreshold;
  return { answer: scoreDiff > threshold ? '' : best.text, nbest, best, null: nullOut, scoreDiff };
}

/** The tutorial's span: argmax start and argmax end over one window's tokens. */
interface ArgmaxSpan {
  readonly startToken: number;
  readonly endToken: number;
  /** `inputIds[startToken .. endToken]` (empty when endToken < startToken): what the tutorial decodes. */
  readonly ids: number[];
  /** startLogit + endLogit at the two argmaxes (compares windows of a long context). */
  readonly score: number;
  /** softmax(start)[startToken] × softmax(end)[endToken] over the window's tokens. */
  readonly probability: number;
  /** Character span when both tokens are context tokens and end ≥ start, else null. */
  readonly start: number | null;
  readonly end: number | null;
}

/** First index of the maximum, with its value (torch.argmax returns the first maximal index too). */
function argmax(values: ArrayLike<number>, length: number): Ranked {
  let best: Ranked = { index: 0, value: logitAt(values, 0) };
  for (let index = 1; index < length; index++) {
    const value = logitAt(values, index);
    if (value > best.value) best = { index, value };
  }
  return best;
}

function softmaxAt(values: ArrayLike<number>, length: number, at: number): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, logitAt(values, i));
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp(logitAt(values, i) - max);
  return Math.exp(logitAt(values, at) - max) / sum;
}

/** The tutorial's decode positions for one window: `input_ids[argmax(start) : argmax(end) + 1]`. */
export function argmaxSpan(inputIds: readonly number[], w: WindowLogits): ArgmaxSpan {
  const n = inputIds.length;
  checkLogitLength(w, n);
  const start = argmax(w.startLogits, n);
  const end = argmax(w.endLogits, n);
  const s = start.index;
  const e = end.index;
  const so = w.offsets[s];
  const eo = w.offsets[e];
  const inContext = so != null && eo != null && e >= s;
  return {
    startToken: s,
    endToken: e,
    ids: inputIds.slice(s, e + 1),
    score: start.value + end.value,
    probability: softmaxAt(w.startLogits, n, s) * softmaxAt(w.endLogits, n, e),
    start: inContext ? so[0] : null,
    end: inContext ? eo[1] : null,
  };
}

/**
 * transformers' `clean_up_tokenization` (applied by `tokenizer.decode` when the tokenizer config sets
 * `clean_up_tokenization_spaces`, as distilbert-base-uncased does). The Rust WordPiece decoder cleans each token
 * alone, so joins across tokens such as `it ' s` → `it's` happen only here.
 */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
