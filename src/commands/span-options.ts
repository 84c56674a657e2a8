/**
 * The span options `ask` and `evaluate` share, defined once (flags, help, parsing): the windows (`--max-length`,
 * `--doc-stride`, `--batch-size`), the answers (`--max-answer-length`, `--n-best`) and SQuAD 2.0's
 * `--null-score-diff-threshold`. Defaults are src/defaults.ts's.
 */
import type { Command } from 'commander';
import { DEFAULTS } from '../defaults.js';
import { parseIntOption, parseNumberOption } from './options.js';

export interface SpanFlags {
  maxLength?: string;
  docStride?: string;
  batchSize: string;
  maxAnswerLength: string;
  nBest?: string;
  nullScoreDiffThreshold?: string;
}

export interface SpanCommandOptions {
  /** Unset: DEFAULTS.maxLength, or the model's positions if fewer. */
  readonly maxLength?: number;
  /** Unset: DEFAULTS.docStride, at most half a window. */
  readonly docStride?: number;
  readonly batchSize: number;
  readonly maxAnswerLength: number;
  /** Only for a command with `--n-best`. */
  readonly nBest?: number;
  readonly nullScoreDiffThreshold: number;
}

/** Adds the span options; `nBest`: with `--n-best` (evaluate's n-best files; ask's list is `--top-k`). */
export function addSpanOptions(command: Command, which: { readonly nBest: boolean }): Command {
  command
    .option(
      '--max-length <n>',
      `tokens per window, special tokens included (default: ${DEFAULTS.maxLength}, or the model's positions if fewer)`,
    )
    .option(
      '--doc-stride <n>',
      `tokens shared by consecutive windows of a long context (default: ${DEFAULTS.docStride}, at most half of --max-length)`,
    )
    .option('--batch-size <n>', 'windows per forward pass', String(DEFAULTS.batchSize))
    .option('--max-answer-length <n>', 'longest answer in tokens', String(DEFAULTS.maxAnswerLength));
  if (which.nBest) command.option('--n-best <n>', 'start/end candidates and n-best list size', String(DEFAULTS.nBest));
  return command.option(
    '--null-score-diff-threshold <x>',
    'SQuAD 2.0 (evaluate with unanswerable questions, ask with --handle-impossible-answer): no answer ("") when null score − best span score > x',
    String(DEFAULTS.nullScoreDiffThreshold),
  );
}

/** The span options, typed; one-line errors name the flag. Unset window sizes stay unset (the model decides). */
export function parseSpanOptions(raw: SpanFlags): SpanCommandOptions {
  return {
    ...(raw.maxLength === undefined ? {} : { maxLength: parseIntOption('--max-length', raw.maxLength) }),
    ...(raw.docStride === undefined ? {} : { docStride: parseIntOption('--doc-stride', raw.docStride, 0) }),
    batchSize: parseIntOption('--batch-size', raw.batchSize),
    maxAnswerLength: parseIntOption('--max-answer-length', raw.maxAnswerLength),
    ...(raw.nBest === undefined ? {} : { nBest: parseIntOption('--n-best', raw.nBest) }),
    nullScoreDiffThreshold: parseNumberOption(
      '--null-score-diff-threshold',
      raw.nullScoreDiffThreshold ?? String(DEFAULTS.nullScoreDiffThreshold),
    ),
  };
}
