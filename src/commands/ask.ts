/**
 * `qa-ft ask`: answer a question about a context with a fine-tuned model, or every `{"question","context"}` line
 * of JSONL on stdin, answered in small batches as the lines arrive; a bad line gets an error of its own (a record
 * in the output with --json, a line on stderr without) and the others are still answered. Text is strict: invalid
 * UTF-8 is an error naming the byte. Start-up matters here, so the engine, tokenizer and model code are imported
 * only once the options are known to be good (see src/infer/model-dir.ts).
 */
import { Command } from 'commander';
import { formatUserError, QaFtError } from '../errors.js';
import { byteLines, decodeText, readFileBytes, TEXT_ENCODINGS, utf16Bom, type TextEncodingName } from '../util/text-file.js';
import type { Answer, AnswerOptions, AskItem, Strategy } from '../infer/answer.js';
import type { OpenedModel } from '../infer/model-dir.js';
import type { BackendName } from '../model/types.js';
import type { ResolveOptions } from '../hub/index.js';
import { addBackendOption, addHubOptions, hubResolveOptions, parseBackend, parseIntOption, type HubFlags } from './options.js';
import { info } from './output.js';

export const DEFAULT_MODEL_DIR = './qa-ft-model';
/** Items answered per call when reading stdin, so answers stream out while later lines wait. */
const STDIN_CHUNK = 64;
const NOTHING_HINT = 'give --question and --context, or pipe JSONL {"question","context"} lines on stdin';

/** `--model` through the hub resolver; the default directory missing gets a hint to train first. */
export async function resolveModelOption(model: string, hub: ResolveOptions = {}): Promise<string> {
  const { resolveModel } = await import('../hub/index.js');
  try {
    return await resolveModel(model, hub);
  } catch (e) {
    if (e instanceof QaFtError && model === DEFAULT_MODEL_DIR) {
      throw new QaFtError(e.code, e.message, { hint: 'train one with `qa-ft train` (it writes ./qa-ft-model) or pass --model DIR' });
    }
    throw e;
  }
}

export interface RawAskOptions extends HubFlags {
  question?: string;
  questionFile?: string;
  context?: string;
  contextFile?: string;
  model: string;
  topK: string;
  maxAnswerLength: string;
  docStride?: string;
  maxLength?: string;
  strategy: string;
  batchSize: string;
  backend: string;
  encoding?: string;
  json?: boolean;
}

export interface AskOptions {
  readonly model: string;
  readonly topK: number;
  readonly maxAnswerLength: number;
  readonly docStride?: number;
  readonly maxLength?: number;
  readonly strategy: Strategy;
  readonly batchSize: number;
  readonly backend: BackendName;
  /** Of --question-file and --context-file (stdin JSONL is always UTF-8). */
  readonly encoding: TextEncodingName;
  readonly json: boolean;
  readonly hub: ResolveOptions;
}

export function parseAskOptions(raw: RawAskOptions): AskOptions {
  if (raw.strategy !== 'best' && raw.strategy !== 'argmax') {
    throw new QaFtError('BAD_ARGUMENT', `unknown --strategy '${raw.strategy}'`, { hint: 'choose best or argmax' });
  }
  return {
    model: raw.model,
    topK: parseIntOption('--top-k', raw.topK),
    maxAnswerLength: parseIntOption('--max-answer-length', raw.maxAnswerLength),
    ...(raw.docStride === undefined ? {} : { docStride: parseIntOption('--doc-stride', raw.docStride, 0) }),
    ...(raw.maxLength === undefined ? {} : { maxLength: parseIntOption('--max-length', raw.maxLength) }),
    strategy: raw.strategy,
    batchSize: parseIntOption('--batch-size', raw.batchSize),
    backend: parseBackend(raw.backend),
    encoding: parseEncoding(raw.encoding ?? 'utf-8'),
    json: Boolean(raw.json),
    hub: hubResolveOptions(raw),
  };
}

const ENCODING_ALIASES: Readonly<Record<string, TextEncodingName>> = {
  utf8: 'utf-8',
  'latin-1': 'latin1',
  'iso-8859-1': 'latin1',
  utf16le: 'utf-16le',
};

export function parseEncoding(value: string): TextEncodingName {
  const v = value.toLowerCase();
  const found = (TEXT_ENCODINGS as readonly string[]).includes(v) ? (v as TextEncodingName) : ENCODING_ALIASES[v];
  if (found === undefined) throw new QaFtError('BAD_ARGUMENT', `unknown --encoding '${value}'`, { hint: `choose ${TEXT_ENCODINGS.join(', ')}` });
  return found;
}

/** What to do about a text file that does not decode (a UTF-16 file read as UTF-8 fails at byte 0). */
function encodingHint(bytes: Uint8Array, encoding: TextEncodingName): string {
  const bom = utf16Bom(bytes);
  if (bom === 'utf-16le' && encoding !== 'utf-16le') return 'it starts with a UTF-16LE byte-order mark: pass --encoding utf-16le';
  if (bom === 'utf-16be') return 'it is UTF-16BE: convert it, e.g. iconv -f utf-16be -t utf-8';
  return 'save it as UTF-8, or name its encoding with --encoding latin1 or --encoding utf-16le';
}

export async function textFrom(
  flag: string,
  inline: string | undefined,
  file: string | undefined,
  encoding: TextEncodingName = 'utf-8',
): Promise<string | undefined> {
  if (inline !== undefined && file !== undefined) {
    throw new QaFtError('BAD_ARGUMENT', `give either --${flag} or --${flag}-file, not both`);
  }
  if (file === undefined) return inline;
  const what = `--${flag}-file ${file}`;
  const bytes = await readFileBytes(file, what, { expected: 'a text file' });
  return decodeText(bytes, what, { encoding, hint: encodingHint(bytes, encoding) });
}

/** One `{"question", "context"}` JSONL line (number `line`, from 1); errors name the line. */
export function parseJsonlLine(text: string, line: number): AskItem {
  const where = `stdin line ${line}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new QaFtError('BAD_DATA', `${where}: not valid JSON`, { hint: 'expected one {"question": …, "context": …} object per line' });
  }
  const o = value as { question?: unknown; context?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new QaFtError('BAD_DATA', `${where}: expected a JSON object with "question" and "context"`);
  }
  for (const field of ['question', 'context'] as const) {
    if (typeof o[field] !== 'string') {
      throw new QaFtError('BAD_DATA', `${where}: "${field}" must be a string, got ${o[field] === undefined ? 'nothing' : typeof o[field]}`);
    }
  }
  return { question: o.question as string, context: o.context as string };
}

/** A non-blank stdin line: what to answer, or why it cannot be answered. */
export type StdinEntry = { readonly line: number; readonly item: AskItem } | { readonly line: number; readonly error: QaFtError };

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

function formatText(answers: readonly Answer[]): string {
  if (answers.length === 0) return '(no answer found)';
  const line = (a: Answer): string => `${a.answer}\t(score ${a.score.toFixed(4)})`;
  if (answers.length === 1) return line(answers[0]!);
  return answers.map((a, i) => `${i + 1}. ${line(a)}`).join('\n');
}

/** `--json`: one object, or a list with --top-k above 1 (null when nothing was found). */
function toJson(answers: readonly Answer[], topK: number): Answer | Answer[] | null {
  return topK > 1 ? [...answers] : (answers[0] ?? null);
}

/** `answerQuestions`' options from the command's. */
function answerOptions(o: AskOptions): AnswerOptions {
  return {
    topK: o.topK,
    maxAnswerLength: o.maxAnswerLength,
    strategy: o.strategy,
    ...(o.docStride === undefined ? {} : { docStride: o.docStride }),
    batchSize: o.batchSize,
    ...(o.maxLength === undefined ? {} : { maxLength: o.maxLength }),
  };
}

async function openModel(o: AskOptions): Promise<OpenedModel> {
  const { openModelDir } = await import('../infer/model-dir.js');
  const dir = await resolveModelOption(o.model, o.hub);
  return openModelDir(dir, { backend: o.backend, onNotice: info });
}

/** The 0-based item that an `item N: …` error (one item of a batch is bad) is about; null for any other error. */
function failedItem(e: unknown): number | null {
  const m = e instanceof QaFtError ? /^item (\d+): /.exec(e.message) : null;
  return m ? Number(m[1]) - 1 : null;
}

/** The same error with its `item N: ` prefix replaced (by `stdin line K: `, or by nothing). */
function renamed(e: QaFtError, prefix: string): QaFtError {
  return new QaFtError(e.code, e.message.replace(/^item \d+: /, prefix), e.hint ? { hint: e.hint } : {});
}

async function answerOne(o: AskOptions, item: AskItem): Promise<void> {
  const { answerQuestions, checkItems } = await import('../infer/answer.js');
  const plain = (e: unknown): never => {
    throw e instanceof QaFtError ? renamed(e, '') : e; // a single question needs no number
  };
  try {
    checkItems([item]); // before the model is loaded: bad input fails fast
  } catch (e) {
    plain(e);
  }
  const { model, tokenizer } = await openModel(o);
  try {
    const [answers] = await answerQuestions(model, tokenizer, [item], answerOptions(o)).catch(plain);
    process.stdout.write(o.json ? `${JSON.stringify(toJson(answers!, o.topK), null, 2)}\n` : `${formatText(answers!)}\n`);
  } finally {
    model.dispose();
  }
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
  let todo = entries.map((_, i) => i);
  while (todo.length > 0) {
    try {
      const answers = await answerQuestions(opened.model, opened.tokenizer, todo.map((i) => entries[i]!.item), options);
      todo.forEach((i, k) => (results[i] = answers[k]!));
      break;
    } catch (e) {
      const k = failedItem(e);
      if (k === null || k >= todo.length) throw e;
      const bad = todo[k]!;
      results[bad] = renamed(e as QaFtError, `stdin line ${entries[bad]!.line}: `);
      todo = todo.filter((i) => i !== bad);
    }
  }
  return results;
}

/**
 * JSONL on stdin, answered in batches of at most STDIN_CHUNK lines as they arrive; answers and errors are printed
 * in input order. The model is loaded when the first line to answer arrives. Ends with an error (exit 1) counting
 * the lines that failed, if any did.
 */
async function answerStdin(o: AskOptions): Promise<void> {
  const { checkItems } = await import('../infer/answer.js');
  const options = answerOptions(o);
  let opened: OpenedModel | undefined;
  let total = 0;
  let failed = 0;
  const printError = (e: QaFtError, line: number): void => {
    failed++;
    if (o.json) process.stdout.write(`${JSON.stringify({ error: formatUserError(e), line })}\n`);
    else process.stderr.write(`qa-ft: error: ${formatUserError(e)}\n`);
  };
  try {
    for await (const group of stdinEntries(process.stdin)) {
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
          opened ??= await openModel(o);
          results = await answerEach(opened, toAnswer, options);
        }
        let k = 0;
        for (const entry of entries) {
          total++;
          const result = 'error' in entry ? entry.error : results[k++]!;
          if (result instanceof QaFtError) printError(result, entry.line);
          else process.stdout.write(o.json ? `${JSON.stringify(toJson(result, o.topK))}\n` : `${formatText(result)}\n`); // JSON Lines
        }
      }
    }
  } finally {
    opened?.model.dispose();
  }
  if (total === 0) {
    throw new QaFtError('BAD_ARGUMENT', 'nothing to answer: stdin held no JSONL lines', { hint: NOTHING_HINT });
  }
  if (failed > 0) {
    throw new QaFtError('BAD_DATA', `${failed} of ${total} stdin lines failed`, {
      hint: o.json ? 'each has an {"error"} record in the output' : 'each is named above',
    });
  }
}

async function run(raw: RawAskOptions): Promise<void> {
  const o = parseAskOptions(raw);
  const question = await textFrom('question', raw.question, raw.questionFile, o.encoding);
  const context = await textFrom('context', raw.context, raw.contextFile, o.encoding);
  if (question !== undefined || context !== undefined) {
    if (question === undefined) throw new QaFtError('BAD_ARGUMENT', 'missing --question (or --question-file)');
    if (context === undefined) throw new QaFtError('BAD_ARGUMENT', 'missing --context (or --context-file)');
    return answerOne(o, { question, context });
  }
  if (process.stdin.isTTY) {
    throw new QaFtError('BAD_ARGUMENT', 'nothing to answer', { hint: NOTHING_HINT });
  }
  return answerStdin(o);
}

export function askCommand(): Command {
  const command = new Command('ask')
    .description('answer a question about a context (or JSONL {"question","context"} lines on stdin) with a fine-tuned model')
    .option('--question <text>', 'the question')
    .option('--question-file <file>', 'read the question from a file')
    .option('--context <text>', 'the text that holds the answer; long texts are split into overlapping windows')
    .option('--context-file <file>', 'read the context from a file')
    .option('--encoding <name>', 'encoding of --question-file and --context-file: utf-8, latin1 or utf-16le (stdin is always UTF-8)', 'utf-8')
    .option('--model <dir>', 'model directory or hub id (the output of `qa-ft train`)', DEFAULT_MODEL_DIR)
    .option('--top-k <n>', 'how many answers to give, best first', '1')
    .option('--max-answer-length <n>', 'longest answer in tokens', '30')
    .option('--doc-stride <n>', 'tokens shared by consecutive windows of a long context (default: 128, at most half of --max-length)')
    .option('--max-length <n>', 'tokens per window, special tokens included (default: 384, or the model\'s positions if fewer)')
    .option('--strategy <best|argmax>', "best: HF run_qa's n-best spans; argmax: the seed notebook's decode", 'best')
    .option('--batch-size <n>', 'windows per forward pass', '16')
    .option('--json', 'print {answer, score, start, end} (a list with --top-k > 1; on stdin one line per input, {error} for a bad one)');
  return addHubOptions(addBackendOption(command)).action(async (raw: RawAskOptions) => {
    await run(raw);
  });
}
