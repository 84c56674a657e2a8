/**
 * Text from bytes, strictly: UTF-8 that is not valid is an error naming the byte offset (as Python's `json.load`
 * and `open(...).read()` refuse it), never U+FFFD in the data. Also reading a file with one-line errors that say
 * whether it is missing, a directory or unreadable, and splitting a byte stream into lines (stdin JSONL).
 */
import { readFile, stat } from 'node:fs/promises';
import { QaFtError } from '../errors.js';

/** Encodings a user may name for a text file; `latin1` is ISO-8859-1, as Python's and iconv's `latin1`. */
export const TEXT_ENCODINGS = ['utf-8', 'latin1', 'utf-16le'] as const;
export type TextEncodingName = (typeof TEXT_ENCODINGS)[number];

interface InvalidByte {
  /** Offset of the first byte of the offending sequence. */
  readonly offset: number;
  readonly byte: number;
  /** Python's words for it. */
  readonly reason: 'invalid start byte' | 'invalid continuation byte' | 'unexpected end of data';
}

/**
 * The first byte at which `bytes` stops being UTF-8 (the WHATWG decoder's rules: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or null when all of it is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): InvalidByte | null {
  let i = 0;
  for (;;) {
    const b = bytes[i];
    if (b === undefined) return null; // past the end: all of it is valid
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80; // bounds of the second byte; later bytes are always 0x80–0xBF
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return { offset: i, byte: b, reason: 'invalid start byte' };
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined) return { offset: i, byte: b, reason: 'unexpected end of data' };
      if (c < lo || c > hi) return { offset: i, byte: b, reason: 'invalid continuation byte' };
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
}

/** The UTF-16 byte-order mark `bytes` starts with, if any (a UTF-16 file read as UTF-8 fails at byte 0). */
export function utf16Bom(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return null;
}

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

/** The first unpaired surrogate (or a dangling odd byte) in UTF-16LE bytes, or null. */
function firstInvalidUtf16le(bytes: Uint8Array): { offset: number; reason: string } | null {
  const units = Math.floor(bytes.length / 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const unit = (k: number): number => view.getUint16(2 * k, true);
  for (let k = 0; k < units; k++) {
    const u = unit(k);
    if (u >= 0xdc00 && u <= 0xdfff) return { offset: 2 * k, reason: `unpaired low surrogate 0x${u.toString(16)}` };
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = k + 1 < units ? unit(k + 1) : -1;
      if (next < 0xdc00 || next > 0xdfff)
        return { offset: 2 * k, reason: `unpaired high surrogate 0x${u.toString(16)}` };
      k++;
    }
  }
  return bytes.length % 2 === 1 ? { offset: bytes.length - 1, reason: 'odd number of bytes' } : null;
}

interface DecodeOptions {
  readonly encoding?: TextEncodingName;
  /** What the user can do about invalid text (printed after the message). */
  readonly hint?: string;
  /** Name the line of the offending byte too (multi-line files; off for a single stdin line). */
  readonly lineNumbers?: boolean;
}

/**
 * `bytes` as text; a leading byte-order mark of the encoding is dropped. Invalid text is a BAD_FORMAT error:
 * `${what}: invalid UTF-8 at byte N (line L, 0xE9: invalid continuation byte)`.
 */
export function decodeText(bytes: Uint8Array, what: string, options: DecodeOptions = {}): string {
  const encoding = options.encoding ?? 'utf-8';
  if (encoding === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    // located below
  }
  const hint = options.hint === undefined ? {} : { hint: options.hint };
  if (encoding === 'utf-16le') {
    const bad = firstInvalidUtf16le(bytes);
    throw new QaFtError(
      'BAD_FORMAT',
      `${what}: invalid UTF-16LE at byte ${bad?.offset ?? '?'} (${bad?.reason ?? 'undecodable'})`,
      hint,
    );
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad === null) throw new QaFtError('BAD_FORMAT', `${what}: invalid UTF-8`, hint); // not reached: the scan mirrors the decoder
  let where = '';
  if (options.lineNumbers ?? true) {
    let line = 1;
    for (let i = 0; i < bad.offset; i++) if (bytes[i] === 0x0a) line++;
    where = `line ${line}, `;
  }
  throw new QaFtError(
    'BAD_FORMAT',
    `${what}: invalid UTF-8 at byte ${bad.offset} (${where}${hex(bad.byte)}: ${bad.reason})`,
    hint,
  );
}

/**
 * Refuses, in one line, what cannot be read whole as a file: a device (`/dev/zero` never ends; a terminal waits for
 * typing), a socket. A regular file and a pipe (`<(…)`, `/dev/stdin` fed by one) pass; a path that is missing or a
 * directory passes too, for the read itself to word. `what` names it, `expected` what it should be.
 */
export async function checkReadableFile(path: string, what: string, expected: string): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (s === undefined || s.isFile() || s.isFIFO() || s.isDirectory()) return;
  const kind = s.isCharacterDevice()
    ? 'a character device'
    : s.isBlockDevice()
      ? 'a block device'
      : s.isSocket()
        ? 'a socket'
        : 'not a regular file';
  throw new QaFtError('BAD_ARGUMENT', `${what} is ${kind}, not a file; expected ${expected}`);
}

/**
 * A whole file's bytes. `what` names it in errors (`--context-file notes.txt`, `input file x.json`): missing →
 * FILE_NOT_FOUND "does not exist", a directory → "is a directory, expected <expected>", a device → "is a character
 * device, not a file" (`checkReadableFile`), anything else → "cannot be read (EACCES)".
 */
export async function readFileBytes(
  path: string,
  what: string,
  options: { expected: string; hint?: string },
): Promise<Uint8Array> {
  await checkReadableFile(path, what, options.expected);
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = options.hint === undefined ? {} : { hint: options.hint };
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new QaFtError('FILE_NOT_FOUND', `${what} does not exist`, hint);
    if (code === 'EISDIR')
      throw new QaFtError('BAD_ARGUMENT', `${what} is a directory, expected ${options.expected}`, hint);
    const why = code ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
    throw new QaFtError('FILE_NOT_FOUND', `${what} cannot be read (${why})`, hint);
  }
}

/**
 * The complete lines of a byte stream, as bytes without their `\n`, grouped as they arrive: one array per chunk
 * read (so a caller can act on what is there before waiting for more); the last line needs no `\n`.
 */
export async function* byteLines(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  let rest: Uint8Array[] = []; // pieces of the line still open (a long line may span many chunks)
  for await (const chunk of stream) {
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      lines.push(rest.length === 0 ? piece : Buffer.concat([...rest, piece]));
      rest = [];
      start = nl + 1;
    }
    if (start < chunk.length) rest.push(chunk.subarray(start));
    if (lines.length > 0) yield lines;
  }
  if (rest.length > 0) yield [Buffer.concat(rest)];
}
