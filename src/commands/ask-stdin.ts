/**
 * `qa-ft ask` on JSON Lines: every non-blank `{"question","context"}` line of stdin answered, in batches of at most
 * STDIN_CHUNK lines as they arrive, each line's result handed back in input order. A bad line (not UTF-8, not
 * JSON, an empty question, a context without text tokens) gets an error of its own and the others are still
 * answered. The model is opened when the first line to answer arrives; printing is the caller's.
 */
import { QaFtError } from '../errors.js';
import type { Answer, AnswerOptions, AskItem } from '../infer/answer.js';
import type { OpenedModel } from '../infer/model-dir.js';
import { byteLines, decodeText } from '../util/text-file.js';

/** Items answered per call, so answers stream out while later lines wait. */
const STDIN_CHUNK = 64;

/** One `{"question", "context"}` JSONL line (number `line`, from 1); errors name the line. */
export function parseJsonlLine(text: string, line: number): AskItem {
  const where = `stdin line ${line}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new QaFtError('BAD_DATA', `${where}: not valid JSON`, {
      hint: 'expected one {"question": …, "context": …} object per line',
    });
  }
  const o = value as { question?: unknown; context?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new QaFtError('BAD_DATA', `${where}: expected a JSON object with "question" and "context"`);
  }
  const { question, context } = o;
  if (typeof question !== 'string') throw notAString(where, 'question', question);
  if (typeof context !== 'string') throw notAString(where, 'context', context);
  return { question, context };
}

function notAString(where: string, field: string, value: unknown): QaFtError {
  return new QaFtError(
    'BAD_DATA',
    `${where}: "${field}" must be a string, got ${value === undefined ? 'nothing' : typeof value}`,
  );
}

/** A non-blank stdin line: what to answer, or why it cannot be answered. */
export type StdinEntry =
  | { readonly line: number; readonly item: AskItem }
  | { readonly line: number; readonly error: QaFtError };

/** The non-blank JSONL lines of a byte stream, parsed, in groups as they arrive; a bad line is an error entry. */
export async function* stdinEntries(stream: AsyncIterable<Uint8Array>): AsyncGenerator<StdinEntry[]> {
  let line = 0;
  for await (const group of byteLines(stream)) {
    const entries: StdinEntry[] = [];
    for (const bytes of group) {
      line++;
      try {
        const text = decodeText(bytes, `stdin line ${line}`, { lineNumbers: false, hint: 'JSON Lines must be UTF-8' });
        if (text.trim() !== '') entries.push({ line, item: parseJsonlLine(text, line) });
      } catch (e) {
        if (!(e instanceof QaFtError)) throw e;
        entries.push({ line, error: e });
      }
    }
    if (entries.length > 0) yield entries;
  }
}

/** The 0-based item that an `item N: …` error (one item of a batch is bad) is about; null for any other error. */
function failedItem(e: unknown): number | null {
  const m = e instanceof QaFtError ? /^item (\d+): /.exec(e.message) : null;
  return m ? Number(m[1]) - 1 : null;
}

/** The same error with its `item N: ` prefix replaced (by `stdin line K: `, or by nothing). */
export function renamed(e: QaFtError, prefix: string): QaFtError {
  return e.revised({ start: (text) => text.replace(/^item \d+: /, prefix) });
}

/**
 * Every item's answers, or its own error: an item-level error (`item N: …`, e.g. a context without text tokens)
 * fails that item alone and the others are answered again; any other error is thrown.
 */
async function answerEach(
  opened: OpenedModel,
  entries: readonly { readonly line: number; readonly item: AskItem }[],
  options: AnswerOptions,
): Promise<(Answer[] | QaFtError)[]> {
  const { answerQuestions } = await import('../infer/answer.js');
  const results: (Answer[] | QaFtError)[] = new Array(entries.length);
  let todo = [...entries.entries()]; // [index into entries, entry]
  while (todo.length > 0) {
    try {
      const answers = await answerQuestions(
        opened.model,
        opened.tokenizer,
        todo.map(([, entry]) => entry.item),
        options,
      );
      for (const [k, [i]] of todo.entries()) {
        const answer = answers[k];
        if (answer === undefined)
          throw new Error(`answerQuestions gave ${answers.length} answers for ${todo.length} items`);
        results[i] = answer;
      }
      break;
    } catch (e) {
      const k = failedItem(e);
      const failed = k === null ? undefined : todo[k];
      if (failed === undefined) throw e;
      const [bad, entry] = failed;
      results[bad] = renamed(e as QaFtError, `stdin line ${entry.line}: `);
      todo = todo.filter(([i]) => i !== bad);
    }
  }
  return results;
}

interface StdinAnswering {
  readonly options: AnswerOptions;
  /** Opens the model; called once, when the first line to answer arrives. */
  readonly open: () => Promise<OpenedModel>;
  /** One line's result, in input order: its answers, or why it has none. */
  readonly onResult: (line: number, result: Answer[] | QaFtError) => void;
}

/** Answers the JSONL lines of `stream`; returns how many non-blank lines there were and how many failed. */
export async function answerStdin(
  stream: AsyncIterable<Uint8Array>,
  answering: StdinAnswering,
): Promise<{ lines: number; failed: number }> {
  const { checkItems } = await import('../infer/answer.js');
  let opened: OpenedModel | undefined;
  let lines = 0;
  let failed = 0;
  try {
    for await (const group of stdinEntries(stream)) {
      for (let from = 0; from < group.length; from += STDIN_CHUNK) {
        const entries = group.slice(from, from + STDIN_CHUNK).map((entry): StdinEntry => {
          if ('error' in entry) return entry;
          try {
            checkItems([entry.item]); // empty question or context: no need to load the model for it
            return entry;
          } catch (e) {
            if (failedItem(e) === null) throw e;
            return { line: entry.line, error: renamed(e as QaFtError, `stdin line ${entry.line}: `) };
          }
        });
        const toAnswer = entries.filter((e): e is StdinEntry & { item: AskItem } => 'item' in e);
        let results: (Answer[] | QaFtError)[] = [];
        if (toAnswer.length > 0) {
          opened ??= await answering.open();
          results = await answerEach(opened, toAnswer, answering.options);
        }
        let k = 0;
        for (const entry of entries) {
          lines++;
          const result = 'error' in entry ? entry.error : results[k++];
          if (result === undefined)
            throw new Error(`stdin line ${entry.line}: no result (${results.length} for ${toAnswer.length} lines)`);
          if (result instanceof QaFtError) failed++;
          answering.onResult(entry.line, result);
        }
      }
    }
  } finally {
    opened?.model.dispose();
  }
  return { lines, failed };
}
