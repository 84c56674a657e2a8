/**
 * The files transformers' Trainer reads to continue a checkpoint (`trainer.train(resume_from_checkpoint=DIR)`),
 * written beside qa-ft's own: `trainer_state.json` (its `TrainerState`), `optimizer.pt` (PyTorch AdamW's
 * `state_dict()`: per parameter `step`, `exp_avg`, `exp_avg_sq`, and the Trainer's two parameter groups, decayed
 * then not, each in `named_parameters()` order) and `scheduler.pt` (the `LambdaLR` of its schedule after
 * `global_step` steps), the last two through torch-save.ts.
 *
 * Not written: `training_args.bin` (a pickled `TrainingArguments` object, which the Trainer saves but never reads
 * back: a resumed run takes its arguments from the script) and `rng_state.pth` (optional: without it the Trainer
 * logs that the data order's randomness is not restored, and goes on; qa-ft's RNG is not PyTorch's anyway).
 */
import { join } from 'node:path';
import { QA_OUTPUTS } from '../model/qa-head.js';
import { isDecayed } from './optimizer.js';
import { FloatTensor, int, PyTuple, torchSave, type PyDict, type PyValue } from './torch-save.js';

export const HF_TRAINER_STATE_FILE = 'trainer_state.json';
export const HF_OPTIMIZER_FILE = 'optimizer.pt';
export const HF_SCHEDULER_FILE = 'scheduler.pt';

/** AdamW's settings and the schedule's rates at the checkpoint. */
export interface OptimizerSettings {
  /** The schedule's peak rate (`initial_lr`, the scheduler's `base_lrs`). */
  readonly learningRate: number;
  /** The rate of the next optimizer step: the schedule's at `global_step` (the groups' `lr`, `_last_lr`). */
  readonly nextLearningRate: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/**
 * The parameter names in PyTorch's `named_parameters()` order (module registration order) for `modelType`, from
 * qa-ft's order. They agree except where transformers registers a module out of its forward order: RoBERTa-style
 * embeddings put `position_embeddings` after `LayerNorm`, ALBERT's layer puts `full_layer_layer_norm` first, and
 * XLM-RoBERTa's and CamemBERT's QA classes register `qa_outputs` before the encoder (transformers 5.18).
 */
export function torchParameterOrder(modelType: string, names: readonly string[]): string[] {
  const rank = (name: string): number => {
    if (
      (modelType === 'roberta' || modelType === 'xlm-roberta' || modelType === 'camembert') &&
      name.endsWith('.embeddings.position_embeddings.weight')
    )
      return 1;
    if (modelType === 'albert' && /\.albert_layers\.\d+\.full_layer_layer_norm\./.test(name)) return -1;
    return 0;
  };
  // stable sort within each block: the embeddings' (RoBERTa) or each ALBERT layer's parameters
  const block = (name: string): string => name.replace(/\.(embeddings|albert_layers\.\d+)\..*$/, '.$1');
  const out = [...names];
  const index = new Map(names.map((n, i) => [n, i]));
  out.sort((a, b) => {
    const ba = block(a),
      bb = block(b);
    if (ba !== bb || ba === a) return (index.get(a) as number) - (index.get(b) as number);
    return rank(a) - rank(b) || (index.get(a) as number) - (index.get(b) as number);
  });
  if (modelType !== 'xlm-roberta' && modelType !== 'camembert') return out;
  const head = (n: string) => n.startsWith(`${QA_OUTPUTS}.`);
  return [...out.filter(head), ...out.filter((n) => !head(n))];
}

/** The Trainer's groups: names decayed, then not, each in `named_parameters()` order. */
export function parameterGroups(
  modelType: string,
  shapes: ReadonlyMap<string, readonly number[]>,
): [string[], string[]] {
  const ordered = torchParameterOrder(modelType, [...shapes.keys()]);
  return [
    ordered.filter((n) => isDecayed(n, shapes.get(n) as readonly number[])),
    ordered.filter((n) => !isDecayed(n, shapes.get(n) as readonly number[])),
  ];
}

/**
 * PyTorch AdamW's `state_dict()` as the Trainer's optimizer (torch 2.13's `adamw_torch_fused`, its default) holds
 * it after `step` updates: parameters are numbered through the groups in order; a parameter without moments has no
 * state, as in torch before its first gradient.
 */
export function optimizerStateDict(
  modelType: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  moments: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  step: number,
  s: OptimizerSettings,
): PyDict {
  const groups = parameterGroups(modelType, shapes);
  const state = new Map<number, PyValue>();
  let id = 0;
  const groupDicts = groups.map((names, g) => {
    const ids: PyValue[] = [];
    for (const name of names) {
      const m = moments.get(`${name}.exp_avg`);
      const v = moments.get(`${name}.exp_avg_sq`);
      if (m && v) {
        state.set(
          id,
          new Map<string, PyValue>([
            ['step', new FloatTensor([], Float32Array.of(step))],
            ['exp_avg', new FloatTensor(m.shape, m.data)],
            ['exp_avg_sq', new FloatTensor(v.shape, v.data)],
          ]),
        );
      }
      ids.push(int(id++));
    }
    return new Map<string, PyValue>([
      ['weight_decay', g === 0 ? s.weightDecay : 0],
      ['lr', s.nextLearningRate],
      ['betas', new PyTuple([s.beta1, s.beta2])],
      ['eps', s.eps],
      ['amsgrad', false],
      ['maximize', false],
      ['foreach', null],
      ['capturable', false],
      ['differentiable', false],
      ['fused', true],
      ['decoupled_weight_decay', true],
      ['initial_lr', s.learningRate],
      ['params', ids],
    ]);
  });
  return new Map<string, PyValue>([
    ['state', state],
    ['param_groups', groupDicts],
  ]);
}

/** `LambdaLR.state_dict()` after `step` scheduler steps (one lambda per group; HF's lambdas are partials: `{}`). */
export function schedulerStateDict(step: number, s: OptimizerSettings, groups = 2): PyDict {
  const each = <T extends PyValue>(v: () => T): T[] => Array.from({ length: groups }, v);
  return new Map<string, PyValue>([
    ['base_lrs', each(() => s.learningRate)],
    ['last_epoch', int(step)],
    ['_step_count', int(step + 1)],
    ['_is_initial', false],
    ['_get_lr_called_within_step', false],
    ['_last_lr', each(() => s.nextLearningRate)],
    ['lr_lambdas', each(() => new Map())],
  ]);
}

/** The run's step counts that transformers' `TrainerState` records (its arguments of the same names). */
export interface HfRunFields {
  readonly maxSteps: number;
  readonly numTrainEpochs: number;
  readonly loggingSteps: number;
  readonly evalSteps: number;
  readonly saveSteps: number;
  readonly trainBatchSize: number;
}

/** What `TrainerState` holds that qa-ft's loop knows. */
export interface HfTrainerStateFields extends HfRunFields {
  readonly epoch: number;
  readonly globalStep: number;
  readonly logHistory: readonly object[];
  readonly bestMetric: number | null;
  readonly bestModelCheckpoint: string | null;
}

/** `trainer_state.json` as `TrainerState.save_to_json` writes it (sorted keys, indent 2), which 4.57 and 5.x load. */
export function hfTrainerStateJson(f: HfTrainerStateFields): string {
  const bestStep =
    f.bestModelCheckpoint === null ? null : Number(/checkpoint-(\d+)\/?$/.exec(f.bestModelCheckpoint)?.[1] ?? NaN);
  const state: Record<string, unknown> = {
    best_global_step: bestStep === null || Number.isNaN(bestStep) ? null : bestStep,
    best_metric: f.bestMetric,
    best_model_checkpoint: f.bestModelCheckpoint,
    epoch: f.epoch,
    eval_steps: f.evalSteps,
    global_step: f.globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: f.logHistory,
    logging_steps: f.loggingSteps,
    max_steps: f.maxSteps,
    num_input_tokens_seen: 0,
    num_train_epochs: f.numTrainEpochs,
    save_steps: f.saveSteps,
    stateful_callbacks: {
      TrainerControl: {
        args: {
          should_epoch_stop: false,
          should_evaluate: false,
          should_log: false,
          should_save: true,
          should_training_stop: false,
        },
        attributes: {},
      },
    },
    total_flos: 0,
    train_batch_size: f.trainBatchSize,
    trial_name: null,
    trial_params: null,
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Writes `optimizer.pt` and `scheduler.pt` into `dir`. */
export async function writeHfOptimizerFiles(
  dir: string,
  parts: {
    modelType: string;
    shapes: ReadonlyMap<string, readonly number[]>;
    moments: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
    step: number;
    settings: OptimizerSettings;
  },
): Promise<void> {
  await torchSave(
    join(dir, HF_OPTIMIZER_FILE),
    optimizerStateDict(parts.modelType, parts.shapes, parts.moments, parts.step, parts.settings),
  );
  await torchSave(join(dir, HF_SCHEDULER_FILE), schedulerStateDict(parts.step, parts.settings));
}
