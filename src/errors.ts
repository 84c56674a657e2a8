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
