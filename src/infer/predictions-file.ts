/**
 * The prediction files of an evaluation, as HF `run_qa.py` writes them: `predictions.json` ({id: answer}, what the
 * official SQuAD script scores), `nbest_predictions.json` beside it ({id: n-best list}) and, for SQuAD 2.0,
 * `null_odds.json` ({id: null score − best span score}, the 2.0 script's `--na-prob-file`); and reading a
 * predictions or no-answer probabilities file back to score it.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { field, firstLine, opt, QaFtError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { JsonBytesError, parseJsonObjectBytes } from '../util/large-json.js';
import { checkOutputTarget, type OutputSpec } from '../util/out-guard.js';
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
  return join(
    dirname(predictionsPath),
    name.startsWith('predictions') ? `null_odds${name.slice('predictions'.length)}` : `null_odds_${name}`,
  );
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

/**
 * Checks, before an evaluation runs, that writing its prediction files for `predictionsPath` replaces nothing of the
 * user's: the predictions file, the n-best file beside it and (SQuAD 2.0) the null-odds file must each be absent, or
 * with `overwrite` a file of its kind (what an earlier evaluate, or run_qa.py, wrote). src/util/out-guard.ts owns
 * the rule; a file of its kind is one that reads back as such.
 */
export async function checkPredictionTargets(
  predictionsPath: string,
  options: { overwrite: boolean; versionTwoWithNegative: boolean },
): Promise<void> {
  const parses = (read: (path: string) => Promise<unknown>) => (path: string) =>
    read(path).then(
      () => true,
      () => false,
    );
  const targets: Array<[OutputSpec['option'], string, string, (path: string) => Promise<boolean>]> = [
    [{ field: 'predictionsPath' }, predictionsPath, 'a predictions file ({id: answer})', parses(readPredictionsFile)],
    [
      { words: 'the n-best file' },
      nbestPathFor(predictionsPath),
      'an n-best predictions file ({id: [candidates]})',
      parses(readNbestFile),
    ],
  ];
  if (options.versionTwoWithNegative)
    targets.push([
      { words: 'the null-odds file' },
      nullOddsPathFor(predictionsPath),
      'a null-odds file ({id: number})',
      parses(readNaProbsFile),
    ]);
  for (const [option, path, owner, isOurs] of targets) {
    await checkOutputTarget(path, {
      option,
      command: 'evaluate',
      kind: 'file',
      owner,
      isOurs,
      overwrite: {
        given: options.overwrite,
        hint: opt`pass ${field('overwrite')} to replace the earlier predictions, or choose another ${field('predictionsPath')}`,
      },
      notOursHint: opt`choose another ${field('predictionsPath')}; evaluate replaces only prediction files it wrote`,
    });
  }
}

/** An n-best file ({id: [candidate, …]}), checked as far as telling it from other JSON. */
async function readNbestFile(path: string): Promise<Record<string, unknown>> {
  const value = await readJsonObject(path, 'n-best file', '{id: [candidates]}');
  for (const [id, list] of Object.entries(value)) {
    if (!Array.isArray(list))
      throw new QaFtError('BAD_FORMAT', `${path}: the n-best list for id '${id}' is not an array`);
  }
  return value;
}

/**
 * A JSON object file, or a one-line error: `what` names it ("predictions file"), `shape` what it must hold. Read as
 * bytes and split by member (src/util/large-json.ts), so a valid file larger than a JS string can hold still reads.
 */
async function readJsonObject(path: string, what: string, shape: string): Promise<Record<string, unknown>> {
  let bytes: Buffer;
  await checkReadableFile(path, `${what} ${path}`, `a JSON object ${shape}`);
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new QaFtError('FILE_NOT_FOUND', `${what} ${path} does not exist`);
    throw new QaFtError(
      'BAD_FORMAT',
      `${what} ${path} cannot be read (${code === 'ERR_FS_FILE_TOO_LARGE' ? 'larger than the 2 GiB Node.js reads at once' : (code ?? firstLine(e))})`,
    );
  }
  try {
    return parseJsonObjectBytes(bytes);
  } catch (e) {
    if (!(e instanceof JsonBytesError)) throw e;
    if (e.message === 'expected a JSON object')
      throw new QaFtError('BAD_FORMAT', `${path}: expected a JSON object ${shape}`);
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON: ${e.message} at byte ${e.offset}`);
  }
}

/** A predictions file ({id: answer}), checked: a missing file, bad JSON or a non-string answer is a one-line error. */
export async function readPredictionsFile(path: string): Promise<Record<string, string>> {
  const value = await readJsonObject(path, 'predictions file', '{id: answer}');
  for (const [id, answer] of Object.entries(value)) {
    if (typeof answer !== 'string')
      throw new QaFtError('BAD_FORMAT', `${path}: the answer for id '${id}' is not a string`);
  }
  return value as Record<string, string>;
}

/** A no-answer probabilities file ({id: number}, e.g. null_odds.json), checked like a predictions file. */
export async function readNaProbsFile(path: string): Promise<Record<string, number>> {
  const value = await readJsonObject(path, 'no-answer probabilities file', '{id: no-answer probability}');
  for (const [id, p] of Object.entries(value)) {
    if (typeof p !== 'number')
      throw new QaFtError('BAD_FORMAT', `${path}: the no-answer probability for id '${id}' is not a number`);
  }
  return value as Record<string, number>;
}
