/**
 * `qa-ft train`: fine-tune a QA model (any supported family) on prepared features (the tutorial's `Trainer.train()`),
 * with evaluation each epoch, checkpoints, `--resume`, a progress bar per epoch and a Trainer-like summary table. This
 * file parses options, resolves hub ids and prints; the work is `trainPrepared` in src/train, with `evaluateModel` from
 * src/infer as its evaluation. Both are imported only when the command runs: the model, engine and training modules
 * take seconds to import, which every other command would otherwise pay at start-up.
 */
import { Command } from 'commander';
import { QaFtError, spellOptions } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { ResolveOptions } from '../hub/index.js';
import type { BackendName, Precision, QaModel } from '../model/types.js';
import type { ReportTarget, Split, TrainEvent, TrainLoopResult } from '../train/loop.js';
import {
  checkEarlyStoppingMetric,
  checkEvalEvery,
  checkLrSchedulerType,
  checkResumeOrOverwrite,
  LR_SCHEDULER_TYPES,
  trainNumber,
  type LrSchedulerType,
  type TrainNumberField,
} from '../train/options.js';
import {
  addBackendOption,
  addBf16Option,
  addHubOptions,
  asBackendName,
  DEFAULT_DATA_DIR,
  DEFAULT_MODEL_DIR,
  downloadProgress,
  flagged,
  flagNames,
  hubResolveOptions,
  precisionOption,
  type HubFlags,
} from './options.js';
import { createProgress, info, isInteractive, printJson } from './output.js';
import { hookStopSignals } from './stop-signals.js';

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
  bf16?: boolean;
  resume?: boolean;
  overwriteOutputDir?: boolean;
  evalEvery: string;
  padToMaxLength?: boolean;
  loggingSteps: string;
  version2WithNegative?: boolean;
  maxSteps?: string;
  warmupSteps?: string;
  lrSchedulerType: string;
  saveTotalLimit?: string;
  loadBestModelAtEnd?: boolean;
  metricForBestModel?: string;
  earlyStoppingPatience?: string;
  earlyStoppingThreshold: string;
  reportTo: string;
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
  readonly precision: Precision;
  readonly resume: boolean;
  readonly overwriteOutputDir: boolean;
  readonly evalEvery: 'epoch' | number;
  readonly padToMaxLength: boolean;
  readonly loggingSteps: number;
  /** SQuAD 2.0 evaluation (the null answer competing) even for data without unanswerable rows. */
  readonly versionTwoWithNegative: boolean;
  readonly maxSteps?: number;
  readonly warmupSteps?: number;
  readonly lrSchedulerType: LrSchedulerType;
  readonly saveTotalLimit?: number;
  readonly loadBestModelAtEnd: boolean;
  readonly metricForBestModel?: string;
  readonly earlyStopping?: { readonly patience: number; readonly threshold: number };
  readonly reportTo: readonly ReportTarget[];
  readonly json: boolean;
  readonly quiet: boolean;
}

/** The HF Trainer's `report_to` values qa-ft writes; `none` (HF's name for nothing) is accepted too. */
const REPORT_TARGETS: readonly ReportTarget[] = ['tensorboard'];

function parseReportTo(value: string): ReportTarget[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '' && n !== 'none');
  for (const n of names) {
    if (!(REPORT_TARGETS as readonly string[]).includes(n)) {
      throw new QaFtError('BAD_ARGUMENT', `--report-to must be 'tensorboard' or 'none', got '${n}'`);
    }
  }
  return names as ReportTarget[];
}

/** The library's option fields as this command's flags (for its errors and notices). */
const TRAIN_FLAGS = flagNames({
  learningRate: '--lr',
  outDir: '--out',
  dataDir: '--data',
  precision: '--bf16',
  versionTwoWithNegative: '--version-2-with-negative',
});

/**
 * Typed options, checked before a file is read: by the library's rules (src/train/options.ts), its errors
 * re-spelled as this command's flags.
 */
export function parseTrainOptions(raw: RawOptions): TrainCommandOptions {
  return flagged(TRAIN_FLAGS, () => parseTrainFlags(raw));
}

function parseTrainFlags(raw: RawOptions): TrainCommandOptions {
  if (raw.init !== 'pretrained' && raw.init !== 'random') {
    throw new QaFtError('BAD_ARGUMENT', `--init must be 'pretrained' or 'random', got '${raw.init}'`);
  }
  if (raw.config !== undefined && raw.init !== 'random') {
    throw new QaFtError('BAD_ARGUMENT', '--config only applies with --init random', {
      hint: 'a pretrained model brings its own config.json',
    });
  }
  const evalEvery = checkEvalEvery(raw.evalEvery);
  checkResumeOrOverwrite(raw);
  const batchSize = trainNumber('batchSize', raw.batchSize);
  checkEarlyStoppingMetric(raw.earlyStoppingPatience, raw.metricForBestModel);
  const optional = (name: TrainNumberField, value: string | undefined): number | undefined =>
    value === undefined ? undefined : trainNumber(name, value);
  const patience = optional('earlyStopping.patience', raw.earlyStoppingPatience);
  return {
    dataDir: raw.data,
    model: raw.model,
    init: raw.init,
    configFile: raw.config,
    outDir: raw.out,
    epochs: trainNumber('epochs', raw.epochs),
    learningRate: trainNumber('learningRate', raw.lr),
    batchSize,
    evalBatchSize: optional('evalBatchSize', raw.evalBatchSize) ?? batchSize,
    weightDecay: trainNumber('weightDecay', raw.weightDecay),
    warmupRatio: trainNumber('warmupRatio', raw.warmupRatio),
    maxGradNorm: trainNumber('maxGradNorm', raw.maxGradNorm),
    gradientAccumulationSteps: trainNumber('gradientAccumulationSteps', raw.gradientAccumulationSteps),
    seed: trainNumber('seed', raw.seed),
    backend: asBackendName(raw.backend),
    precision: precisionOption(raw),
    resume: Boolean(raw.resume),
    overwriteOutputDir: Boolean(raw.overwriteOutputDir),
    evalEvery,
    padToMaxLength: Boolean(raw.padToMaxLength),
    loggingSteps: trainNumber('loggingSteps', raw.loggingSteps),
    versionTwoWithNegative: Boolean(raw.version2WithNegative),
    maxSteps: optional('maxSteps', raw.maxSteps),
    warmupSteps: optional('warmupSteps', raw.warmupSteps),
    lrSchedulerType: checkLrSchedulerType(raw.lrSchedulerType),
    saveTotalLimit: optional('saveTotalLimit', raw.saveTotalLimit),
    loadBestModelAtEnd: Boolean(raw.loadBestModelAtEnd),
    metricForBestModel: raw.metricForBestModel,
    earlyStopping:
      patience === undefined
        ? undefined
        : { patience, threshold: trainNumber('earlyStopping.threshold', raw.earlyStoppingThreshold) },
    reportTo: parseReportTo(raw.reportTo),
    json: Boolean(raw.json),
    quiet: Boolean(raw.quiet),
  };
}

const fmt = (x: number | undefined, digits: number): string =>
  x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits);
const count = (n: number): string => n.toLocaleString('en-US');

/** Prints events: one progress bar per epoch, the summary table, notices. */
function makePrinter(o: TrainCommandOptions): (e: TrainEvent) => void {
  const progress = createProgress({ quiet: o.quiet });
  const interactive = isInteractive();
  const header = `${'Epoch'.padStart(5)} | ${'Training Loss'.padStart(13)} | ${'Validation Loss'.padStart(15)} | ${'Exact Match'.padStart(11)} | ${'F1'.padStart(6)}`;
  let headerShown = false;
  let v2Columns = false;
  let epochs = o.epochs;
  return (e) => {
    switch (e.type) {
      case 'start': {
        const d = e.decay;
        epochs = e.epochs;
        info(
          `AdamW: ${d.decayed.tensors} tensors decayed (${count(d.decayed.parameters)} parameters), ${d.notDecayed.tensors} not decayed (${count(d.notDecayed.parameters)} parameters: biases and LayerNorm)`,
        );
        const steps =
          o.maxSteps === undefined
            ? `${e.epochs} epochs × ${e.stepsPerEpoch} steps = ${e.totalSteps}`
            : `--max-steps ${e.totalSteps} (${e.stepsPerEpoch} per epoch)`;
        info(
          `${e.trainFeatures} train features, ${e.testFeatures} test features; ${steps} optimizer steps (batch ${o.batchSize} × accumulation ${o.gradientAccumulationSteps}, ${o.lrSchedulerType} schedule, warm-up ${e.warmupSteps}, ${o.padToMaxLength ? 'padded to max length' : 'dynamic padding, grouped by length'})`,
        );
        break;
      }
      case 'resumed':
        info(`Resuming from ${e.checkpoint} (step ${e.step}, epoch ${e.epoch})`);
        break;
      case 'notice':
        info(e.text === undefined ? e.message : spellOptions(e.text, TRAIN_FLAGS));
        break;
      case 'epoch-start':
        progress.start(`Epoch ${e.epoch}/${epochs}`, e.batches);
        if (e.skipped > 0) progress.update(e.skipped, {});
        break;
      case 'step': {
        const payload: Record<string, string | number> = {
          loss: e.loss,
          lr: e.learningRate,
          'ex/s': e.examplesPerSecond.toFixed(1),
        };
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
          v2Columns = e.eval?.eval_HasAns_f1 !== undefined || e.eval?.eval_NoAns_f1 !== undefined; // SQuAD 2.0 data
          info(
            `(validation loss: HF's unmasked QA loss over eval batches of ${o.evalBatchSize} features in order, each padded to its longest; the tutorial pads to 384)`,
          );
          info(v2Columns ? `${header} | ${'HasAns F1'.padStart(9)} | ${'NoAns F1'.padStart(8)}` : header);
          headerShown = true;
        }
        const ev = e.eval;
        const v2 = v2Columns
          ? ` | ${fmt(ev?.eval_HasAns_f1, 2).padStart(9)} | ${fmt(ev?.eval_NoAns_f1, 2).padStart(8)}`
          : '';
        info(
          `${String(e.epoch).padStart(5)} | ${fmt(e.trainingLoss, 6).padStart(13)} | ${fmt(ev?.eval_loss, 6).padStart(15)} | ${fmt(ev?.eval_exact_match, 2).padStart(11)} | ${fmt(ev?.eval_f1, 2).padStart(6)}${v2}`,
        );
        break;
      }
      case 'eval':
        if (o.evalEvery !== 'epoch') {
          const r = e.record;
          const v2 =
            r.eval_HasAns_f1 === undefined && r.eval_NoAns_f1 === undefined
              ? ''
              : `, HasAns F1 ${fmt(r.eval_HasAns_f1, 2)}, NoAns F1 ${fmt(r.eval_NoAns_f1, 2)}`;
          info(
            `eval at step ${r.step}: loss ${fmt(r.eval_loss, 4)}, EM ${fmt(r.eval_exact_match, 2)}, F1 ${fmt(r.eval_f1, 2)}${v2}`,
          );
        }
        break;
      case 'checkpoint':
        break;
      case 'early-stop':
        progress.stop();
        info(`Early stopping at step ${e.step}: ${e.metric} did not improve for ${e.patience} evaluations`);
        break;
      case 'best-loaded':
        info(`Loaded the best model, ${e.dir} (${e.metric} ${fmt(e.value, 4)})`);
        break;
      case 'saved':
        info(`Saved the model, tokenizer, metrics.jsonl and training-curves.svg to ${e.dir}`);
        break;
    }
  };
}

/** Runs the library's training with the command's hub resolution, evaluation progress bar and printing. */
async function run(
  o: TrainCommandOptions,
  hub: ResolveOptions,
  onEvent: (e: TrainEvent) => void,
  stop: { signal: AbortSignal; hook: () => void },
): Promise<TrainLoopResult> {
  const [{ resolveModel, resolveTokenizer }, { trainPrepared }, { evaluateModel, evaluationMetricNames }] =
    await Promise.all([import('../hub/index.js'), import('../train/run.js'), import('../infer/evaluate.js')]);
  const evaluate = async (m: QaModel, split: Split) => {
    const progress = createProgress({ quiet: o.quiet });
    progress.start('Evaluating', Math.ceil(split.features.length / o.evalBatchSize));
    try {
      // SQuAD 2.0 also without the flag when the data has unanswerable rows (a v2 prepared directory)
      const v2 = o.versionTwoWithNegative ? { versionTwoWithNegative: true } : {};
      return await evaluateModel(m, split.rows, split.features, {
        batchSize: o.evalBatchSize,
        ...v2,
        onProgress: (done) => progress.update(done),
      });
    } finally {
      progress.stop();
    }
  };
  return trainPrepared({
    ...o,
    modelDir: (weights) => (weights ? resolveModel : resolveTokenizer)(o.model, hub),
    onNotice: (line) => info(line),
    onModel: (model) => {
      if (!o.quiet)
        info(
          `Backend: ${model.backend}${model.precision === 'bf16' ? ' (bf16)' : ''}; model: ${o.init === 'random' ? `random init (${o.configFile ?? o.model})` : o.model}`,
        );
      // Until the model is built (downloads, reading the data, allocating the weights) a signal has its default
      // action: the process ends at once, with nothing of this run written yet.
      stop.hook();
    },
    evaluate,
    evalMetricNames: (split) =>
      evaluationMetricNames(split.rows, o.versionTwoWithNegative ? { versionTwoWithNegative: true } : {}),
    onEvent,
    stopSignal: stop.signal,
  });
}

/**
 * The command line that continues this run: the same arguments, with `--resume` (and without `--overwrite-output-dir`).
 */
function resumeCommand(argv: readonly string[]): string {
  const args = argv.slice(argv.indexOf('train') + 1).filter((a) => a !== '--overwrite-output-dir' && a !== '--resume');
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ['qa-ft', 'train', ...args, '--resume'].map(quote).join(' ');
}

export function trainCommand(): Command {
  const command = new Command('train')
    .description(
      'fine-tune a QA model on prepared data (AdamW, schedules, evaluation and checkpoints, best model, early stopping)',
    )
    .option('--data <dir>', 'prepared-data directory from `qa-ft prepare`', DEFAULT_DATA_DIR)
    .option('--model <id-or-dir>', 'model to fine-tune: a local directory or a hub id', DEFAULTS.modelId)
    .option(
      '--init <how>',
      "'pretrained' (load the model's weights) or 'random' (its config only, new weights)",
      'pretrained',
    )
    .option('--config <file>', 'with --init random: a config.json to build the model from (instead of the model’s)')
    .option('--out <dir>', 'output directory: checkpoints, metrics and the final model', DEFAULT_MODEL_DIR)
    .option('--epochs <n>', 'training epochs', String(DEFAULTS.epochs))
    .option('--lr <rate>', 'peak learning rate (AdamW, linear decay to 0)', String(DEFAULTS.learningRate))
    .option('--batch-size <n>', 'training batch size', String(DEFAULTS.batchSize))
    .option('--eval-batch-size <n>', 'evaluation batch size (default: --batch-size)')
    .option('--weight-decay <w>', 'decoupled weight decay (not on biases or LayerNorm)', String(DEFAULTS.weightDecay))
    .option('--warmup-ratio <r>', 'fraction of the steps with linear warm-up', String(DEFAULTS.warmupRatio))
    .option('--max-grad-norm <n>', 'clip the global gradient norm (0 disables)', String(DEFAULTS.maxGradNorm))
    .option(
      '--gradient-accumulation-steps <n>',
      'micro-batches per optimizer step',
      String(DEFAULTS.gradientAccumulationSteps),
    )
    .option('--seed <n>', 'seed of the shuffling, dropout and random init', String(DEFAULTS.seed))
    .option('--resume', 'continue from the newest complete, valid checkpoint of this run in --out')
    .option(
      '--overwrite-output-dir',
      "delete a previous run's checkpoints and outputs in --out first (other files are kept)",
    )
    .option(
      '--eval-every <when>',
      "evaluate and save a checkpoint after each 'epoch' or every N optimizer steps",
      'epoch',
    )
    .option('--pad-to-max-length', 'pad every batch to the max length (the tutorial) instead of dynamic padding')
    .option('--logging-steps <n>', 'write a metrics.jsonl line every N optimizer steps', String(DEFAULTS.loggingSteps))
    .option(
      '--version-2-with-negative',
      'SQuAD 2.0 evaluation: the null answer competes, HasAns/NoAns figures logged (automatic for data prepared with it)',
    )
    .option('--max-steps <n>', 'train for N optimizer steps (overrides --epochs)')
    .option('--warmup-steps <n>', 'optimizer steps of linear warm-up (overrides --warmup-ratio)')
    .option(
      '--lr-scheduler-type <type>',
      `learning-rate schedule: ${LR_SCHEDULER_TYPES.join(', ')}`,
      DEFAULTS.lrSchedulerType,
    )
    .option(
      '--save-total-limit <k>',
      'keep at most K checkpoints: the newest, and the best with --load-best-model-at-end',
    )
    .option(
      '--load-best-model-at-end',
      'the final model is the best checkpoint (by --metric-for-best-model), not the last',
    )
    .option(
      '--metric-for-best-model <name>',
      'f1, exact_match, loss, or with SQuAD 2.0 data HasAns_f1, NoAns_f1, best_f1, … (default: loss with --load-best-model-at-end)',
    )
    .option('--early-stopping-patience <n>', 'stop when the best-model metric has not improved for N evaluations')
    .option(
      '--early-stopping-threshold <t>',
      'how much the metric must improve by to count',
      String(DEFAULTS.earlyStoppingThreshold),
    )
    .option(
      '--report-to <where>',
      "also write the metrics for 'tensorboard' (event files under --out/runs), or 'none'",
      'none',
    )
    .option('--json', 'print the result (history, best metric) as JSON on stdout')
    .option('--quiet', 'no progress bars');
  return addHubOptions(addBf16Option(addBackendOption(command))).action(async (raw: RawOptions) => {
    const o = parseTrainOptions(raw);
    const print = makePrinter(o);
    const downloads = createProgress({ quiet: o.quiet });
    const hub = hubResolveOptions(raw, downloadProgress(downloads));
    const controller = new AbortController();
    let unhook = (): void => {};
    const hook = (): void => {
      unhook = hookStopSignals(() => {
        controller.abort();
        info('Stopping after this step to save a checkpoint (press Ctrl-C again to quit at once)');
      });
    };
    let result: TrainLoopResult;
    try {
      result = await flagged(TRAIN_FLAGS, () =>
        run(
          o,
          hub,
          (e) => {
            downloads.stop();
            print(e);
          },
          { signal: controller.signal, hook },
        ),
      );
    } finally {
      unhook();
    }
    if (result.interrupted) {
      throw new QaFtError(
        'INTERRUPTED',
        `stopped at step ${result.globalStep}; saved ${result.interrupted.checkpoint}`,
        {
          hint: `continue with: ${resumeCommand(process.argv)}`,
        },
      );
    }
    if (o.json) printJson(result);
  });
}
