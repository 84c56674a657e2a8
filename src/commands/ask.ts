/**
 * `qa-ft ask`: answer a question about a context with a fine-tuned model, or every `{"question","context"}` line
 * of JSONL on stdin (batched). Start-up matters here, so the engine, tokenizer and model code are imported only
 * once the options are known to be good (see src/infer/model-dir.ts).
 */
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { QaFtError } from '../errors.js';
import type { Answer, AskItem, Strategy } from '../infer/answer.js';
import type { BackendName } from '../model/types.js';
import type { ResolveOptions } from '../hub/index.js';
import { addBackendOption, addHubOptions, hubResolveOptions, parseBackend, parseIntOption, type HubFlags } from './options.js';
import { info } from './output.js';

export const DEFAULT_MODEL_DIR = './qa-ft-model';
/** Items answered per call when reading stdin, so answers stream out while later lines wait. */
const STDIN_CHUNK = 64;

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
    json: Boolean(raw.json),
    hub: hubResolveOptions(raw),
  };
}

export async function textFrom(flag: string, inline: string | undefined, file: string | undefined): Promise<string | undefined> {
  if (inline !== undefined && file !== undefined) {
    throw new QaFtError('BAD_ARGUMENT', `give either --${flag} or --${flag}-file, not both`);
  }
  if (file === undefined) return inline;
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new QaFtError('FILE_NOT_FOUND', `--${flag}-file ${file} does not exist or cannot be read`);
  }
}

/** `{"question", "context"}` per non-blank line; errors name the line. */
export function parseJsonl(text: string): AskItem[] {
  const items: AskItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new QaFtError('BAD_DATA', `stdin line ${i + 1}: not valid JSON`, { hint: 'expected one {"question": …, "context": …} object per line' });
    }
    const o = value as { question?: unknown; context?: unknown } | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      throw new QaFtError('BAD_DATA', `stdin line ${i + 1}: expected a JSON object with "question" and "context"`);
    }
    for (const field of ['question', 'context'] as const) {
      if (typeof o[field] !== 'string') {
        throw new QaFtError('BAD_DATA', `stdin line ${i + 1}: "${field}" must be a string, got ${o[field] === undefined ? 'nothing' : typeof o[field]}`);
      }
    }
    items.push({ question: o.question as string, context: o.context as string });
  });
  return items;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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

async function run(raw: RawAskOptions): Promise<void> {
  const o = parseAskOptions(raw);
  const question = await textFrom('question', raw.question, raw.questionFile);
  const context = await textFrom('context', raw.context, raw.contextFile);
  let items: AskItem[];
  let fromStdin = false;
  if (question !== undefined || context !== undefined) {
    if (question === undefined) throw new QaFtError('BAD_ARGUMENT', 'missing --question (or --question-file)');
    if (context === undefined) throw new QaFtError('BAD_ARGUMENT', 'missing --context (or --context-file)');
    items = [{ question, context }];
  } else if (process.stdin.isTTY) {
    throw new QaFtError('BAD_ARGUMENT', 'nothing to answer', { hint: 'give --question and --context, or pipe JSONL {"question","context"} lines on stdin' });
  } else {
    fromStdin = true;
    items = parseJsonl(await readStdin());
    if (items.length === 0) {
      throw new QaFtError('BAD_ARGUMENT', 'nothing to answer: stdin held no JSONL lines', { hint: 'give --question and --context, or pipe JSONL {"question","context"} lines on stdin' });
    }
  }

  const [{ openModelDir }, { answerQuestions, checkItems }] = await Promise.all([
    import('../infer/model-dir.js'),
    import('../infer/answer.js'),
  ]);
  const renumber = (e: unknown, from: number): never => {
    // stdin: name the item by its place in the input, not in its chunk; a single question needs no number
    if (!(e instanceof QaFtError)) throw e;
    const message = fromStdin
      ? e.message.replace(/^item (\d+)/, (_, n: string) => `stdin item ${from + Number(n)}`)
      : e.message.replace(/^item 1: /, '');
    throw new QaFtError(e.code, message, e.hint ? { hint: e.hint } : {});
  };
  try {
    checkItems(items); // before the model is loaded: bad input fails fast
  } catch (e) {
    renumber(e, 0);
  }
  const dir = await resolveModelOption(o.model, o.hub);
  const { model, tokenizer } = await openModelDir(dir, { backend: o.backend, onNotice: info });
  try {
    const options = {
      topK: o.topK,
      maxAnswerLength: o.maxAnswerLength,
      strategy: o.strategy,
      ...(o.docStride === undefined ? {} : { docStride: o.docStride }),
      batchSize: o.batchSize,
      ...(o.maxLength === undefined ? {} : { maxLength: o.maxLength }),
    };
    for (let from = 0; from < items.length; from += STDIN_CHUNK) {
      const chunk = items.slice(from, from + STDIN_CHUNK);
      const answers = await answerQuestions(model, tokenizer, chunk, options).catch((e: unknown) => renumber(e, from));
      for (const a of answers) {
        if (!o.json) process.stdout.write(`${formatText(a)}\n`);
        else if (fromStdin) process.stdout.write(`${JSON.stringify(toJson(a, o.topK))}\n`); // JSON Lines
        else process.stdout.write(`${JSON.stringify(toJson(a, o.topK), null, 2)}\n`);
      }
    }
  } finally {
    model.dispose();
  }
}

export function askCommand(): Command {
  const command = new Command('ask')
    .description('answer a question about a context (or JSONL {"question","context"} lines on stdin) with a fine-tuned model')
    .option('--question <text>', 'the question')
    .option('--question-file <file>', 'read the question from a file')
    .option('--context <text>', 'the text that holds the answer; long texts are split into overlapping windows')
    .option('--context-file <file>', 'read the context from a file')
    .option('--model <dir>', 'model directory or hub id (the output of `qa-ft train`)', DEFAULT_MODEL_DIR)
    .option('--top-k <n>', 'how many answers to give, best first', '1')
    .option('--max-answer-length <n>', 'longest answer in tokens', '30')
    .option('--doc-stride <n>', 'tokens shared by consecutive windows of a long context (default: 128, at most half of --max-length)')
    .option('--max-length <n>', 'tokens per window, special tokens included (default: 384, or the model\'s positions if fewer)')
    .option('--strategy <best|argmax>', "best: HF run_qa's n-best spans; argmax: the seed notebook's decode", 'best')
    .option('--batch-size <n>', 'windows per forward pass', '16')
    .option('--json', 'print {answer, score, start, end} (a list with --top-k > 1; one line per input on stdin)');
  return addHubOptions(addBackendOption(command)).action(async (raw: RawAskOptions) => {
    await run(raw);
  });
}
