/**
 * `qa-ft ask`: answer a question about a context with a fine-tuned model, or every `{"question","context"}` line
 * of JSONL on stdin, answered in small batches as the lines arrive (ask-stdin.ts); a bad line gets an error of its
 * own (a record in the output with --json, a line on stderr without) and the others are still answered. Text is
 * strict: invalid UTF-8 is an error naming the byte. Start-up matters here, so the engine, tokenizer and model code
 * are imported only once the options are known to be good (see src/infer/model-dir.ts).
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { formatUserError, QaFtError } from '../errors.js';
import { readFileBytes, decodeText, TEXT_ENCODINGS, utf16Bom, type TextEncodingName } from '../util/text-file.js';
import type { Answer, AnswerOptions, AskItem } from '../infer/answer.js';
import { checkStrategy, type Strategy } from '../infer/strategy.js';
import type { OpenedModel } from '../infer/model-dir.js';
import type { BackendName, Precision } from '../model/types.js';
import type { ResolveOptions } from '../hub/index.js';
import { answerStdin, renamed } from './ask-stdin.js';
import {
  addBackendOption,
  addBf16Option,
  addHubOptions,
  asBackendName,
  DEFAULT_MODEL_DIR,
  flagged,
  flagNames,
  hubResolveOptions,
  parseIntOption,
  precisionOption,
  resolveModelOption,
  type HubFlags,
} from './options.js';
import { info } from './output.js';
import { addSpanOptions, parseSpanOptions, type SpanCommandOptions, type SpanFlags } from './span-options.js';

const NOTHING_HINT = 'give --question and --context, or pipe JSONL {"question","context"} lines on stdin';

export interface RawAskOptions extends HubFlags, SpanFlags {
  question?: string;
  questionFile?: string;
  context?: string;
  contextFile?: string;
  model: string;
  topK: string;
  strategy: string;
  backend: string;
  bf16?: boolean;
  encoding?: string;
  handleImpossibleAnswer?: boolean;
  json?: boolean;
  quiet?: boolean;
}

interface AskOptions extends Omit<SpanCommandOptions, 'nBest'> {
  readonly model: string;
  readonly topK: number;
  readonly strategy: Strategy;
  readonly backend: BackendName;
  readonly precision: Precision;
  /** Of --question-file and --context-file (stdin JSONL is always UTF-8). */
  readonly encoding: TextEncodingName;
  /** SQuAD 2.0 models: "no answer" when the null score wins by more than `nullScoreDiffThreshold`. */
  readonly handleImpossibleAnswer: boolean;
  readonly json: boolean;
  /** No notes on stderr. */
  readonly quiet: boolean;
  readonly hub: ResolveOptions;
}

export function parseAskOptions(raw: RawAskOptions): AskOptions {
  const strategy = checkStrategy(raw.strategy, '--strategy');
  return {
    model: raw.model,
    topK: parseIntOption('--top-k', raw.topK),
    ...parseSpanOptions(raw),
    strategy,
    backend: asBackendName(raw.backend),
    precision: precisionOption(raw),
    encoding: parseEncoding(raw.encoding ?? 'utf-8'),
    handleImpossibleAnswer: impossibleAnswer(raw, strategy),
    json: Boolean(raw.json),
    quiet: Boolean(raw.quiet),
    hub: hubResolveOptions(raw),
  };
}

/** `--handle-impossible-answer`, checked against the strategy (argmax has no null score). */
function impossibleAnswer(raw: RawAskOptions, strategy: Strategy): boolean {
  const handleImpossibleAnswer = Boolean(raw.handleImpossibleAnswer);
  if (handleImpossibleAnswer && strategy === 'argmax') {
    throw new QaFtError('BAD_ARGUMENT', '--handle-impossible-answer needs --strategy best (argmax has no null score)');
  }
  return handleImpossibleAnswer;
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
  if (found === undefined)
    throw new QaFtError('BAD_ARGUMENT', `unknown --encoding '${value}'`, {
      hint: `choose ${TEXT_ENCODINGS.join(', ')}`,
    });
  return found;
}

/** What to do about a text file that does not decode (a UTF-16 file read as UTF-8 fails at byte 0). */
function encodingHint(bytes: Uint8Array, encoding: TextEncodingName): string {
  const bom = utf16Bom(bytes);
  if (bom === 'utf-16le' && encoding !== 'utf-16le')
    return 'it starts with a UTF-16LE byte-order mark: pass --encoding utf-16le';
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

function formatText(answers: readonly Answer[]): string {
  const [first, ...rest] = answers;
  if (first === undefined) return '(no answer found)';
  const line = (a: Answer): string =>
    a.answer === '' && a.nullScoreDiff !== undefined
      ? `no answer\t(score ${a.score.toFixed(4)}, null score − best span ${a.nullScoreDiff.toFixed(4)})`
      : `${a.answer}\t(score ${a.score.toFixed(4)})`;
  if (rest.length === 0) return line(first);
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
    ...(o.handleImpossibleAnswer
      ? { handleImpossibleAnswer: true, nullScoreDiffThreshold: o.nullScoreDiffThreshold }
      : {}),
  };
}

async function openModel(o: AskOptions): Promise<OpenedModel> {
  const { openModelDir } = await import('../infer/model-dir.js');
  const dir = await resolveModelOption(o.model, o.hub);
  return openModelDir(dir, { backend: o.backend, precision: o.precision, ...(o.quiet ? {} : { onNotice: info }) });
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
    process.stdout.write(
      o.json ? `${JSON.stringify(toJson(answers!, o.topK), null, 2)}\n` : `${formatText(answers!)}\n`,
    );
  } finally {
    model.dispose();
  }
}

/**
 * JSONL on stdin (see ask-stdin.ts): answers and errors printed in input order, answers as JSON Lines with --json.
 * Ends with an error (exit 1) counting the lines that failed, if any did.
 */
async function answerLines(o: AskOptions): Promise<void> {
  const { lines, failed } = await answerStdin(process.stdin, {
    options: answerOptions(o),
    open: () => openModel(o),
    onResult: (line, result) => {
      if (!(result instanceof QaFtError))
        process.stdout.write(o.json ? `${JSON.stringify(toJson(result, o.topK))}\n` : `${formatText(result)}\n`);
      else if (o.json) process.stdout.write(`${JSON.stringify({ error: formatUserError(result), line })}\n`);
      else process.stderr.write(`qa-ft: error: ${formatUserError(result)}\n`);
    },
  });
  if (lines === 0) {
    throw new QaFtError('BAD_ARGUMENT', 'nothing to answer: stdin held no JSONL lines', { hint: NOTHING_HINT });
  }
  if (failed > 0) {
    throw new QaFtError('BAD_DATA', `${failed} of ${lines} stdin lines failed`, {
      hint: o.json ? 'each has an {"error"} record in the output' : 'each is named above',
    });
  }
}

/**
 * A local model trained on SQuAD 2.0 (its training log holds the 2.0 figures) answers "no answer" when the null
 * score wins, as if `--handle-impossible-answer` were given; other models only with the flag.
 */
async function withSquadV2Default(o: AskOptions): Promise<AskOptions> {
  if (o.handleImpossibleAnswer || o.strategy === 'argmax' || !existsSync(o.model)) return o;
  const { trainedOnSquadV2 } = await import('../infer/model-dir.js');
  if (!trainedOnSquadV2(o.model)) return o;
  if (!o.json && !o.quiet)
    info(`note: ${o.model} was trained on SQuAD 2.0: it may answer "no answer" (--handle-impossible-answer)`);
  return { ...o, handleImpossibleAnswer: true };
}

async function run(raw: RawAskOptions): Promise<void> {
  const o = await withSquadV2Default(parseAskOptions(raw));
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
  return answerLines(o);
}

/** The library's option fields as this command's flags (the rest are the fields in kebab case). */
const ASK_FLAGS = flagNames({ precision: '--bf16' });

export function askCommand(): Command {
  const command = new Command('ask')
    .description(
      'answer a question about a context (or JSONL {"question","context"} lines on stdin) with a fine-tuned model',
    )
    .option('--question <text>', 'the question')
    .option('--question-file <file>', 'read the question from a file')
    .option('--context <text>', 'the text that holds the answer; long texts are split into overlapping windows')
    .option('--context-file <file>', 'read the context from a file')
    .option(
      '--encoding <name>',
      'encoding of --question-file and --context-file: utf-8, latin1 or utf-16le (stdin is always UTF-8)',
      'utf-8',
    )
    .option('--model <dir>', 'model directory or hub id (the output of `qa-ft train`)', DEFAULT_MODEL_DIR)
    .option('--top-k <n>', 'how many answers to give, best first', '1')
    .option('--strategy <best|argmax>', "best: HF run_qa's n-best spans; argmax: the seed notebook's decode", 'best')
    .option(
      '--handle-impossible-answer',
      'a SQuAD 2.0 model: answer "no answer" ("" with --json) when the null score wins (automatic for a model qa-ft trained on SQuAD 2.0)',
    )
    .option('--quiet', 'no notes on stderr')
    .option(
      '--json',
      'print {answer, score, start, end} (a list with --top-k > 1; on stdin one line per input, {error} for a bad one)',
    );
  return addHubOptions(addBf16Option(addBackendOption(addSpanOptions(command, { nBest: false })))).action(
    async (raw: RawAskOptions) => {
      await flagged(ASK_FLAGS, () => run(raw)); // the library's option fields are this command's flags
    },
  );
}
