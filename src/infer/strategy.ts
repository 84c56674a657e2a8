/**
 * How an answer is read off the logits: `best`, HF `utils_qa`'s n-best spans over all windows, or `argmax`, the
 * tutorial's decode (see postprocess.ts). In a module of its own, light to import: `qa-ft ask` checks its option
 * at start-up, before the inference code is loaded.
 */
import { QaFtError } from '../errors.js';

export type Strategy = 'best' | 'argmax';

/** `value` as a strategy, or a one-line error naming `what` was given (the option, for the command). */
export function checkStrategy(value: string, what = 'strategy'): Strategy {
  if (value !== 'best' && value !== 'argmax') {
    throw new QaFtError('BAD_ARGUMENT', `unknown ${what} '${value}'`, { hint: 'choose best or argmax' });
  }
  return value;
}
