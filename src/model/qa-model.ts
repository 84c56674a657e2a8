/**
 * The QaModel of src/model/types.ts for every family (families.ts, by config.json's model_type): load from / save
 * to a Hugging Face model directory (config.json + model.safetensors), build from a config alone (`--init
 * random`), forward, loss and gradients by HF name.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { selectBackend } from './backend-select.js';
import { activePrecision, setNativePrecision, type Precision } from '../engine/index.js';
import { configToJson, loadConfig, type ModelConfig } from './config.js';
import type { Family } from './family-spec.js';
import { familyOf } from './families.js';
import { disposeInputs, modelInputs, validateBatch, type ModelInputs } from './inputs.js';
import type { DropoutContext } from './layers.js';
import { lossTargets, qaLoss, type LossTargets } from './qa-head.js';
import { SafetensorsFile, writeSafetensors, type TensorSource } from './safetensors.js';
import type { QaBatch } from '../records.js';
import type { BackendName, ForwardOutput, QaModel } from './types.js';
import { checkModelFitsMemory, type MemoryPurpose } from './memory.js';
import { initialTensor, loadWeights, parameterShapes, seedFor } from './weights.js';
import { DEFAULTS } from '../defaults.js';
import { CONFIG_FILE, WEIGHTS_FILE } from '../hf-files.js';

export interface LoadOptions {
  /** Backend to activate first; omitted: whatever TF.js backend is active (selected by the caller). */
  backend?: BackendName;
  threads?: number;
  /**
   * Matmul precision (default `fp32`); `bf16` is torch.autocast(cpu, bfloat16) on the native engine (with
   * `backend: 'auto'` it selects native) and fails with the reason where it cannot run. A mode of the backend:
   * the last model loaded sets it.
   */
  precision?: Precision;
  /** One-line notices (backend choice, unused checkpoint tensors, newly initialised QA head). */
  onNotice?: (message: string) => void;
  /** Seed of the init of a missing QA head (default 42, as HF's default seed). */
  seed?: number;
  /**
   * What the model is for (default `inference`): its memory floor (memory.ts) is checked against the memory
   * available before anything is allocated.
   */
  purpose?: MemoryPurpose;
}

/** Loads `dir/config.json` + `dir/model.safetensors`. */
export async function loadQaModel(dir: string, options: LoadOptions = {}): Promise<QaModel> {
  const config = await loadConfig(dir);
  checkModelFitsMemory(config, options.purpose ?? 'inference', join(dir, CONFIG_FILE));
  await prepareBackend(options);
  const file = await SafetensorsFile.open(join(dir, WEIGHTS_FILE));
  try {
    const { params, notices } = await loadWeights(file, config, options.seed ?? DEFAULTS.seed);
    for (const n of notices) options.onNotice?.(n);
    return new EncoderQa(config, params);
  } finally {
    await file.close();
  }
}

/** A whole model from a config alone, with Hugging Face's initialisation. */
export async function createRandomQaModel(
  config: ModelConfig,
  options: {
    backend?: BackendName;
    threads?: number;
    precision?: Precision;
    seed?: number;
    onNotice?: (message: string) => void;
    purpose?: MemoryPurpose;
    /** The config's file, for errors (default `config`). */
    source?: string;
  } = {},
): Promise<QaModel> {
  checkModelFitsMemory(config, options.purpose ?? 'inference', options.source ?? 'config');
  await prepareBackend(options);
  const seed = options.seed ?? DEFAULTS.seed;
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of parameterShapes(config)) {
    const initial = initialTensor(config, name, shape, seedFor(seed, name));
    params.set(name, tf.variable(initial, true));
    initial.dispose();
  }
  return new EncoderQa(config, params);
}

async function prepareBackend(options: {
  backend?: BackendName;
  threads?: number;
  precision?: Precision;
  onNotice?: (m: string) => void;
}): Promise<void> {
  if (options.backend === undefined) {
    // Keep the caller's backend; still make sure gradients and quiet mode are set up.
    const { registerGradients } = await import('./gradients.js');
    registerGradients();
  } else {
    // bf16 runs on the native engine alone; `auto` never turns it on by itself.
    const backend = options.precision === 'bf16' && options.backend === 'auto' ? 'native' : options.backend;
    const choice = await selectBackend(backend, options.threads === undefined ? {} : { threads: options.threads });
    if (choice.notice !== undefined) options.onNotice?.(choice.notice);
  }
  setNativePrecision(options.precision ?? 'fp32');
}

class EncoderQa implements QaModel {
  readonly backend: string;
  readonly precision: Precision;
  private readonly family: Family;
  private readonly varList: tf.Variable[];
  private readonly hfNameOf: Map<string, string>; // TF.js variable name → HF name
  private disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly params: ReadonlyMap<string, tf.Variable>,
  ) {
    this.backend = tf.getBackend();
    this.precision = activePrecision();
    this.family = familyOf(config);
    this.varList = [...params.values()];
    this.hfNameOf = new Map([...params].map(([hf, v]) => [v.name, hf]));
  }

  async forward(batch: QaBatch, options: { training?: boolean } = {}): Promise<ForwardOutput> {
    const ctx = dropoutContext(options.training ?? false, undefined);
    const [start, end, loss] = this.withInputs(batch, (inp, targets) =>
      tf.tidy((): tf.Tensor[] => {
        const logits = this.family.logits(this.params, inp, ctx);
        const out: tf.Tensor[] = [logits.start, logits.end]; // [B, T] each
        if (targets !== null) out.push(qaLoss(logits.start, logits.end, targets));
        return out;
      }),
    ) as [tf.Tensor2D, tf.Tensor2D, tf.Scalar | undefined];
    try {
      const out: ForwardOutput = { startLogits: await start.array(), endLogits: await end.array() };
      if (loss !== undefined) out.loss = await loss.array();
      return out;
    } finally {
      tf.dispose([start, end, ...(loss === undefined ? [] : [loss])]);
    }
  }

  logits(batch: QaBatch): { startLogits: tf.Tensor2D; endLogits: tf.Tensor2D } {
    const ctx = dropoutContext(false, undefined);
    const { start, end } = this.withInputs(batch, (inp) => tf.tidy(() => this.family.logits(this.params, inp, ctx)));
    return { startLogits: start, endLogits: end };
  }

  lossAndGradients(
    batch: QaBatch,
    options: { training: boolean; dropoutSeed?: number },
  ): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    if (batch.startPositions === undefined || batch.endPositions === undefined) {
      throw new QaFtError('BAD_ARGUMENT', 'lossAndGradients needs a batch with startPositions and endPositions');
    }
    const ctx = dropoutContext(options.training, options.dropoutSeed);
    return this.withInputs(batch, (inp, targets) => {
      const { value, grads } = tf.variableGrads(() => {
        const { start, end } = this.family.logits(this.params, inp, ctx);
        return qaLoss(start, end, targets as LossTargets);
      }, this.varList);
      const byName = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) byName.set(this.hfNameOf.get(varName) ?? varName, g);
      return { loss: value, grads: byName };
    });
  }

  async save(dir: string): Promise<void> {
    this.assertAlive();
    const tensors = new Map<string, TensorSource>();
    for (const [name, v] of this.params)
      tensors.set(name, { shape: v.shape, data: async () => (await v.data()) as Float32Array });
    // Each file is written atomically (temp + rename) into `dir`, weights first; other files in `dir` (a
    // checkpoint's optimizer state, a tokenizer) are kept, as save_pretrained does.
    await mkdir(dir, { recursive: true });
    await writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
    await writeFileAtomic(join(dir, CONFIG_FILE), `${JSON.stringify(configToJson(this.config), null, 2)}\n`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.varList);
  }

  /** Validates the batch, builds its input tensors, runs `fn`, and disposes the inputs. */
  private withInputs<R>(batch: QaBatch, fn: (inp: ModelInputs, targets: LossTargets | null) => R): R {
    this.assertAlive();
    validateBatch(batch, this.family.inputs);
    const inp = modelInputs(this.family.inputs, batch);
    const targets =
      batch.startPositions !== undefined && batch.endPositions !== undefined
        ? lossTargets(batch.startPositions, batch.endPositions, inp.seqLen)
        : null;
    try {
      return fn(inp, targets);
    } finally {
      disposeInputs(inp);
      if (targets !== null) tf.dispose([targets.startWeights, targets.endWeights]);
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new QaFtError('BAD_ARGUMENT', 'the model was disposed');
  }
}

function dropoutContext(training: boolean, seed: number | undefined): DropoutContext {
  let next = seed ?? Math.floor(Math.random() * 2 ** 31);
  return { training, nextSeed: () => next++ };
}
