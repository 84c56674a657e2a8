/**
 * Python string semantics that SQuAD offsets depend on. Python indexes strings by Unicode code point; JavaScript
 * by UTF-16 unit. They differ only for astral characters (emoji, rare CJK), so the fast paths check for surrogates.
 */

const SURROGATE = /[\uD800-\uDFFF]/;

/** Characters Python's `str.isspace()` accepts (and so `str.strip()` removes). JS `trim()` differs: it also strips
 * U+FEFF and keeps U+001C–U+001F and U+0085. */
/** Python's whitespace set as the inside of a RegExp character class. */
export const PY_WHITESPACE_CHARS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE_CHARS}]+|[${PY_WHITESPACE_CHARS}]+$`, 'g');

const PY_WS_RUN = new RegExp(`[${PY_WHITESPACE_CHARS}]+`);

/** Python's `s.split()` with no arguments: split on whitespace runs, dropping empty pieces. */
export function pySplit(s: string): string[] {
  return s.split(PY_WS_RUN).filter((t) => t.length > 0);
}

const PY_LSTRIP = new RegExp(`^[${PY_WHITESPACE_CHARS}]+`);

/** Python's `s.lstrip()` with no arguments. */
export function pyLstrip(s: string): string {
  return s.replace(PY_LSTRIP, '');
}

/** Python's `s.strip()` with no arguments. */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** Python's `len(s)`: the number of code points. */
export function codePointLength(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Python's `s[start:end]` for 0 ≤ start ≤ end (code-point indices). */
export function codePointSlice(s: string, start: number, end: number): string {
  if (!SURROGATE.test(s)) return s.slice(start, end);
  return Array.from(s).slice(start, end).join('');
}

/** The code-point index (Python's) of the UTF-16 index `i` in `s`. */
export function codePointIndex(s: string, i: number): number {
  if (!SURROGATE.test(s)) return i;
  return codePointLength(s.slice(0, i));
}
