/**
 * A JSON object file of any size as an object, although V8 cannot hold more than ~512 M characters in one string
 * (so `JSON.parse(await readFile(path, 'utf8'))` fails on a valid 600 MB predictions file): the bytes are split
 * into the object's top-level members here, and each key and value is parsed by `JSON.parse` on its own. Only
 * one member's value must fit in a string.
 *
 * Hand-written because the split needs nothing but string and bracket tracking (safe on UTF-8 bytes: `"`, `\`,
 * brackets, `,` and `:` never occur inside a multi-byte character), and a streaming JSON library would be a new
 * dependency for this one use; `JSON.parse` still does all the parsing and validation.
 */

/** Why `parseJsonObjectBytes` failed: `offset` is the byte where the JSON went wrong. */
export class JsonBytesError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipSpace(buf: Uint8Array, i: number): number {
  const n = buf.length;
  for (; i < n; i += 1) {
    const b = buf[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break;
  }
  return i;
}

/**
 * The index just past the string starting at `i` (a `"`): the next quote not escaped, found by `indexOf` (native, fast
 * on long answers).
 */
function stringEnd(buf: Buffer, i: number): number {
  for (let q = buf.indexOf(QUOTE, i + 1); q !== -1; q = buf.indexOf(QUOTE, q + 1)) {
    let backslashes = 0;
    while (buf[q - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return q + 1;
  }
  throw new JsonBytesError('unterminated string', i);
}

/**
 * The index just past the value starting at `i`: a string, an object or array (to its matching bracket), or a literal.
 */
function valueEnd(buf: Buffer, i: number): number {
  const first = buf[i];
  if (first === QUOTE) return stringEnd(buf, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < buf.length; j += 1) {
      const b = buf[j];
      if (b === QUOTE) j = stringEnd(buf, j) - 1;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth += 1;
      else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === 0) return j + 1;
    }
    throw new JsonBytesError('unterminated object or array', i);
  }
  let j = i;
  while (j < buf.length && !isSpace(buf[j]) && buf[j] !== COMMA && buf[j] !== CLOSE_BRACE) j += 1;
  if (j === i) throw new JsonBytesError('expected a value', i);
  return j;
}

function parsePiece(buf: Buffer, from: number, to: number): unknown {
  try {
    return JSON.parse(buf.toString('utf8', from, to));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') {
      throw new JsonBytesError(`a value of ${to - from} bytes, longer than the longest string Node.js can hold`, from);
    }
    throw new JsonBytesError((e as Error).message, from);
  }
}

/** The JSON object in `buf` (UTF-8), or a `JsonBytesError`; a top-level value other than an object is an error too. */
export function parseJsonObjectBytes(buf: Buffer): Record<string, unknown> {
  let i = skipSpace(buf, 0);
  if (buf[i] !== OPEN_BRACE) throw new JsonBytesError('expected a JSON object', i);
  const out: Record<string, unknown> = {};
  i = skipSpace(buf, i + 1);
  if (buf[i] !== CLOSE_BRACE) {
    for (;;) {
      if (buf[i] !== QUOTE) throw new JsonBytesError('expected a string key', i);
      const keyEnd = stringEnd(buf, i);
      const key = parsePiece(buf, i, keyEnd) as string;
      i = skipSpace(buf, keyEnd);
      if (buf[i] !== COLON) throw new JsonBytesError("expected ':'", i);
      i = skipSpace(buf, i + 1);
      const end = valueEnd(buf, i);
      // as JSON.parse: an own property even for '__proto__', the last of repeated keys wins
      Object.defineProperty(out, key, {
        value: parsePiece(buf, i, end),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      i = skipSpace(buf, end);
      if (buf[i] === CLOSE_BRACE) break;
      if (buf[i] !== COMMA) throw new JsonBytesError("expected ',' or '}'", i);
      i = skipSpace(buf, i + 1);
    }
  }
  i = skipSpace(buf, i + 1);
  if (i < buf.length) throw new JsonBytesError('unexpected content after the object', i);
  return out;
}
