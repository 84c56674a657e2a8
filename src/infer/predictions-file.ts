/**
 * The prediction files of an evaluation, as HF `run_qa.py` writes them: `predictions.json` ({id: answer}, what the
 * official SQuAD script scores) and `nbest_predictions.json` beside it ({id: n-best list}); and reading a
 * predictions file back to score it.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QaFtError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { EvaluateResult } from './evaluate.js';

/** HF names the n-best file after the predictions file: predictions.json → nbest_predictions.json. */
export function nbestPathFor(predictionsPath: string): string {
  const name = basename(predictionsPath);
  return join(dirname(predictionsPath), name.startsWith('predictions') ? `nbest_${name}` : `nbest_predictions_${name}`);
}

/** Writes both files (n-best first: the predictions file appearing means both are complete); returns their paths. */
export async function writePredictionFiles(
  predictionsPath: string,
  result: Pick<EvaluateResult, 'predictions' | 'nbest'>,
): Promise<{ predictions: string; nbestPredictions: string }> {
  const nbestPath = nbestPathFor(predictionsPath);
  await writeFileAtomic(nbestPath, `${JSON.stringify(result.nbest, null, 4)}\n`);
  await writeFileAtomic(predictionsPath, `${JSON.stringify(result.predictions, null, 4)}\n`);
  return { predictions: predictionsPath, nbestPredictions: nbestPath };
}

/** A predictions file ({id: answer}), checked: a missing file, bad JSON or a non-string answer is a one-line error. */
export async function readPredictionsFile(path: string): Promise<Record<string, string>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new QaFtError(missing ? 'FILE_NOT_FOUND' : 'BAD_FORMAT', missing ? `predictions file ${path} does not exist` : `${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new QaFtError('BAD_FORMAT', `${path}: expected a JSON object {id: answer}`);
  }
  for (const [id, answer] of Object.entries(value)) {
    if (typeof answer !== 'string') throw new QaFtError('BAD_FORMAT', `${path}: the answer for id '${id}' is not a string`);
  }
  return value as Record<string, string>;
}
