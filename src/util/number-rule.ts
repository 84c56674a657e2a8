/**
 * Number options and their allowed ranges: one checker for the library's option fields and the commands' flags,
 * so every "must be an integer ≥ 1, got …" reads alike wherever the rule lives.
 */
import { field, OptionError, opt } from '../errors.js';

export interface NumberRule {
  readonly int?: boolean;
  readonly min?: number;
  /** `min` itself is not allowed. */
  readonly minExclusive?: boolean;
  readonly max?: number;
}

/**
 * `value` (a number, or a string as typed on a command line) as a number within `rule`, or an `OptionError`
 * naming the option `name` and the allowed range.
 */
export function checkNumber(name: string, value: number | string, rule: NumberRule = {}): number {
  const n = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
  const ok =
    Number.isFinite(n) &&
    (!rule.int || Number.isInteger(n)) &&
    (rule.min === undefined || (rule.minExclusive ? n > rule.min : n >= rule.min)) &&
    (rule.max === undefined || n <= rule.max);
  if (!ok) {
    const kind = rule.int ? 'an integer' : 'a number';
    const low = rule.min === undefined ? '' : ` ${rule.minExclusive ? '>' : '≥'} ${rule.min}`;
    const high = rule.max === undefined ? '' : `${low ? ' and' : ''} ≤ ${rule.max}`;
    const got = typeof value === 'string' ? `'${value}'` : String(value);
    throw new OptionError('BAD_ARGUMENT', opt`${field(name)} must be ${kind}${low}${high}, got ${got}`);
  }
  return n;
}
