/**
 * transformers' `pipeline("question-answering")` (4.57, the Hugging Face Inference API's contract), split into the
 * two halves a batching server needs: `pipelineWindows` (preprocess: the pair cut into overlapping windows) and
 * `pipelineAnswers` (postprocess: spans over a window's probabilities, widened to whole words, merged by text).
 * `qa-ft ask` keeps run_qa's n-best strategy (answer.ts); the HTTP API speaks this one.
 *
 * The pipeline's rules, as its source has them:
 * - Windows: `tokenizer(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
 *   return_overflowing_tokens=True)`, the question as given (no strip); `max_seq_len` defaults to
 *   min(model_max_length, 384), `doc_stride` to min(max_seq_len // 2, 128), and doc_stride > max_seq_len is an
 *   error. `max_question_len` only matters to slow tokenizers: accepted and unused, as in the pipeline.
 * - Per window: tokens outside the context (except [CLS]) get logit −10000, start and end go through a softmax over
 *   the window, the null score is p_start[0]·p_end[0] (kept as the minimum over windows), [CLS] is zeroed, and span
 *   (s, e) scores p_start[s]·p_end[e] for s ≤ e < s + max_answer_len; the top `top_k·2 + 10` spans (`top_k` without
 *   align_to_words) are kept.
 * - Each span becomes character offsets (with align_to_words, from the first character of the start token's word
 *   to the last of the end token's word, words as the pre-tokenizer cut them, within the window); a span whose
 *   text equals an earlier answer's, ignoring case, adds its score to that answer instead of being listed.
 * - With handle_impossible_answer, {answer: "", start: 0, end: 0, score: null score} joins; the answers are sorted
 *   by score and cut to top_k.
 *
 * One deliberate difference: spans of probability exactly 0 (they touch a masked token, or a context has fewer
 * spans than asked for) are never answers here; the pipeline lists some of them, which ones being up to numpy's
 * `argpartition`, after every real answer.
 */
import { QaFtError } from '../errors.js';
import { codePointLength, codePointSlice } from '../util/py-string.js';
import type { QaTokenizer } from '../tokenize/tokenizer.js';
import { cutWindows, type Window } from '../tokenize/windows.js';

/** The Inference API's `parameters` (snake_case there; this is the library's spelling). */
export interface PipelineParameters {
  /** Answers per question, best first (default 1). */
  readonly topK?: number;
  /** Longest answer in tokens (default 15). */
  readonly maxAnswerLen?: number;
  /** Tokens shared by consecutive windows (default min(maxSeqLen / 2, 128)). */
  readonly docStride?: number;
  /** Tokens per window, special tokens included (default min(the tokenizer's model_max_length, 384)). */
  readonly maxSeqLen?: number;
  /** Accepted for the contract; fast tokenizers ignore it in the pipeline too. */
  readonly maxQuestionLen?: number;
  /** Let "" (no answer) compete, scored p_start[CLS]·p_end[CLS] (default false). */
  readonly handleImpossibleAnswer?: boolean;
  /** Widen spans to whole words (default true). */
  readonly alignToWords?: boolean;
}

/** The pipeline's defaults (its `postprocess` signature and `preprocess` body). */
export const PIPELINE_DEFAULTS = {
  topK: 1,
  maxAnswerLen: 15,
  maxSeqLen: 384,
  docStride: 128,
  maxQuestionLen: 64,
  handleImpossibleAnswer: false,
  alignToWords: true,
} as const;

/** One answer, as the pipeline returns it: character offsets in code points (Python indexing). */
export interface PipelineAnswer {
  readonly score: number;
  readonly start: number;
  readonly end: number;
  readonly answer: string;
}

/** A window's logits over its own tokens, with the window. */
export interface ScoredWindow {
  readonly window: Window;
  readonly startLogits: ArrayLike<number>;
  readonly endLogits: ArrayLike<number>;
}

/** The window length and stride a request gets: its own, or the pipeline's defaults for this tokenizer. */
export function windowSizes(
  tokenizer: Pick<QaTokenizer, 'modelMaxLength'>,
  params: PipelineParameters,
): { maxSeqLen: number; docStride: number } {
  const maxSeqLen = params.maxSeqLen ?? Math.min(tokenizer.modelMaxLength ?? Infinity, PIPELINE_DEFAULTS.maxSeqLen);
  const docStride = params.docStride ?? Math.min(Math.floor(maxSeqLen / 2), PIPELINE_DEFAULTS.docStride);
  if (docStride > maxSeqLen)
    throw new QaFtError('BAD_ARGUMENT', `doc_stride (${docStride}) is larger than max_seq_len (${maxSeqLen})`);
  return { maxSeqLen, docStride };
}

/** Checks the parameters' values (the pipeline's own checks, and what its tokenizer and model would refuse). */
export function checkPipelineParameters(params: PipelineParameters): void {
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new QaFtError('BAD_ARGUMENT', `${name} must be an integer ≥ 1, got ${v}`);
  };
  positive('top_k', params.topK);
  positive('max_answer_len', params.maxAnswerLen);
  positive('max_seq_len', params.maxSeqLen);
  positive('max_question_len', params.maxQuestionLen);
  if (params.docStride !== undefined && (!Number.isInteger(params.docStride) || params.docStride < 0)) {
    throw new QaFtError('BAD_ARGUMENT', `doc_stride must be an integer ≥ 0, got ${params.docStride}`);
  }
}

/**
 * The pipeline's windows of one (question, context) pair. Errors (one line, BAD_ARGUMENT) where the pipeline's
 * tokenizer or model would fail: no room for any context beside the question, or a window longer than the model's
 * position table.
 */
export async function pipelineWindows(
  tokenizer: QaTokenizer,
  question: string,
  context: string,
  params: PipelineParameters,
  maxPositions: number,
): Promise<Window[]> {
  const { maxSeqLen, docStride } = windowSizes(tokenizer, params);
  const [q, c] = await tokenizer.encodeTexts([question, context]);
  if (q === undefined || c === undefined) throw new RangeError('the tokenizer returned fewer encodings than texts');
  const cut = cutWindows(tokenizer.pairTemplate, q, c, { maxLength: maxSeqLen, docStride });
  if (!cut.ok) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `the question is ${q.ids.length} tokens long: with max_seq_len ${maxSeqLen} and doc_stride ${docStride} no window can hold the context`,
    );
  }
  const longest = Math.max(...cut.windows.map((w) => w.inputIds.length));
  if (longest > maxPositions) {
    throw new QaFtError('BAD_ARGUMENT', `a window of ${longest} tokens exceeds the model's ${maxPositions} positions`, {
      hint: `set max_seq_len ≤ ${maxPositions}`,
    });
  }
  return cut.windows;
}

/** Softmax of one window's logits with the pipeline's mask (−10000 outside the context, [CLS] kept), in float64. */
function maskedSoftmax(logits: ArrayLike<number>, desired: readonly boolean[]): Float64Array {
  const n = desired.length;
  const p = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    p[i] = desired[i] ? (logits[i] as number) : -10000;
    if (p[i]! > max) max = p[i]!;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(p[i]! - max);
    sum += p[i]!;
  }
  for (let i = 0; i < n; i++) p[i] = p[i]! / sum;
  return p;
}

interface Span {
  readonly s: number;
  readonly e: number;
  readonly score: number;
}

/**
 * The `k` best spans of a window (numpy `decode_spans`), best first; among equal scores the earlier (s, e) in
 * row-major order first, as numpy's argmax takes it. Only spans of positive probability (see the file comment).
 */
function topSpans(ps: Float64Array, pe: Float64Array, maxAnswerLen: number, k: number): Span[] {
  const spans: Span[] = [];
  const n = ps.length;
  for (let s = 0; s < n; s++) {
    if (!(ps[s]! > 0)) continue;
    const last = Math.min(n - 1, s + maxAnswerLen - 1);
    for (let e = s; e <= last; e++) {
      const score = ps[s]! * pe[e]!;
      if (score > 0) spans.push({ s, e, score });
    }
  }
  spans.sort((a, b) => b.score - a.score); // stable: ties keep row-major order
  return spans.slice(0, k);
}

/**
 * Character span of tokens s..e of a window: their offsets, or (align_to_words) from the start of s's word to the
 * end of e's word, a word's tokens taken within this window only (the Rust `word_to_chars` of the window's
 * encoding). A token without a word (special) falls back to the offsets, as the pipeline's `except` does.
 */
function charSpan(w: Window, s: number, e: number, alignToWords: boolean): [number, number] {
  const so = w.offsets[s] ?? [0, 0]; // [CLS] has offsets (0, 0) in the pipeline's encoding
  const eo = w.offsets[e] ?? [0, 0];
  const words = w.words;
  const sw = words?.[s];
  const ew = words?.[e];
  if (!alignToWords || words === undefined || sw == null || ew == null) return [so[0], eo[1]];
  let first = s;
  while (first - 1 >= w.contextStart && words[first - 1] === sw) first--;
  let last = e;
  while (last + 1 <= w.contextEnd && words[last + 1] === ew) last++;
  return [(w.offsets[first] ?? so)[0], (w.offsets[last] ?? eo)[1]];
}

/** The pipeline's answers for one item from its windows' logits (in window order), best first, at most top_k. */
export function pipelineAnswers(
  context: string,
  windows: readonly ScoredWindow[],
  clsTokenId: number,
  params: PipelineParameters = {},
): PipelineAnswer[] {
  const topK = params.topK ?? PIPELINE_DEFAULTS.topK;
  const maxAnswerLen = params.maxAnswerLen ?? PIPELINE_DEFAULTS.maxAnswerLen;
  const alignToWords = params.alignToWords ?? PIPELINE_DEFAULTS.alignToWords;
  const handleImpossible = params.handleImpossibleAnswer ?? PIPELINE_DEFAULTS.handleImpossibleAnswer;
  const preTopK = alignToWords ? topK * 2 + 10 : topK;
  const contextLength = codePointLength(context);
  let minNull = 1000000;
  const answers: { score: number; start: number; end: number; answer: string }[] = [];
  const byLowerText = new Map<string, (typeof answers)[number]>();
  for (const { window: w, startLogits, endLogits } of windows) {
    const n = w.inputIds.length;
    if (startLogits.length < n || endLogits.length < n)
      throw new Error(`window has ${n} tokens but ${startLogits.length}/${endLogits.length} logits`);
    const desired = w.inputIds.map((id, i) => w.offsets[i] != null || id === clsTokenId);
    const ps = maskedSoftmax(startLogits, desired);
    const pe = maskedSoftmax(endLogits, desired);
    if (handleImpossible) minNull = Math.min(minNull, ps[0]! * pe[0]!);
    ps[0] = 0;
    pe[0] = 0;
    for (const { s, e, score } of topSpans(ps, pe, maxAnswerLen, preTopK)) {
      const [start, end] = charSpan(w, s, e, alignToWords);
      if (start < 0 || end > contextLength || end < start) continue; // offsets are the tokenizer's: never outside
      const answer = codePointSlice(context, start, end);
      const key = answer.toLowerCase();
      const same = byLowerText.get(key);
      if (same !== undefined) {
        same.score += score;
        continue;
      }
      const entry = { score, start, end, answer };
      answers.push(entry);
      byLowerText.set(key, entry);
    }
  }
  if (handleImpossible) answers.push({ score: minNull, start: 0, end: 0, answer: '' });
  return answers.sort((a, b) => b.score - a.score).slice(0, topK); // stable, as Python's sorted
}
