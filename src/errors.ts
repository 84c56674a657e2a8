/**
 * Typed user-facing errors. Library code throws these; only the CLI's top-level handler turns them into a
 * one-line message and an exit code. Anything else that escapes is a bug and keeps its stack trace.
 */

export type ErrorCode =
  | 'BAD_ARGUMENT' // a command-line option or API argument is out of range or malformed
  | 'FILE_NOT_FOUND'
  | 'BAD_FORMAT' // a file exists but is not what was expected (wrong magic, schema, header…)
  | 'BAD_DATA' // rows/fields inside a well-formed file are invalid
  | 'BAD_CONFIG' // model config.json is invalid
  | 'BAD_WEIGHTS' // checkpoint tensors missing/unexpected/wrong shape
  | 'BACKEND_UNAVAILABLE'
  | 'NETWORK'
  | 'NOT_FOUND_ON_HUB'
  | 'UNAUTHORIZED'
  | 'INTEGRITY'
  | 'DISK'
  | 'OFFLINE_MISS'
  | 'TRAINING_DIVERGED'
  | 'INTERRUPTED' // Ctrl-C / SIGTERM stopped the command after saving what it could (exit 130, as a shell's)
  | 'INTERNAL';

export class QaFtError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, printed after the message. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QaFtError';
    this.code = code;
    this.hint = options.hint;
  }

  /**
   * The same error (without its cause) with the start of its message rewritten by `start`, and `hint` in place of its
   * own; an OptionError stays one, its option fields kept for the command to spell.
   */
  revised(change: { start?: (text: string) => string; hint?: string }): QaFtError {
    return new QaFtError(this.code, change.start?.(this.message) ?? this.message, { hint: change.hint ?? this.hint });
  }
}

/** A user error whose hint may name options: an OptionError when it does (`OptionText`), else a QaFtError. */
export function userError(code: ErrorCode, message: string, hint: string | OptionText): QaFtError {
  return typeof hint === 'string' ? new QaFtError(code, message, { hint }) : new OptionError(code, [message], { hint });
}

export function isQaFtError(e: unknown): e is QaFtError {
  return e instanceof QaFtError;
}

/** One line for the terminal: `message (hint)`. */
export function formatUserError(e: QaFtError): string {
  return e.hint ? `${e.message} (${e.hint})` : e.message;
}

/** The first line of an error's message, for embedding a cause in a one-line user error. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

/** An option named in an error's text: the library's field name, which a command re-spells as its flag. */
export class OptionName {
  constructor(readonly field: string) {}
}

/** Text that names options: plain strings and `OptionName`s. */
export type OptionText = readonly (string | OptionName)[];

/** Tagged template for `OptionText`: `` opt`${field('epochs')} must be ≥ 1` ``; other values become strings. */
export function opt(strings: TemplateStringsArray, ...values: unknown[]): OptionText {
  const parts: (string | OptionName)[] = [];
  strings.forEach((s, i) => {
    parts.push(s);
    if (i < values.length) parts.push(values[i] instanceof OptionName ? (values[i] as OptionName) : String(values[i]));
  });
  return parts;
}

/** An option field, for `opt`. */
export const field = (name: string): OptionName => new OptionName(name);

/** `text` with each option spelled as `names` says (a field not in it stays as it is). */
export function spellOptions(text: OptionText, names: (field: string) => string | undefined = () => undefined): string {
  return text.map((p) => (typeof p === 'string' ? p : (names(p.field) ?? p.field))).join('');
}

/**
 * A user error about options. The library names them by field (`epochs must be …`, `lower learningRate`); a command
 * re-spells them as its flags with `respelled` (`--epochs must be …`), so the library never knows the CLI.
 */
export class OptionError extends QaFtError {
  constructor(
    code: ErrorCode,
    readonly text: OptionText,
    readonly options: { readonly hint?: OptionText; readonly cause?: unknown } = {},
  ) {
    super(code, spellOptions(text), {
      hint: options.hint === undefined ? undefined : spellOptions(options.hint),
      cause: options.cause,
    });
  }

  override revised(change: { start?: (text: string) => string; hint?: string }): QaFtError {
    const [first, ...rest] = this.text;
    const text = typeof first === 'string' && change.start ? [change.start(first), ...rest] : this.text;
    return new OptionError(this.code, text, { hint: change.hint === undefined ? this.options.hint : [change.hint] });
  }

  /** This error with the options spelled as `names` says. */
  respelled(names: (field: string) => string | undefined): QaFtError {
    const hint = this.options.hint === undefined ? undefined : spellOptions(this.options.hint, names);
    return new QaFtError(this.code, spellOptions(this.text, names), { hint, cause: this });
  }
}
