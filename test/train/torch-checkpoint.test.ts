/**
 * The Trainer's checkpoint files that qa-ft writes without Python (src/train/torch-save.ts, hf-trainer-files.ts),
 * against what PyTorch wrote: optimizer.pt and scheduler.pt of transformers' Trainer after 3 steps of a tiny
 * DistilBERT-QA, and each family's named_parameters() order and decayed names
 * (fixtures/make_torch_checkpoint.py, torch 2.13 + transformers 5.18). Both files are read by test/helpers/torch-load.ts.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isDecayed } from '../../src/train/optimizer.js';
import { parseModelConfig } from '../../src/model/config.js';
import { parameterShapes } from '../../src/model/weights.js';
import { learningRateAt } from '../../src/train/schedule.js';
import {
  hfTrainerStateJson,
  torchParameterOrder,
  writeHfOptimizerFiles,
  type OptimizerSettings,
} from '../../src/train/hf-trainer-files.js';
import { FloatTensor, int, PyTuple, torchSave } from '../../src/train/torch-save.js';
import { makeTempDir, repoRoot } from '../helpers/cli.js';
import { torchLoad, type Loaded } from '../helpers/torch-load.js';

const FIXTURE_DIR = join(repoRoot, 'test', 'train', 'fixtures', 'torch-checkpoint');

interface Fixture {
  settings: {
    learning_rate: number;
    weight_decay: number;
    adam_beta1: number;
    adam_beta2: number;
    adam_epsilon: number;
    warmup_steps: number;
    max_steps: number;
    steps_taken: number;
  };
  groups: string[][];
  shapes: Record<string, number[]>;
  families: Record<string, { config: Record<string, unknown>; named_parameters: string[]; decayed: string[] }>;
}

let fx: Fixture;
let dir = '';
let cleanup: () => Promise<void> = async () => {};
before(async () => {
  fx = JSON.parse(await readFile(join(FIXTURE_DIR, 'fixture.json'), 'utf8')) as Fixture;
  ({ dir, cleanup } = await makeTempDir('qa-ft-torch-save-'));
});
after(() => cleanup());

type Tensor = { tensor: { data: number[]; shape: number[] } };
const get = (m: Loaded, k: string | number): Loaded => (m as Map<unknown, Loaded>).get(k) as Loaded;

test("torch's optimizer.pt reads back as the Trainer's AdamW state: two groups, the fixture's parameters, step 3", async () => {
  const { value } = await torchLoad(join(FIXTURE_DIR, 'optimizer.pt'));
  const groups = get(value, 'param_groups') as Map<string, Loaded>[];
  assert.deepEqual(
    groups.map((g) => (g.get('params') as { int: number }[]).length),
    fx.groups.map((g) => g.length),
  );
  assert.deepEqual(
    groups.map((g) => g.get('weight_decay')),
    [fx.settings.weight_decay, 0],
  );
  const first = get(get(value, 'state'), 0);
  assert.deepEqual((get(first, 'step') as Tensor).tensor, {
    storage: '0',
    offset: 0,
    shape: [],
    stride: [],
    data: [fx.settings.steps_taken],
  });
  assert.deepEqual((get(first, 'exp_avg') as Tensor).tensor.shape, fx.shapes[fx.groups[0]?.[0] as string]);
});

test("qa-ft's optimizer.pt and scheduler.pt equal PyTorch's, value for value, given the same moments and settings", async () => {
  const torchOptimizer = (await torchLoad(join(FIXTURE_DIR, 'optimizer.pt'))).value;
  const torchScheduler = (await torchLoad(join(FIXTURE_DIR, 'scheduler.pt'))).value;
  // the moments by HF name (ids count through the groups), and qa-ft's shapes of the same config
  const moments = new Map<string, { shape: number[]; data: Float32Array }>();
  fx.groups.flat().forEach((name, id) => {
    for (const k of ['exp_avg', 'exp_avg_sq']) {
      const t = (get(get(get(torchOptimizer, 'state'), id), k) as Tensor).tensor;
      moments.set(`${name}.${k}`, { shape: t.shape, data: Float32Array.from(t.data) });
    }
  });
  const config = parseModelConfig(
    {
      model_type: 'distilbert',
      vocab_size: 20,
      dim: 8,
      n_layers: 1,
      n_heads: 2,
      hidden_dim: 16,
      max_position_embeddings: 16,
    },
    'fixture',
  );
  const s = fx.settings;
  const settings: OptimizerSettings = {
    learningRate: s.learning_rate,
    nextLearningRate: learningRateAt(s.steps_taken, {
      learningRate: s.learning_rate,
      totalSteps: s.max_steps,
      warmupSteps: s.warmup_steps,
    }),
    weightDecay: s.weight_decay,
    beta1: s.adam_beta1,
    beta2: s.adam_beta2,
    eps: s.adam_epsilon,
  };
  await writeHfOptimizerFiles(dir, {
    modelType: 'distilbert',
    shapes: parameterShapes(config),
    moments,
    step: s.steps_taken,
    settings,
  });
  const ours = await torchLoad(join(dir, 'optimizer.pt'));
  assert.deepEqual(ours.value, torchOptimizer);
  assert.deepEqual((await torchLoad(join(dir, 'scheduler.pt'))).value, torchScheduler);

  // the zip as torch lays it out: the same records (but the random serialization id) under the file's name, stored,
  // each record's bytes 64-byte aligned
  const theirs = await torchLoad(join(FIXTURE_DIR, 'optimizer.pt'));
  assert.equal(ours.prefix, 'optimizer/');
  assert.deepEqual(
    ours.records.map((r) => r.name),
    theirs.records.map((r) => r.name).filter((n) => !n.endsWith('serialization_id')),
  );
  for (const r of ours.records) {
    assert.equal(r.method, 0, `${r.name} stored`);
    assert.equal(r.dataOffset % 64, 0, `${r.name} aligned`);
    const t = theirs.records.find((x) => x.name === r.name);
    if (!r.name.endsWith('data.pkl')) assert.deepEqual(r.data, t?.data, r.name);
  }
});

test('every family: parameters in named_parameters() order, and the Trainer decays the same names as qa-ft', () => {
  for (const [family, f] of Object.entries(fx.families)) {
    const shapes = parameterShapes(parseModelConfig({ model_type: family, ...f.config }, `${family} fixture`));
    assert.deepEqual(torchParameterOrder(family, [...shapes.keys()]), f.named_parameters, `${family} order`);
    const decayed = [...shapes]
      .filter(([n, shape]) => isDecayed(n, shape))
      .map(([n]) => n)
      .sort();
    assert.deepEqual(decayed, f.decayed, `${family} decay`);
  }
});

test('the pickle writer: ints by size (1, 2, 4 and 8 bytes, negative), floats, strings, nested containers, tensors', async () => {
  const value = new Map<string | number, import('../../src/train/torch-save.js').PyValue>([
    ['ints', [int(0), int(255), int(256), int(65535), int(65536), int(-1), int(2 ** 31), int(-(2 ** 40))]],
    ['floats', [0.5, -0, 1e-8, 1 / 3]],
    ['text', 'µ-ünïcode'],
    [7, new PyTuple([null, true, false, new PyTuple([]), new PyTuple([int(1), int(2), int(3), int(4)])])],
    ['t', new FloatTensor([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))],
  ]);
  await torchSave(join(dir, 'misc.pt'), value);
  const back = (await torchLoad(join(dir, 'misc.pt'))).value;
  assert.deepEqual(
    get(back, 'ints'),
    [0, 255, 256, 65535, 65536, -1, 2 ** 31, -(2 ** 40)].map((n) => ({ int: n })),
  );
  assert.deepEqual(get(back, 'floats'), [0.5, -0, 1e-8, 1 / 3]);
  assert.equal(get(back, 'text'), 'µ-ünïcode');
  assert.deepEqual(get(back, 7), {
    tuple: [null, true, false, { tuple: [] }, { tuple: [1, 2, 3, 4].map((n) => ({ int: n })) }],
  });
  assert.deepEqual((get(back, 't') as Tensor).tensor, {
    storage: '0',
    offset: 0,
    shape: [2, 3],
    stride: [3, 1],
    data: [1, 2, 3, 4, 5, 6],
  });
});

test("trainer_state.json has every TrainerState field (transformers 4.57 and 5.18's) and no other", () => {
  const json = JSON.parse(
    hfTrainerStateJson({
      epoch: 1.5,
      globalStep: 12,
      maxSteps: 16,
      numTrainEpochs: 2,
      loggingSteps: 1,
      evalSteps: 4,
      saveSteps: 4,
      trainBatchSize: 8,
      logHistory: [{ step: 1, loss: 5 }],
      bestMetric: 3.5,
      bestModelCheckpoint: '/runs/out/checkpoint-8',
    }),
  ) as Record<string, unknown>;
  // the dataclass fields of TrainerState, alike in 4.57.6 and 5.18.0 (trainer_callback.py)
  assert.deepEqual(Object.keys(json).sort(), [
    'best_global_step',
    'best_metric',
    'best_model_checkpoint',
    'epoch',
    'eval_steps',
    'global_step',
    'is_hyper_param_search',
    'is_local_process_zero',
    'is_world_process_zero',
    'log_history',
    'logging_steps',
    'max_steps',
    'num_input_tokens_seen',
    'num_train_epochs',
    'save_steps',
    'stateful_callbacks',
    'total_flos',
    'train_batch_size',
    'trial_name',
    'trial_params',
  ]);
  assert.equal(json.best_global_step, 8);
  assert.equal(json.global_step, 12);
});
