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
 * Logits are read only over a window's own tokens (`offsets.length`): padding added by batching never competes,
 * as in run_qa.py, where padded positions are filled with -100 before post-processing.
 */
import { codePointLength, codePointSlice } from '../util/py-string.js';
import { DEFAULT_MAX_ANSWER_LENGTH, DEFAULT_N_BEST } from '../defaults.js';

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

export const DEFAULT_SPAN_OPTIONS: SpanOptions = { maxAnswerLength: DEFAULT_MAX_ANSWER_LENGTH, nBest: DEFAULT_N_BEST };

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

/**
 * Indices of the `k` largest values of `values[0..length)`, largest first; ties keep the lower index first
 * (numpy's argsort is not stable, so HF's order among exact ties is unspecified anyway).
 */
function topIndices(values: ArrayLike<number>, length: number, k: number): number[] {
  const idx = Array.from({ length }, (_, i) => i);
  idx.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
  return idx.slice(0, k);
}

/**
 * The n-best spans of one example over all its windows, best first (HF `utils_qa`, SQuAD v1). Empty when no
 * window offers a valid span (HF then writes the placeholder answer "empty"; see evaluate.ts).
 */
export function bestSpans(context: string, windows: readonly WindowLogits[], options: SpanOptions = DEFAULT_SPAN_OPTIONS): SpanCandidate[] {
  const contextLength = codePointLength(context);
  type Prelim = Omit<SpanCandidate, 'text' | 'probability'>;
  const prelim: Prelim[] = [];
  windows.forEach((w, window) => {
    const n = w.offsets.length;
    if (w.startLogits.length < n || w.endLogits.length < n) {
      throw new Error(`window ${window} has ${n} tokens but ${w.startLogits.length}/${w.endLogits.length} start/end logits`);
    }
    const starts = topIndices(w.startLogits, n, options.nBest);
    const ends = topIndices(w.endLogits, n, options.nBest);
    for (const s of starts) {
      const so = w.offsets[s];
      if (!so) continue; // not a context token
      for (const e of ends) {
        const eo = w.offsets[e];
        if (!eo) continue;
        if (e < s || e - s + 1 > options.maxAnswerLength) continue;
        const start = so[0];
        const end = eo[1];
        // Offsets come from the tokenizer and are always inside the context; guard so a bad caller cannot leak
        // text from outside it.
        if (start < 0 || end > contextLength || end < start) continue;
        const startLogit = w.startLogits[s] as number;
        const endLogit = w.endLogits[e] as number;
        prelim.push({ start, end, startLogit, endLogit, score: startLogit + endLogit, window, startToken: s, endToken: e });
      }
    }
  });
  // Array.prototype.sort is stable, like Python's sorted(..., reverse=True).
  const top = prelim.sort((a, b) => b.score - a.score).slice(0, options.nBest);
  if (top.length === 0) return [];
  const maxScore = top[0]!.score;
  const exps = top.map((p) => Math.exp(p.score - maxScore));
  const total = exps.reduce((a, b) => a + b, 0);
  return top.map((p, i) => ({ ...p, text: codePointSlice(context, p.start, p.end), probability: exps[i]! / total }));
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

/** First index of the maximum (torch.argmax returns the first maximal index too). */
function argmax(values: ArrayLike<number>, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function softmaxAt(values: ArrayLike<number>, length: number, at: number): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, values[i] as number);
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp((values[i] as number) - max);
  return Math.exp((values[at] as number) - max) / sum;
}

/** The tutorial's decode positions for one window: `input_ids[argmax(start) : argmax(end) + 1]`. */
export function argmaxSpan(inputIds: readonly number[], w: WindowLogits): ArgmaxSpan {
  const n = inputIds.length;
  const s = argmax(w.startLogits, n);
  const e = argmax(w.endLogits, n);
  const so = w.offsets[s];
  const eo = w.offsets[e];
  const inContext = so != null && eo != null && e >= s;
  return {
    startToken: s,
    endToken: e,
    ids: inputIds.slice(s, e + 1),
    score: (w.startLogits[s] as number) + (w.endLogits[e] as number),
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
