/**
 * `qa-ft evaluate`: run a model over SQuAD examples, write predictions.json ({id: answer}) and
 * nbest_predictions.json as HF run_qa.py does, and print the official SQuAD v1.1 EM and F1. With
 * `--predictions FILE` it scores an existing predictions file instead (the official script's job).
 */
import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import type { Feature } from '../records.js';
import type { ResolveOptions } from '../hub/index.js';
import { DEFAULT_MODEL_DIR, resolveModelOption } from './ask.js';
import { addBackendOption, addHubOptions, downloadProgress, hubResolveOptions, parseBackend, parseIntOption, type HubFlags } from './options.js';
import { createProgress, info, printJson } from './output.js';

interface RawEvaluateOptions extends HubFlags {
  model: string;
  data: string;
  split?: string;
  limit?: string;
  out: string;
  predictions?: string;
  maxLength?: string;
  docStride?: string;
  maxAnswerLength: string;
  nBest: string;
  batchSize: string;
  backend: string;
  json?: boolean;
}

interface LoadedData {
  readonly rows: SquadRow[];
  /** Already-tokenized windows (a prepared directory), or null to tokenize with the model's tokenizer. */
  readonly features: Feature[] | null;
  readonly source: string;
  /** A caveat for the user about the data (e.g. contexts cut off when it was prepared). */
  readonly notice?: string;
}

/** HF names the n-best file after the predictions file: predictions.json → nbest_predictions.json. */
export function nbestPathFor(predictionsPath: string): string {
  const name = basename(predictionsPath);
  return join(dirname(predictionsPath), name.startsWith('predictions') ? `nbest_${name}` : `nbest_predictions_${name}`);
}

/** A prepared directory (its `test` split unless --split train), a SQuAD file (sliced by --split), or a hub dataset. */
async function loadData(data: string, split: string | undefined, limit: number | undefined, hub: ResolveOptions): Promise<LoadedData> {
  let loaded: LoadedData;
  if (existsSync(data) && statSync(data).isDirectory()) {
    const { readPreparedSplit } = await import('../tokenize/prepared.js');
    const which = split ?? 'test';
    if (which !== 'test' && which !== 'train') {
      throw new QaFtError('BAD_ARGUMENT', `--split for a prepared directory is 'test' or 'train', got '${which}'`);
    }
    const { manifest: m, split: prepared } = await readPreparedSplit(data, which);
    const notice =
      m.docStride === null && m.counts.truncated > 0
        ? `note: ${data} was prepared without a doc stride and ${m.counts.truncated} contexts were cut at ${m.maxLength} tokens; answers past the cut cannot be found (evaluate the source file instead for full windows)`
        : undefined;
    loaded = { ...prepared, source: `${data} (${which})`, ...(notice === undefined ? {} : { notice }) };
  } else {
    const [{ readSquad }, { parseSplit, applySplit }, { resolveDatasetFiles }] = await Promise.all([
      import('../data/read.js'),
      import('../data/split.js'),
      import('../hub/index.js'),
    ]);
    if (!existsSync(data) && /^[./~]|\.(json|jsonl|parquet|arrow)$/i.test(data)) {
      throw new QaFtError('FILE_NOT_FOUND', `--data ${data} does not exist`, {
        hint: 'pass a SQuAD file, a prepared directory, or a hub dataset id such as rajpurkar/squad',
      });
    }
    if (existsSync(data)) {
      const { rows } = await readSquad(data, split === undefined ? {} : { split: parseSplit(split) });
      loaded = { rows, features: null, source: data };
    } else {
      // not a local path: a hub dataset id such as rajpurkar/squad
      const spec = parseSplit(split ?? 'validation');
      const files = await resolveDatasetFiles(data, spec.name, hub);
      const rows: SquadRow[] = [];
      for (const f of files) rows.push(...(await readSquad(f)).rows);
      loaded = { rows: applySplit(rows, spec), features: null, source: `${data} (${split ?? 'validation'})` };
    }
  }
  if (loaded.rows.length === 0) throw new QaFtError('BAD_DATA', `${loaded.source} holds no examples`);
  if (limit === undefined || limit >= loaded.rows.length) return loaded;
  const rows = loaded.rows.slice(0, limit);
  const keep = new Set(rows.map((r) => r.id));
  return { ...loaded, rows, features: loaded.features?.filter((f) => keep.has(f.exampleId)) ?? null };
}

/** Prepared features must fit the model: no window longer than its positions, no id beyond its vocabulary. */
function checkFeaturesFit(features: readonly Feature[], config: { maxPositionEmbeddings: number; vocabSize: number }): void {
  for (const f of features) {
    if (f.inputIds.length > config.maxPositionEmbeddings) {
      throw new QaFtError('BAD_DATA', `example '${f.exampleId}' has a ${f.inputIds.length}-token window, above the model's ${config.maxPositionEmbeddings} positions`, {
        hint: 'prepare the data with a smaller --max-length',
      });
    }
    const id = f.inputIds.find((t) => t >= config.vocabSize);
    if (id !== undefined) {
      throw new QaFtError('BAD_DATA', `example '${f.exampleId}' has token id ${id}, beyond the model's ${config.vocabSize}-token vocabulary`, {
        hint: "the data was prepared with another model's tokenizer: run `qa-ft prepare --tokenizer` with this model",
      });
    }
  }
}

function referencesOf(rows: readonly SquadRow[]): Record<string, readonly string[]> {
  return Object.fromEntries(rows.map((r) => [r.id, r.answers.text]));
}

async function readPredictionsFile(path: string): Promise<Record<string, string>> {
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

function report(json: boolean, result: Record<string, unknown> & { exactMatch: number; f1: number; count: number }): void {
  if (json) {
    printJson(result);
    return;
  }
  const loss = typeof result.evalLoss === 'number' ? `, eval loss ${result.evalLoss.toFixed(4)}` : '';
  process.stdout.write(`exact_match ${result.exactMatch.toFixed(2)}  f1 ${result.f1.toFixed(2)}  (${result.count} examples${loss})\n`);
}

async function run(raw: RawEvaluateOptions): Promise<void> {
  const limit = raw.limit === undefined ? undefined : parseIntOption('--limit', raw.limit);
  const maxAnswerLength = parseIntOption('--max-answer-length', raw.maxAnswerLength);
  const nBest = parseIntOption('--n-best', raw.nBest);
  const batchSize = parseIntOption('--batch-size', raw.batchSize);
  const docStrideOption = raw.docStride === undefined ? undefined : parseIntOption('--doc-stride', raw.docStride, 0);
  const maxLengthOption = raw.maxLength === undefined ? undefined : parseIntOption('--max-length', raw.maxLength);
  const backend = parseBackend(raw.backend);

  const progress = createProgress({ quiet: Boolean(raw.json) });
  const hub = hubResolveOptions(raw, downloadProgress(progress));
  const data = await loadData(raw.data, raw.split, limit, hub);
  progress.stop();
  if (data.notice !== undefined && !raw.json) info(data.notice);
  if (raw.predictions !== undefined) {
    const { squadMetrics } = await import('../infer/squad-metric.js');
    const metrics = squadMetrics(await readPredictionsFile(raw.predictions), referencesOf(data.rows));
    report(Boolean(raw.json), { ...metrics, predictions: raw.predictions, data: data.source });
    return;
  }

  const [{ openModelDir }, { evaluateModel }, { writeFileAtomic }] = await Promise.all([
    import('../infer/model-dir.js'),
    import('../infer/evaluate.js'),
    import('../util/atomic.js'),
  ]);
  const dir = await resolveModelOption(raw.model, hub);
  progress.stop();
  const { model, tokenizer } = await openModelDir(dir, { backend, onNotice: info });
  try {
    let features = data.features;
    if (features === null) {
      const [{ prepareFeatures }, { defaultDocStride }] = await Promise.all([import('../tokenize/features.js'), import('../infer/answer.js')]);
      const maxLength = maxLengthOption ?? Math.min(384, model.config.maxPositionEmbeddings);
      const docStride = docStrideOption ?? defaultDocStride(maxLength);
      progress.start('Tokenizing', data.rows.length);
      ({ features } = await prepareFeatures(data.rows, tokenizer, { maxLength, docStride }, (done) => progress.update(done)));
    }
    checkFeaturesFit(features, model.config);
    const result = await evaluateModel(model, data.rows, features, {
      batchSize,
      maxAnswerLength,
      nBest,
      onProgress: (done, total) => {
        if (done === 0) progress.start('Evaluating', total);
        else progress.update(done);
      },
    });
    progress.stop();
    const nbestPath = nbestPathFor(raw.out);
    // n-best first: predictions.json appearing means both are complete
    await writeFileAtomic(nbestPath, `${JSON.stringify(result.nbest, null, 4)}\n`);
    await writeFileAtomic(raw.out, `${JSON.stringify(result.predictions, null, 4)}\n`);
    report(Boolean(raw.json), {
      exactMatch: result.exactMatch,
      f1: result.f1,
      count: result.count,
      evalLoss: result.evalLoss,
      predictions: raw.out,
      nbestPredictions: nbestPath,
      data: data.source,
    });
  } finally {
    progress.stop();
    model.dispose();
  }
}

export function evaluateCommand(): Command {
  const command = new Command('evaluate')
    .description('predict answers for SQuAD examples and print the official SQuAD v1.1 exact match and F1')
    .requiredOption('--data <path>', 'a prepared directory (qa-ft prepare), a SQuAD Parquet/Arrow/JSON file, or a hub dataset id')
    .option('--model <dir>', 'model directory or hub id', DEFAULT_MODEL_DIR)
    .option('--split <spec>', "prepared directory: 'test' (default) or 'train'; file: a slice such as 'train[:500]'; hub: default 'validation'")
    .option('--limit <n>', 'evaluate only the first N examples')
    .option('--out <file>', 'where to write {id: answer}; nbest_predictions.json goes beside it', 'predictions.json')
    .option('--predictions <file>', 'score this predictions file against --data instead of running a model')
    .option('--max-length <n>', 'tokens per window when tokenizing a file (default: 384, or the model\'s positions if fewer)')
    .option('--doc-stride <n>', 'tokens shared by consecutive windows when tokenizing a file (default: 128, at most half of --max-length)')
    .option('--max-answer-length <n>', 'longest answer in tokens', '30')
    .option('--n-best <n>', 'start/end candidates and n-best list size', '20')
    .option('--batch-size <n>', 'windows per forward pass', '16')
    .option('--json', 'print the metrics as JSON');
  return addHubOptions(addBackendOption(command)).action(async (raw: RawEvaluateOptions) => {
    await run(raw);
  });
}
