/**
 * `qa-ft train`: fine-tune a DistilBERT-QA model on prepared features (the tutorial's `Trainer.train()`), with
 * evaluation each epoch, checkpoints, `--resume`, a progress bar per epoch and a Trainer-like summary table.
 * This file parses options, resolves hub ids and prints; the work is `trainPrepared` in src/train, with
 * `evaluateModel` from src/infer as its evaluation. Both are imported only when the command runs: the model, engine
 * and training modules take seconds to import, which every other command would otherwise pay at start-up.
 */
import { Command } from 'commander';
import { QaFtError } from '../errors.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MODEL_ID, DEFAULT_SEED } from '../defaults.js';
import type { ResolveOptions } from '../hub/index.js';
import type { BackendName, QaModel } from '../model/types.js';
import type { Split, TrainEvent, TrainLoopResult } from '../train/loop.js';
import {
  addBackendOption,
  addHubOptions,
  asBackendName,
  DEFAULT_DATA_DIR,
  DEFAULT_MODEL_DIR,
  downloadProgress,
  hubResolveOptions,
  parseNumberOption,
  type HubFlags,
} from './options.js';
import { createProgress, info, isInteractive, printJson } from './output.js';

interface RawOptions extends HubFlags {
  data: string;
  model: string;
  init: string;
  config?: string;
  out: string;
  epochs: string;
  lr: string;
  batchSize: string;
  evalBatchSize?: string;
  weightDecay: string;
  warmupRatio: string;
  maxGradNorm: string;
  gradientAccumulationSteps: string;
  seed: string;
  backend: string;
  resume?: boolean;
  overwriteOutputDir?: boolean;
  evalEvery: string;
  padToMaxLength?: boolean;
  loggingSteps: string;
  version2WithNegative?: boolean;
  json?: boolean;
  quiet?: boolean;
}

interface TrainCommandOptions {
  readonly dataDir: string;
  readonly model: string;
  readonly init: 'pretrained' | 'random';
  readonly configFile?: string;
  readonly outDir: string;
  readonly epochs: number;
  readonly learningRate: number;
  readonly batchSize: number;
  readonly evalBatchSize: number;
  readonly weightDecay: number;
  readonly warmupRatio: number;
  readonly maxGradNorm: number;
  readonly gradientAccumulationSteps: number;
  readonly seed: number;
  readonly backend: BackendName;
  readonly resume: boolean;
  readonly overwriteOutputDir: boolean;
  readonly evalEvery: 'epoch' | number;
  readonly padToMaxLength: boolean;
  readonly loggingSteps: number;
  /** SQuAD 2.0 evaluation (the null answer competing) even for data without unanswerable rows. */
  readonly versionTwoWithNegative: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
}

/** Typed, validated options: everything checkable before a file is read. */
export function parseTrainOptions(raw: RawOptions): TrainCommandOptions {
  if (raw.init !== 'pretrained' && raw.init !== 'random') {
    throw new QaFtError('BAD_ARGUMENT', `--init must be 'pretrained' or 'random', got '${raw.init}'`);
  }
  if (raw.config !== undefined && raw.init !== 'random') {
    throw new QaFtError('BAD_ARGUMENT', '--config only applies with --init random', { hint: 'a pretrained model brings its own config.json' });
  }
  const everyN = Number(raw.evalEvery);
  if (raw.evalEvery !== 'epoch' && !(Number.isInteger(everyN) && everyN >= 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--eval-every must be 'epoch' or a number of steps >= 1, got '${raw.evalEvery}'`);
  }
  if (raw.resume && raw.overwriteOutputDir) {
    throw new QaFtError('BAD_ARGUMENT', '--resume and --overwrite-output-dir contradict each other: one continues the run in --out, the other deletes it', {
      hint: 'pass one of them',
    });
  }
  const evalEvery = raw.evalEvery === 'epoch' ? 'epoch' : everyN;
  const batchSize = parseNumberOption('--batch-size', raw.batchSize, { int: true, min: 1 });
  return {
    dataDir: raw.data,
    model: raw.model,
    init: raw.init,
    configFile: raw.config,
    outDir: raw.out,
    epochs: parseNumberOption('--epochs', raw.epochs, { int: true, min: 1 }),
    learningRate: parseNumberOption('--lr', raw.lr, { min: 0, minExclusive: true }),
    batchSize,
    evalBatchSize: raw.evalBatchSize === undefined ? batchSize : parseNumberOption('--eval-batch-size', raw.evalBatchSize, { int: true, min: 1 }),
    weightDecay: parseNumberOption('--weight-decay', raw.weightDecay, { min: 0 }),
    warmupRatio: parseNumberOption('--warmup-ratio', raw.warmupRatio, { min: 0, max: 1 }),
    maxGradNorm: parseNumberOption('--max-grad-norm', raw.maxGradNorm, { min: 0 }),
    gradientAccumulationSteps: parseNumberOption('--gradient-accumulation-steps', raw.gradientAccumulationSteps, { int: true, min: 1 }),
    seed: parseNumberOption('--seed', raw.seed, { int: true, min: 0 }),
    backend: asBackendName(raw.backend),
    resume: Boolean(raw.resume),
    overwriteOutputDir: Boolean(raw.overwriteOutputDir),
    evalEvery,
    padToMaxLength: Boolean(raw.padToMaxLength),
    loggingSteps: parseNumberOption('--logging-steps', raw.loggingSteps, { int: true, min: 1 }),
    versionTwoWithNegative: Boolean(raw.version2WithNegative),
    json: Boolean(raw.json),
    quiet: Boolean(raw.quiet),
  };
}

const fmt = (x: number | undefined, digits: number): string => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
const count = (n: number): string => n.toLocaleString('en-US');

/** Prints events: one progress bar per epoch, the summary table, notices. */
function makePrinter(o: TrainCommandOptions): (e: TrainEvent) => void {
  const progress = createProgress({ quiet: o.quiet });
  const interactive = isInteractive();
  const header = `${'Epoch'.padStart(5)} | ${'Training Loss'.padStart(13)} | ${'Validation Loss'.padStart(15)} | ${'Exact Match'.padStart(11)} | ${'F1'.padStart(6)}`;
  let headerShown = false;
  return (e) => {
    switch (e.type) {
      case 'start': {
        const d = e.decay;
        info(`AdamW: ${d.decayed.tensors} tensors decayed (${count(d.decayed.parameters)} parameters), ${d.notDecayed.tensors} not decayed (${count(d.notDecayed.parameters)} parameters: biases and LayerNorm)`);
        info(`${e.trainFeatures} train features, ${e.testFeatures} test features; ${o.epochs} epochs × ${e.stepsPerEpoch} steps = ${e.totalSteps} optimizer steps (batch ${o.batchSize} × accumulation ${o.gradientAccumulationSteps}, warm-up ${e.warmupSteps}, ${o.padToMaxLength ? 'padded to max length' : 'dynamic padding, grouped by length'})`);
        break;
      }
      case 'resumed':
        info(`Resuming from ${e.checkpoint} (epoch ${e.epoch} done, step ${e.step})`);
        break;
      case 'notice':
        info(e.message);
        break;
      case 'epoch-start':
        progress.start(`Epoch ${e.epoch}/${o.epochs}`, e.batches);
        break;
      case 'step': {
        const payload: Record<string, string | number> = { loss: e.loss, lr: e.learningRate, 'ex/s': e.examplesPerSecond.toFixed(1) };
        if (!interactive) payload.eta = `${Math.round(e.etaSeconds)}s`;
        progress.update(e.batch, payload);
        break;
      }
      case 'eval-start':
        progress.stop();
        break;
      case 'epoch-end': {
        progress.stop();
        if (!headerShown) {
          info(header);
          headerShown = true;
        }
        const ev = e.eval;
        info(`${String(e.epoch).padStart(5)} | ${fmt(e.trainingLoss, 6).padStart(13)} | ${fmt(ev?.eval_loss, 6).padStart(15)} | ${fmt(ev?.eval_exact_match, 2).padStart(11)} | ${fmt(ev?.eval_f1, 2).padStart(6)}`);
        break;
      }
      case 'eval':
        if (o.evalEvery !== 'epoch') {
          const r = e.record;
          info(`eval at step ${r.step}: loss ${fmt(r.eval_loss, 4)}, EM ${fmt(r.eval_exact_match, 2)}, F1 ${fmt(r.eval_f1, 2)}`);
        }
        break;
      case 'checkpoint':
        break;
      case 'saved':
        info(`Saved the model, tokenizer, metrics.jsonl and training-curves.svg to ${e.dir}`);
        break;
    }
  };
}

/** Runs the library's training with the command's hub resolution, evaluation progress bar and printing. */
async function run(o: TrainCommandOptions, hub: ResolveOptions, onEvent: (e: TrainEvent) => void): Promise<TrainLoopResult> {
  const [{ resolveModel, resolveTokenizer }, { trainPrepared }, { evaluateModel }] = await Promise.all([
    import('../hub/index.js'),
    import('../train/run.js'),
    import('../infer/evaluate.js'),
  ]);
  const evaluate = async (m: QaModel, split: Split) => {
    const progress = createProgress({ quiet: o.quiet });
    progress.start('Evaluating', Math.ceil(split.features.length / o.evalBatchSize));
    try {
      // SQuAD 2.0 also without the flag when the data has unanswerable rows (a v2 prepared directory)
      const v2 = o.versionTwoWithNegative ? { versionTwoWithNegative: true } : {};
      return await evaluateModel(m, split.rows, split.features, { batchSize: o.evalBatchSize, ...v2, onProgress: (done) => progress.update(done) });
    } finally {
      progress.stop();
    }
  };
  return trainPrepared({
    ...o,
    modelDir: (weights) => (weights ? resolveModel : resolveTokenizer)(o.model, hub),
    onNotice: (line) => info(line),
    onModel: (model) => {
      if (!o.quiet) info(`Backend: ${model.backend}; model: ${o.init === 'random' ? `random init (${o.configFile ?? o.model})` : o.model}`);
    },
    evaluate,
    onEvent,
  });
}

export function trainCommand(): Command {
  const command = new Command('train')
    .description('fine-tune a DistilBERT QA model on prepared data (AdamW, linear decay, eval each epoch, checkpoints)')
    .option('--data <dir>', 'prepared-data directory from `qa-ft prepare`', DEFAULT_DATA_DIR)
    .option('--model <id-or-dir>', 'model to fine-tune: a local directory or a hub id', DEFAULT_MODEL_ID)
    .option('--init <how>', "'pretrained' (load the model's weights) or 'random' (its config only, new weights)", 'pretrained')
    .option('--config <file>', 'with --init random: a config.json to build the model from (instead of the model’s)')
    .option('--out <dir>', 'output directory: checkpoints, metrics and the final model', DEFAULT_MODEL_DIR)
    .option('--epochs <n>', 'training epochs', '3')
    .option('--lr <rate>', 'peak learning rate (AdamW, linear decay to 0)', '2e-5')
    .option('--batch-size <n>', 'training batch size', String(DEFAULT_BATCH_SIZE))
    .option('--eval-batch-size <n>', 'evaluation batch size (default: --batch-size)')
    .option('--weight-decay <w>', 'decoupled weight decay (not on biases or LayerNorm)', '0.01')
    .option('--warmup-ratio <r>', 'fraction of the steps with linear warm-up', '0')
    .option('--max-grad-norm <n>', 'clip the global gradient norm (0 disables)', '1.0')
    .option('--gradient-accumulation-steps <n>', 'micro-batches per optimizer step', '1')
    .option('--seed <n>', 'seed of the shuffling, dropout and random init', String(DEFAULT_SEED))
    .option('--resume', 'continue from the newest complete checkpoint in --out')
    .option('--overwrite-output-dir', "delete a previous run's checkpoints and outputs in --out first (other files are kept)")
    .option('--eval-every <when>', "'epoch' or every N optimizer steps", 'epoch')
    .option('--pad-to-max-length', 'pad every batch to the max length (the tutorial) instead of dynamic padding')
    .option('--logging-steps <n>', 'write a metrics.jsonl line every N optimizer steps', '10')
    .option('--version-2-with-negative', 'SQuAD 2.0 evaluation: the null answer competes, HasAns/NoAns figures logged (automatic for data prepared with it)')
    .option('--json', 'print the result (history, best metric) as JSON on stdout')
    .option('--quiet', 'no progress bars');
  return addHubOptions(addBackendOption(command)).action(async (raw: RawOptions) => {
    const o = parseTrainOptions(raw);
    const print = makePrinter(o);
    const downloads = createProgress({ quiet: o.quiet });
    const hub = hubResolveOptions(raw, downloadProgress(downloads));
    const result = await run(o, hub, (e) => {
      downloads.stop();
      print(e);
    });
    if (o.json) printJson(result);
  });
}
