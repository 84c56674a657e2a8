/**
 * `qa-ft evaluate`: run a model over SQuAD examples, write predictions.json ({id: answer}) and
 * nbest_predictions.json as HF run_qa.py does, and print the official SQuAD v1.1 EM and F1. With
 * `--predictions FILE` it scores an existing predictions file instead (the official script's job).
 * `--version-2-with-negative` (or a prepared directory that says so): SQuAD 2.0, the null answer competing,
 * null_odds.json written too, and the official 2.0 figures (with `--na-probs FILE`, its threshold sweep).
 * `--engine onnx|onnx-q8` runs an export's ONNX file (qa-ft export --onnx) on onnxruntime-node instead of TF.js.
 * The work is the library's (src/tokenize/eval-data.ts, src/infer); this file parses, resolves hub ids and prints.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { QaFtError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { ResolveOptions } from '../hub/index.js';
import type { SquadV2Metrics } from '../infer/squad-v2-metric.js';
import type { BackendName, Precision, QaModel } from '../model/types.js';
import type { OnnxEngine } from '../onnx/session.js';
import type { QaTokenizer } from '../tokenize/tokenizer.js';
import type { EvalExamples } from '../tokenize/eval-data.js';
import {
  addBackendOption,
  addBf16Option,
  addHubOptions,
  asBackendName,
  DEFAULT_MODEL_DIR,
  downloadProgress,
  flagged,
  flagNames,
  hubResolveOptions,
  parseIntOption,
  parseNumberOption,
  precisionOption,
  resolveModelOption,
  type HubFlags,
} from './options.js';
import { createProgress, info, printJson, type ProgressReporter } from './output.js';
import { addSpanOptions, parseSpanOptions, type SpanCommandOptions, type SpanFlags } from './span-options.js';
import { addColumnOptions, COLUMN_FLAGS, columnOptions, type ColumnFlags } from './data-options.js';
import type { FileReadOptions } from '../data/read.js';

interface RawEvaluateOptions extends HubFlags, ColumnFlags, SpanFlags {
  model: string;
  data: string;
  datasetConfig?: string;
  split?: string;
  limit?: string;
  out: string;
  predictions?: string;
  backend: string;
  engine: string;
  bf16?: boolean;
  version2WithNegative?: boolean;
  naProbs?: string;
  naProbThresh: string;
  overwrite?: boolean;
  json?: boolean;
  quiet?: boolean;
}

interface EvaluateCommandOptions extends SpanCommandOptions {
  readonly model: string;
  readonly data: string;
  readonly datasetConfig?: string;
  readonly split?: string;
  readonly limit?: number;
  readonly out: string;
  /** Score this predictions file instead of running a model. */
  readonly predictions?: string;
  readonly backend: BackendName;
  readonly precision: Precision;
  readonly engine: 'tfjs' | OnnxEngine;
  /** SQuAD 2.0 even for data without unanswerable rows. */
  readonly versionTwoWithNegative: boolean;
  readonly naProbs?: string;
  readonly naProbThresh: number;
  readonly overwrite: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly read: FileReadOptions;
}

/** Typed, checked options: everything checkable before a file is read. */
export async function parseEvaluateOptions(raw: RawEvaluateOptions): Promise<EvaluateCommandOptions> {
  if (raw.naProbs !== undefined && raw.predictions === undefined) {
    throw new QaFtError('BAD_ARGUMENT', '--na-probs scores a given --predictions file; it needs --predictions', {
      hint: 'running a model writes null_odds.json beside the predictions: score them with --predictions P --na-probs null_odds.json',
    });
  }
  return {
    model: raw.model,
    data: raw.data,
    ...(raw.datasetConfig === undefined ? {} : { datasetConfig: raw.datasetConfig }),
    ...(raw.split === undefined ? {} : { split: raw.split }),
    ...(raw.limit === undefined ? {} : { limit: parseIntOption('--limit', raw.limit) }),
    out: raw.out,
    ...(raw.predictions === undefined ? {} : { predictions: raw.predictions }),
    ...parseSpanOptions(raw),
    backend: asBackendName(raw.backend),
    precision: precisionOption(raw),
    engine: await parseEngine(raw.engine),
    versionTwoWithNegative: Boolean(raw.version2WithNegative),
    ...(raw.naProbs === undefined ? {} : { naProbs: raw.naProbs }),
    naProbThresh: parseNumberOption('--na-prob-thresh', raw.naProbThresh),
    overwrite: Boolean(raw.overwrite),
    json: Boolean(raw.json),
    quiet: Boolean(raw.quiet),
    read: columnOptions(raw),
  };
}

/**
 * `--data`: a prepared directory or SQuAD file, else a hub dataset id (its files resolved here, default split
 * validation).
 */
async function readExamples(
  data: string,
  split: string | undefined,
  limit: number | undefined,
  hub: ResolveOptions,
  options: { versionTwoWithNegative: boolean; read: FileReadOptions },
): Promise<EvalExamples> {
  const { readEvalExamples } = await import('../tokenize/eval-data.js');
  if (existsSync(data))
    return readEvalExamples({ path: data, ...(split === undefined ? {} : { split }) }, limit, options);
  if (/^[./~]|\.(json|jsonl|ndjson|csv|tsv|parquet|arrow)$/i.test(data)) {
    throw new QaFtError('FILE_NOT_FOUND', `--data ${data} does not exist`, {
      hint: 'pass a data file, a prepared directory, or a hub dataset id such as rajpurkar/squad',
    });
  }
  const [{ parseSplit }, { resolveDatasetFiles }] = await Promise.all([
    import('../data/split.js'),
    import('../hub/index.js'),
  ]);
  const hubSplit = split ?? 'validation';
  const files = await resolveDatasetFiles(data, parseSplit(hubSplit).name, hub);
  return readEvalExamples({ dataset: data, files, split: hubSplit }, limit, options);
}

function report(
  json: boolean,
  result: Record<string, unknown> & { exactMatch: number; f1: number; count: number },
): void {
  if (json) {
    printJson(result);
    return;
  }
  const loss = typeof result.evalLoss === 'number' ? `, eval loss ${result.evalLoss.toFixed(4)}` : '';
  process.stdout.write(
    `exact_match ${result.exactMatch.toFixed(2)}  f1 ${result.f1.toFixed(2)}  (${result.count} examples${loss})\n`,
  );
}

/** SQuAD 2.0 figures under the official script's key names (`--json` prints them as they are). */
function reportV2(json: boolean, result: SquadV2Metrics & { evalLoss?: number } & Record<string, unknown>): void {
  if (json) {
    printJson(result);
    return;
  }
  const loss = typeof result.evalLoss === 'number' ? `, eval loss ${result.evalLoss.toFixed(4)}` : '';
  const lines = [`exact ${result.exact.toFixed(2)}  f1 ${result.f1.toFixed(2)}  (${result.total} questions${loss})`];
  if (result.HasAns_total !== undefined)
    lines.push(
      `HasAns_exact ${result.HasAns_exact?.toFixed(2)}  HasAns_f1 ${result.HasAns_f1?.toFixed(2)}  (${result.HasAns_total} with an answer)`,
    );
  if (result.NoAns_total !== undefined)
    lines.push(
      `NoAns_exact ${result.NoAns_exact?.toFixed(2)}  NoAns_f1 ${result.NoAns_f1?.toFixed(2)}  (${result.NoAns_total} without)`,
    );
  if (result.best_exact !== undefined) {
    lines.push(
      `best_exact ${result.best_exact.toFixed(2)} (thresh ${result.best_exact_thresh})  best_f1 ${result.best_f1?.toFixed(2)} (thresh ${result.best_f1_thresh})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `--engine`: `tfjs` (the model on --backend), or an ONNX engine's name (src/onnx/session.ts). */
async function parseEngine(engine: string): Promise<'tfjs' | OnnxEngine> {
  if (engine === 'tfjs') return engine;
  const { ONNX_ENGINES } = await import('../onnx/session.js');
  const onnx = Object.keys(ONNX_ENGINES).find((k): k is OnnxEngine => k === engine);
  if (onnx === undefined)
    throw new QaFtError('BAD_ARGUMENT', `--engine ${engine}: expected tfjs, ${Object.keys(ONNX_ENGINES).join(' or ')}`);
  return onnx;
}

/** An export's ONNX file on onnxruntime-node, with the directory's tokenizer. */
async function openOnnxDir(dir: string, engine: OnnxEngine): Promise<{ model: QaModel; tokenizer: QaTokenizer }> {
  const [{ openOnnxExport }, { loadTokenizer }] = await Promise.all([
    import('../onnx/session.js'),
    import('../tokenize/tokenizer.js'),
  ]);
  const model = await openOnnxExport(dir, engine);
  try {
    return { model, tokenizer: await loadTokenizer(dir) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Scores `o.predictions` against the examples (the official scripts' job). */
async function scorePredictions(
  o: EvaluateCommandOptions,
  predictionsFile: string,
  examples: EvalExamples,
): Promise<void> {
  const [{ readNaProbsFile, readPredictionsFile }, { referencesOf, squadMetrics, unansweredIds }, { squadV2Metrics }] =
    await Promise.all([
      import('../infer/predictions-file.js'),
      import('../infer/squad-metric.js'),
      import('../infer/squad-v2-metric.js'),
    ]);
  const predictions = await readPredictionsFile(predictionsFile);
  const references = referencesOf(examples.rows);
  const source = { predictions: predictionsFile, data: examples.source };
  const metrics = examples.versionTwoWithNegative
    ? squadV2Metrics(
        predictions,
        references,
        o.naProbs === undefined ? undefined : await readNaProbsFile(o.naProbs),
        o.naProbThresh,
      )
    : squadMetrics(predictions, references);
  const unanswered = unansweredIds(predictions, references);
  if (unanswered.length > 0) {
    const shown =
      unanswered
        .slice(0, 3)
        .map((id) => `'${id}'`)
        .join(', ') + (unanswered.length > 3 ? ', …' : '');
    info(
      `warning: ${unanswered.length} of ${examples.rows.length} questions have no answer in ${predictionsFile} and score 0 (unanswered: ${shown})`,
    );
  }
  if ('exact' in metrics) reportV2(o.json, { ...metrics, ...source });
  else report(o.json, { ...metrics, ...source });
}

/** Runs the model over the examples, writes the prediction files and reports the metrics. */
async function runModel(
  o: EvaluateCommandOptions,
  examples: EvalExamples,
  hub: ResolveOptions,
  progress: ProgressReporter,
): Promise<void> {
  const [{ openModelDir }, { evalFeatures }, { evaluateModel }, { writePredictionFiles }] = await Promise.all([
    import('../infer/model-dir.js'),
    import('../tokenize/eval-data.js'),
    import('../infer/evaluate.js'),
    import('../infer/predictions-file.js'),
  ]);
  const dir = await resolveModelOption(o.model, hub);
  progress.stop();
  const { model, tokenizer } =
    o.engine === 'tfjs'
      ? await openModelDir(dir, { backend: o.backend, precision: o.precision, onNotice: info })
      : await openOnnxDir(dir, o.engine);
  const onProgress =
    (label: string) =>
    (done: number, total: number): void => {
      if (done === 0) progress.start(label, total);
      else progress.update(done);
    };
  try {
    const features = await evalFeatures(
      examples,
      tokenizer,
      model.config,
      { maxLength: o.maxLength, docStride: o.docStride },
      onProgress('Tokenizing'),
    );
    const result = await evaluateModel(model, examples.rows, features, {
      batchSize: o.batchSize,
      maxAnswerLength: o.maxAnswerLength,
      nBest: o.nBest,
      versionTwoWithNegative: examples.versionTwoWithNegative,
      nullScoreDiffThreshold: o.nullScoreDiffThreshold,
      onProgress: onProgress('Evaluating'),
    });
    progress.stop();
    const files = await writePredictionFiles(o.out, result);
    if (result.squadV2 !== undefined) {
      reportV2(o.json, { ...result.squadV2, evalLoss: result.evalLoss, ...files, data: examples.source });
      return;
    }
    report(o.json, {
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

async function run(raw: RawEvaluateOptions): Promise<void> {
  const o = await parseEvaluateOptions(raw);
  // --out is checked before anything is read or run (and again for null_odds.json once the data says SQuAD 2.0)
  const { checkPredictionTargets } = await import('../infer/predictions-file.js');
  const checkOut = (versionTwoWithNegative: boolean): Promise<void> =>
    o.predictions === undefined
      ? checkPredictionTargets(o.out, { overwrite: o.overwrite, versionTwoWithNegative })
      : Promise.resolve();
  await checkOut(o.versionTwoWithNegative);

  const progress = createProgress({ quiet: o.json || o.quiet });
  const hub = hubResolveOptions(raw, downloadProgress(progress));
  const hubData = o.datasetConfig === undefined ? hub : { ...hub, config: o.datasetConfig };
  const examples = await readExamples(o.data, o.split, o.limit, hubData, {
    versionTwoWithNegative: o.versionTwoWithNegative,
    read: o.read,
  });
  progress.stop();
  if (examples.notice !== undefined && !o.json) info(examples.notice);
  if (examples.versionTwoWithNegative && !o.versionTwoWithNegative) await checkOut(true);
  if (o.naProbs !== undefined && !examples.versionTwoWithNegative) {
    throw new QaFtError('BAD_ARGUMENT', '--na-probs applies to SQuAD 2.0 scoring only', {
      hint: 'pass --version-2-with-negative',
    });
  }
  if (o.predictions !== undefined) return scorePredictions(o, o.predictions, examples);
  return runModel(o, examples, hub, progress);
}

/** The library's option fields as this command's flags (the rest are the fields in kebab case). */
const EVALUATE_FLAGS = flagNames({
  predictionsPath: '--out',
  inputs: '--data', // a local file instead of a hub dataset
  config: '--dataset-config', // the hub's dataset config
  versionTwoWithNegative: '--version-2-with-negative',
  ...COLUMN_FLAGS,
});

export function evaluateCommand(): Command {
  const command = new Command('evaluate')
    .description('predict answers for SQuAD examples and print the official SQuAD v1.1 (or 2.0) exact match and F1')
    .requiredOption(
      '--data <path>',
      'a prepared directory (qa-ft prepare), a data file (JSON Lines, JSON, SQuAD JSON, CSV, TSV, Parquet, Arrow; columns as prepare), or a hub dataset id',
    )
    .option('--dataset-config <name>', 'the config (subset) of a hub dataset --data')
    .option('--model <dir>', 'model directory or hub id', DEFAULT_MODEL_DIR)
    .option(
      '--split <spec>',
      "prepared directory: 'test' (default) or 'train'; file: a slice such as 'train[:500]'; hub: default 'validation'",
    )
    .option('--limit <n>', 'evaluate only the first N examples')
    .option(
      '--out <file>',
      'where to write {id: answer}; nbest_predictions.json goes beside it (an existing one needs --overwrite)',
      'predictions.json',
    )
    .option('--overwrite', 'replace the prediction files of an earlier evaluate at --out (never other files)')
    .option('--predictions <file>', 'score this predictions file against --data instead of running a model')
    .option(
      '--engine <name>',
      'tfjs (the model on --backend), or onnx / onnx-q8: the fp32 / q8 file of a qa-ft export --onnx directory on onnxruntime-node',
      'tfjs',
    )
    .option(
      '--version-2-with-negative',
      'SQuAD 2.0: questions may have no answer; predict "" when the null score wins, score by the official 2.0 metric',
    )
    .option(
      '--na-probs <file>',
      'SQuAD 2.0, with --predictions: no-answer probabilities {id: p} (e.g. null_odds.json) for best_exact/best_f1',
    )
    .option(
      '--na-prob-thresh <p>',
      'SQuAD 2.0: a question whose no-answer probability exceeds p counts as unanswered (the official default)',
      String(DEFAULTS.naProbThresh),
    )
    .option('--json', 'print the metrics as JSON')
    .option('--quiet', 'no progress bars');
  return addHubOptions(
    addColumnOptions(addBf16Option(addBackendOption(addSpanOptions(command, { nBest: true })))),
  ).action(async (raw: RawEvaluateOptions) => {
    await flagged(EVALUATE_FLAGS, () => run(raw)); // the library's option fields are this command's flags
  });
}
