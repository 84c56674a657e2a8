/**
 * Character span of an answer → start/end token labels of one window (pure).
 *
 * `tutorial` is the Hugging Face question-answering tutorial's `preprocess_function` to the letter: the answer is
 * labelled (0, 0) only when it lies wholly outside the window's context (`offset[context_start][0] > end_char or
 * offset[context_end][1] < start_char`); an answer cut by truncation still gets labels (the end may then point
 * just past the context, at [SEP]), as in the tutorial.
 * `whole` is HF `run_qa.py` (used with a doc stride): (0, 0) unless the answer is wholly inside the window
 * (`offset[context_start][0] <= start_char and offset[context_end][1] >= end_char`); the walks are the same.
 *
 * A SQuAD 2.0 question without an answer is labelled at the [CLS] token in every window (`noAnswerLabels`), as
 * run_qa.py does with `--version_2_with_negative` (`cls_index = input_ids.index(cls_token_id)`): index 0 for the
 * current families, whose windows begin with [CLS] / <s>.
 */

export type LabelRule = 'tutorial' | 'whole';

export interface TokenLabels {
  readonly start: number;
  readonly end: number;
}

/** The label of a window of a question with no answer: both ends at the first [CLS] token (index 0 if none). */
export function noAnswerLabels(inputIds: readonly number[], clsTokenId: number): TokenLabels {
  const cls = Math.max(0, inputIds.indexOf(clsTokenId));
  return { start: cls, end: cls };
}

/**
 * @param offsets per token [start, end) in code points; only indices contextStart..contextEnd are read
 * @param contextStart index of the first context token
 * @param contextEnd index of the last context token (inclusive)
 * @param startChar answer start in code points
 * @param endChar answer end (exclusive) in code points: startChar + len(text)
 */
export function answerTokenLabels(
  offsets: readonly (readonly [number, number] | null)[],
  contextStart: number,
  contextEnd: number,
  startChar: number,
  endChar: number,
  rule: LabelRule = 'tutorial',
): TokenLabels {
  if (contextEnd < contextStart) return { start: 0, end: 0 }; // no context token in this window
  const at = (i: number): readonly [number, number] => {
    const o = offsets[i];
    if (!o) throw new Error(`token ${i} is inside the context range ${contextStart}..${contextEnd} but has no offset`);
    return o;
  };
  const outside =
    rule === 'tutorial'
      ? at(contextStart)[0] > endChar || at(contextEnd)[1] < startChar
      : !(at(contextStart)[0] <= startChar && at(contextEnd)[1] >= endChar);
  if (outside) return { start: 0, end: 0 };
  let idx = contextStart;
  while (idx <= contextEnd && at(idx)[0] <= startChar) idx++;
  const start = idx - 1;
  idx = contextEnd;
  while (idx >= contextStart && at(idx)[1] >= endChar) idx--;
  const end = idx + 1;
  return { start, end };
}
