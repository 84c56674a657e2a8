/**
 * (question, context) → model windows `prefix question middle context-window suffix` ([CLS] q [SEP] c [SEP] for
 * BERT, <s> q </s></s> c </s> for RoBERTa), with the template's token type ids, truncating the context only, with
 * overlapping overflow windows when a doc stride is given.
 *
 * Why by hand: tokenizers 0.23.x drops overflow windows when its own truncation runs with a stride (upstream issue
 * #2091). The cut below is the Rust library's: `truncate_encodings` with `OnlySecond` keeps
 * `max_length - n_special - len(question)` context tokens per window, and `Encoding::truncate` starts window k at
 * `k * (keep - stride)` and stops after the first window that reaches the end of the context. Python's tokenizers
 * 0.23.2 has the same defect, so test/tokenize/fixtures/make_tokenizer_fixtures.py cuts its reference windows from
 * Python's untruncated pair encoding by that same rule.
 */
import { QaFtError } from '../errors.js';
import { pyLstrip, pyStrip } from '../util/py-string.js';
import type { PairTemplate, QaTokenizer, TextEncoding } from './tokenizer.js';

export interface WindowOptions {
  /** Longest window in tokens, special tokens included (384 in the tutorial). */
  readonly maxLength: number;
  /** Tokens shared by consecutive windows; absent = one window, the rest of the context is cut off. */
  readonly docStride?: number;
}

export interface Window {
  readonly inputIds: number[];
  /** Code-point offsets into the context for context tokens; null for question and special tokens. */
  readonly offsets: ([number, number] | null)[];
  /** Index in `inputIds` of the first context token. */
  readonly contextStart: number;
  /** Index in `inputIds` of the last context token (contextStart - 1 when the window holds none). */
  readonly contextEnd: number;
  /** Per token, the post-processor's token type id; absent when the tokenizer gives only type 0 (RoBERTa). */
  readonly tokenTypeIds?: number[];
  /**
   * Per token, the index of the context word it belongs to (null for question and special tokens), when the
   * context's encoding has word ids: the pipeline widens answers to whole words with them (`align_to_words`).
   */
  readonly words?: (number | null)[];
}

type CutResult =
  | {
      readonly ok: true;
      readonly windows: Window[] /** some context tokens are not in the first window */;
      readonly truncated: boolean;
    }
  | { readonly ok: false /** context tokens a window could hold (≤ 0, or ≤ stride) */; readonly room: number };

/**
 * The question as each recipe cleans it: the tutorial (no doc stride) `q.strip()`, run_qa.py (a doc stride)
 * `q.lstrip()`. WordPiece ignores the difference; byte-level BPE and SentencePiece keep a trailing space as a token.
 */
export function cleanQuestion(question: string, options: Pick<WindowOptions, 'docStride'>): string {
  return options.docStride === undefined ? pyStrip(question) : pyLstrip(question);
}

/** Checks options against the template once, before any row is cut. */
export function validateWindowOptions(template: PairTemplate, options: WindowOptions): void {
  const special = template.prefix.length + template.middle.length + template.suffix.length;
  if (!Number.isInteger(options.maxLength) || options.maxLength <= special + 1) {
    throw new QaFtError('BAD_ARGUMENT', `max length must be an integer above ${special + 1}, got ${options.maxLength}`);
  }
  const stride = options.docStride;
  if (stride !== undefined && (!Number.isInteger(stride) || stride < 0 || stride >= options.maxLength - special - 1)) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `doc stride must be an integer in [0, ${options.maxLength - special - 1}) for max length ${options.maxLength}, got ${stride}`,
    );
  }
}

/** Cuts already-encoded question and context into windows (pure). */
export function cutWindows(
  template: PairTemplate,
  question: TextEncoding,
  context: TextEncoding,
  options: WindowOptions,
): CutResult {
  const special = template.prefix.length + template.middle.length + template.suffix.length;
  const qLen = question.ids.length;
  const cLen = context.ids.length;
  if (qLen + cLen + special <= options.maxLength) {
    return { ok: true, windows: [makeWindow(template, question, context, 0, cLen)], truncated: false };
  }
  const room = options.maxLength - special - qLen;
  const stride = options.docStride;
  // Rust: SequenceTooShort when nothing fits; `assert!(stride < max_len)` in Encoding::truncate.
  if (room <= 0 || (stride !== undefined && stride >= room)) return { ok: false, room };
  if (stride === undefined) {
    return { ok: true, windows: [makeWindow(template, question, context, 0, room)], truncated: true };
  }
  const step = room - stride;
  const windows: Window[] = [];
  for (let start = 0; ; start += step) {
    const stop = Math.min(start + room, cLen);
    windows.push(makeWindow(template, question, context, start, stop));
    if (stop === cLen) break;
  }
  return { ok: true, windows, truncated: true };
}

function makeWindow(template: PairTemplate, q: TextEncoding, c: TextEncoding, from: number, to: number): Window {
  const inputIds: number[] = [...template.prefix, ...q.ids, ...template.middle];
  const contextStart = inputIds.length;
  const offsets: ([number, number] | null)[] = new Array<null>(contextStart).fill(null);
  inputIds.push(...c.ids.slice(from, to)); // at most maxLength arguments
  offsets.push(...c.offsets.slice(from, to));
  const contextEnd = inputIds.length - 1;
  for (const id of template.suffix) {
    inputIds.push(id);
    offsets.push(null);
  }
  const words =
    c.words === undefined
      ? {}
      : {
          words: [
            ...offsets.slice(0, contextStart).map(() => null),
            ...c.words.slice(from, to),
            ...template.suffix.map(() => null),
          ],
        };
  const t = template.typeIds;
  if (t === undefined) return { inputIds, offsets, contextStart, contextEnd, ...words };
  const tokenTypeIds = [...t.prefix, ...new Array<number>(q.ids.length).fill(t.question), ...t.middle];
  for (let i = contextStart; i <= contextEnd; i++) tokenTypeIds.push(t.context);
  tokenTypeIds.push(...t.suffix);
  return { inputIds, offsets, contextStart, contextEnd, tokenTypeIds, ...words };
}

/**
 * Tokenizes one (question, context) pair into windows, as `tokenizer(question.strip(), context,
 * truncation="only_second", max_length, stride, return_overflowing_tokens=True)` would (`lstrip` with a stride:
 * `cleanQuestion`).
 */
export async function encodeWindows(
  tokenizer: QaTokenizer,
  question: string,
  context: string,
  options: WindowOptions,
): Promise<Window[]> {
  validateWindowOptions(tokenizer.pairTemplate, options);
  const [q, c] = await tokenizer.encodeTexts([cleanQuestion(question, options), context]);
  if (q === undefined || c === undefined) throw new RangeError('the tokenizer returned fewer encodings than texts');
  const result = cutWindows(tokenizer.pairTemplate, q, c, options);
  if (!result.ok) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `the question is ${q.ids.length} tokens long: with max length ${options.maxLength}` +
        `${options.docStride === undefined ? '' : ` and doc stride ${options.docStride}`} no context fits`,
      { hint: 'shorten the question or raise the max length' },
    );
  }
  return result.windows;
}
