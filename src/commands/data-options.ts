/**
 * The data-file options `prepare` and `evaluate` share: `--format` and the column names, as run_qa.py names them
 * (`--question-column`, `--context-column`, `--answer-column`), plus `--answer-start-column` and `--id-column`.
 */
import type { Command } from 'commander';
import type { ColumnOptions } from '../data/columns.js';
import type { FileReadOptions } from '../data/read.js';
import { INPUT_FORMATS, type InputFormat } from '../data/source-records.js';
import { QaFtError } from '../errors.js';

export interface ColumnFlags {
  format?: string;
  questionColumn?: string;
  contextColumn?: string;
  answerColumn?: string;
  answerStartColumn?: string;
  idColumn?: string;
}

/**
 * The column options' fields (`FileReadOptions.columns`, as library errors name them) → these flags, for
 * `flagNames` of the commands that read data files.
 */
export const COLUMN_FLAGS: Readonly<Record<string, string>> = {
  'columns.question': '--question-column',
  'columns.context': '--context-column',
  'columns.answer': '--answer-column',
  'columns.answerStart': '--answer-start-column',
  'columns.id': '--id-column',
};

export function addColumnOptions(command: Command): Command {
  return command
    .option(
      '--format <name>',
      `read data files as ${INPUT_FORMATS.join('|')} (default: guessed from the name and first bytes)`,
    )
    .option('--question-column <name>', 'column holding the question', 'question')
    .option('--context-column <name>', 'column holding the context', 'context')
    .option(
      '--answer-column <name>',
      'column holding the answers: {text[], answer_start[]}, a list of strings or one string',
      'answers',
    )
    .option(
      '--answer-start-column <name>',
      'column holding the answer starts (character offsets, as Python counts them); without one, answers lacking a start are located in the context',
    )
    .option('--id-column <name>', "column holding the example id (default 'id'; without one, ids are the row numbers)");
}

export function columnOptions(raw: ColumnFlags): FileReadOptions {
  let format: InputFormat | undefined;
  if (raw.format !== undefined) {
    format = INPUT_FORMATS.find((f) => f === raw.format);
    if (format === undefined)
      throw new QaFtError('BAD_ARGUMENT', `--format ${raw.format}: expected ${INPUT_FORMATS.join(', ')}`);
  }
  const columns: ColumnOptions = {
    ...(raw.questionColumn === undefined ? {} : { question: raw.questionColumn }),
    ...(raw.contextColumn === undefined ? {} : { context: raw.contextColumn }),
    ...(raw.answerColumn === undefined ? {} : { answer: raw.answerColumn }),
    ...(raw.answerStartColumn === undefined ? {} : { answerStart: raw.answerStartColumn }),
    ...(raw.idColumn === undefined ? {} : { id: raw.idColumn }),
  };
  return { ...(format === undefined ? {} : { format }), columns };
}
