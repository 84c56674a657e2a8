/**
 * The prediction files of an evaluation, as HF `run_qa.py` writes them: `predictions.json` ({id: answer}, what the
 * official SQuAD script scores), `nbest_predictions.json` beside it ({id: n-best list}) and, for SQuAD 2.0,
 * `null_odds.json` ({id: null score − best span score}, the 2.0 script's `--na-prob-file`); and reading a
 * predictions or no-answer probabilities file back to score it.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QaFtError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkReadableFile } from '../util/text-file.js';
import type { EvaluateResult } from './evaluate.js';

/** HF names the n-best file after the predictions file: predictions.json → nbest_predictions.json. */
export function nbestPathFor(predictionsPath: string): string {
  const name = basename(predictionsPath);
  return join(dirname(predictionsPath), name.startsWith('predictions') ? `nbest_${name}` : `nbest_predictions_${name}`);
}

/** HF names the null-odds file likewise: predictions.json → null_odds.json, predictions_x.json → null_odds_x.json. */
export function nullOddsPathFor(predictionsPath: string): string {
  const name = basename(predictionsPath);
  return join(dirname(predictionsPath), name.startsWith('predictions') ? `null_odds${name.slice('predictions'.length)}` : `null_odds_${name}`);
}

/**
 * Writes the files (n-best and null odds first: the predictions file appearing means all are complete); returns
 * their paths (`nullOdds` only for a SQuAD 2.0 result).
 */
export async function writePredictionFiles(
  predictionsPath: string,
  result: Pick<EvaluateResult, 'predictions' | 'nbest' | 'nullOdds'>,
): Promise<{ predictions: string; nbestPredictions: string; nullOdds?: string }> {
  const nbestPath = nbestPathFor(predictionsPath);
  await writeFileAtomic(nbestPath, `${JSON.stringify(result.nbest, null, 4)}\n`);
  let nullOdds: string | undefined;
  if (result.nullOdds !== undefined) {
    nullOdds = nullOddsPathFor(predictionsPath);
    await writeFileAtomic(nullOdds, `${JSON.stringify(result.nullOdds, null, 4)}\n`);
  }
  await writeFileAtomic(predictionsPath, `${JSON.stringify(result.predictions, null, 4)}\n`);
  return { predictions: predictionsPath, nbestPredictions: nbestPath, ...(nullOdds === undefined ? {} : { nullOdds }) };
}

/** A JSON object file, or a one-line error: `what` names it ("predictions file"), `shape` what it must hold. */
async function readJsonObject(path: string, what: string, shape: string): Promise<Record<string, unknown>> {
  let value: unknown;
  await checkReadableFile(path, `${what} ${path}`, `a JSON object ${shape}`);
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new QaFtError(missing ? 'FILE_NOT_FOUND' : 'BAD_FORMAT', missing ? `${what} ${path} does not exist` : `${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new QaFtError('BAD_FORMAT', `${path}: expected a JSON object ${shape}`);
  }
  return value as Record<string, unknown>;
}

/** A predictions file ({id: answer}), checked: a missing file, bad JSON or a non-string answer is a one-line error. */
export async function readPredictionsFile(path: string): Promise<Record<string, string>> {
  const value = await readJsonObject(path, 'predictions file', '{id: answer}');
  for (const [id, answer] of Object.entries(value)) {
    if (typeof answer !== 'string') throw new QaFtError('BAD_FORMAT', `${path}: the answer for id '${id}' is not a string`);
  }
  return value as Record<string, string>;
}

/** A no-answer probabilities file ({id: number}, e.g. null_odds.json), checked like a predictions file. */
export async function readNaProbsFile(path: string): Promise<Record<string, number>> {
  const value = await readJsonObject(path, 'no-answer probabilities file', '{id: no-answer probability}');
  for (const [id, p] of Object.entries(value)) {
    if (typeof p !== 'number') throw new QaFtError('BAD_FORMAT', `${path}: the no-answer probability for id '${id}' is not a number`);
  }
  return value as Record<string, number>;
}
