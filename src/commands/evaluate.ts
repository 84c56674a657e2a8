/**
 * `qa-ft evaluate`: run a model over SQuAD examples, write predictions.json ({id: answer}) and
 * nbest_predictions.json as HF run_qa.py does, and print the official SQuAD v1.1 EM and F1. With
 * `--predictions FILE` it scores an existing predictions file instead (the official script's job).
 * The work is the library's (src/tokenize/eval-data.ts, src/infer); this file parses, resolves hub ids and prints.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { QaFtError } from '../errors.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_DOC_STRIDE, DEFAULT_MAX_ANSWER_LENGTH, DEFAULT_MAX_LENGTH, DEFAULT_N_BEST } from '../defaults.js';
import type { ResolveOptions } from '../hub/index.js';
import type { EvalExamples } from '../tokenize/eval-data.js';
import {
  addBackendOption,
  addHubOptions,
  asBackendName,
  DEFAULT_MODEL_DIR,
  downloadProgress,
  hubResolveOptions,
  parseIntOption,
  resolveModelOption,
  type HubFlags,
} from './options.js';
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

/** `--data`: a prepared directory or SQuAD file, else a hub dataset id (its files resolved here, default split validation). */
async function readExamples(data: string, split: string | undefined, limit: number | undefined, hub: ResolveOptions): Promise<EvalExamples> {
  const { readEvalExamples } = await import('../tokenize/eval-data.js');
  if (existsSync(data)) return readEvalExamples({ path: data, ...(split === undefined ? {} : { split }) }, limit);
  if (/^[./~]|\.(json|jsonl|parquet|arrow)$/i.test(data)) {
    throw new QaFtError('FILE_NOT_FOUND', `--data ${data} does not exist`, {
      hint: 'pass a SQuAD file, a prepared directory, or a hub dataset id such as rajpurkar/squad',
    });
  }
  const [{ parseSplit }, { resolveDatasetFiles }] = await Promise.all([import('../data/split.js'), import('../hub/index.js')]);
  const hubSplit = split ?? 'validation';
  const files = await resolveDatasetFiles(data, parseSplit(hubSplit).name, hub);
  return readEvalExamples({ dataset: data, files, split: hubSplit }, limit);
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
  const docStride = raw.docStride === undefined ? undefined : parseIntOption('--doc-stride', raw.docStride, 0);
  const maxLength = raw.maxLength === undefined ? undefined : parseIntOption('--max-length', raw.maxLength);
  const backend = asBackendName(raw.backend);

  const progress = createProgress({ quiet: Boolean(raw.json) });
  const hub = hubResolveOptions(raw, downloadProgress(progress));
  const examples = await readExamples(raw.data, raw.split, limit, hub);
  progress.stop();
  if (examples.notice !== undefined && !raw.json) info(examples.notice);
  if (raw.predictions !== undefined) {
    const [{ readPredictionsFile }, { referencesOf, squadMetrics }] = await Promise.all([
      import('../infer/predictions-file.js'),
      import('../infer/squad-metric.js'),
    ]);
    const metrics = squadMetrics(await readPredictionsFile(raw.predictions), referencesOf(examples.rows));
    report(Boolean(raw.json), { ...metrics, predictions: raw.predictions, data: examples.source });
    return;
  }

  const [{ openModelDir }, { evalFeatures }, { evaluateModel }, { writePredictionFiles }] = await Promise.all([
    import('../infer/model-dir.js'),
    import('../tokenize/eval-data.js'),
    import('../infer/evaluate.js'),
    import('../infer/predictions-file.js'),
  ]);
  const dir = await resolveModelOption(raw.model, hub);
  progress.stop();
  const { model, tokenizer } = await openModelDir(dir, { backend, onNotice: info });
  try {
    const features = await evalFeatures(examples, tokenizer, model.config, { maxLength, docStride }, (done, total) => {
      if (done === 0) progress.start('Tokenizing', total);
      else progress.update(done);
    });
    const result = await evaluateModel(model, examples.rows, features, {
      batchSize,
      maxAnswerLength,
      nBest,
      onProgress: (done, total) => {
        if (done === 0) progress.start('Evaluating', total);
        else progress.update(done);
      },
    });
    progress.stop();
    const files = await writePredictionFiles(raw.out, result);
    report(Boolean(raw.json), {
      exactMatch: result.exactMatch,
      f1: result.f1,
      count: result.count,
      evalLoss: result.evalLoss,
      ...files,
      data: examples.source,
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
    .option('--max-length <n>', `tokens per window when tokenizing a file (default: ${DEFAULT_MAX_LENGTH}, or the model's positions if fewer)`)
    .option('--doc-stride <n>', `tokens shared by consecutive windows when tokenizing a file (default: ${DEFAULT_DOC_STRIDE}, at most half of --max-length)`)
    .option('--max-answer-length <n>', 'longest answer in tokens', String(DEFAULT_MAX_ANSWER_LENGTH))
    .option('--n-best <n>', 'start/end candidates and n-best list size', String(DEFAULT_N_BEST))
    .option('--batch-size <n>', 'windows per forward pass', String(DEFAULT_BATCH_SIZE))
    .option('--json', 'print the metrics as JSON');
  return addHubOptions(addBackendOption(command)).action(async (raw: RawEvaluateOptions) => {
    await run(raw);
  });
}
