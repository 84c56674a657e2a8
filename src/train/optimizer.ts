/**
 * The AdamW optimizer of training: PyTorch's `torch.optim.AdamW` (decoupled weight decay, not on biases or
 * LayerNorm), hand-written because TF.js's `tf.train.adam` has no decoupled decay, uses eps 1e-7 and keys state by
 * position. State (m, v) is keyed by Hugging Face parameter name, created on the first update as torch does; each
 * parameter's update is the engine's `adamwUpdate` op (src/engine/adamw.ts states the formula).
 */
import * as tf from '@tensorflow/tfjs-core';
import { adamwUpdate } from '../engine/ops.js';
import { QaFtError } from '../errors.js';
import { isLayerNorm } from '../model/weights.js';

export interface AdamWOptions {
  readonly weightDecay: number;
  readonly beta1?: number; // 0.9, HF TrainingArguments.adam_beta1
  readonly beta2?: number; // 0.999, HF TrainingArguments.adam_beta2
  readonly eps?: number; // 1e-8, HF TrainingArguments.adam_epsilon (TF.js Adam would use 1e-7)
}

/** HF Trainer's rule (nanoGPT's too): decay only ≥2-D weights; never biases or LayerNorm parameters. */
export function isDecayed(name: string, shape: readonly number[]): boolean {
  if (shape.length < 2) return false;
  return !name.endsWith('bias') && !isLayerNorm(name);
}

export interface DecaySummary {
  readonly decayed: { readonly tensors: number; readonly parameters: number };
  readonly notDecayed: { readonly tensors: number; readonly parameters: number };
}

export function decaySummary(params: ReadonlyMap<string, tf.Variable>): DecaySummary {
  const decayed = { tensors: 0, parameters: 0 };
  const notDecayed = { tensors: 0, parameters: 0 };
  for (const [name, p] of params) {
    const group = isDecayed(name, p.shape) ? decayed : notDecayed;
    group.tensors += 1;
    group.parameters += p.size;
  }
  return { decayed, notDecayed };
}

interface Moments {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

/** Serialised optimizer state: `step` and, per parameter NAME, `<name>.exp_avg` / `<name>.exp_avg_sq`. */
export interface AdamWState {
  readonly step: number;
  readonly tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Completed updates (torch's `state['step']`, the same for every parameter here). */
  private stepCount = 0;
  private readonly moments = new Map<string, Moments>();

  constructor(
    private readonly params: ReadonlyMap<string, tf.Variable>,
    options: AdamWOptions,
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay;
    for (const [key, value] of Object.entries({ beta1: this.beta1, beta2: this.beta2 })) {
      if (!(value >= 0 && value < 1))
        throw new QaFtError('BAD_ARGUMENT', `AdamW ${key} must be in [0, 1), got ${value}`);
    }
    if (!(this.eps > 0)) throw new QaFtError('BAD_ARGUMENT', `AdamW eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) {
      throw new QaFtError('BAD_ARGUMENT', `weight decay must be >= 0, got ${this.weightDecay}`);
    }
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One update of every parameter that has a gradient (a parameter without one is skipped, as torch skips
   * `grad is None`). `gradScale` is the clipping coefficient. The caller still owns and disposes `grads`.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, hyper: { learningRate: number; gradScale?: number }): void {
    const lr = hyper.learningRate;
    const scale = hyper.gradScale ?? 1;
    this.stepCount += 1;
    const t = this.stepCount;
    for (const [name, p] of this.params) {
      const grad = grads.get(name);
      if (grad === undefined) continue;
      const { m, v } = this.momentsOf(name, p);
      const weightDecay = isDecayed(name, p.shape) ? this.weightDecay : 0;
      adamwUpdate(p, grad, m, v, {
        lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay,
        step: t,
        gradScale: scale,
      });
    }
  }

  /** The moments as plain arrays by name (for `optimizer.safetensors`). */
  async exportState(): Promise<AdamWState> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, { m, v }] of this.moments) {
      tensors.set(`${name}.exp_avg`, { shape: [...m.shape], data: (await m.data()) as Float32Array });
      tensors.set(`${name}.exp_avg_sq`, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return { step: this.stepCount, tensors };
  }

  /** Replaces the state with a saved one; every tensor must name a parameter and match its shape. */
  importState(state: AdamWState, source = 'optimizer state'): void {
    const restored = new Map<string, { m?: Float32Array; v?: Float32Array }>();
    for (const [key, { shape, data }] of state.tensors) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
      const p = match ? this.params.get(match[1] ?? '') : undefined;
      if (!match || !p) throw new QaFtError('BAD_WEIGHTS', `${source}: unexpected tensor '${key}' (no such parameter)`);
      if (shape.join(',') !== p.shape.join(',') || data.length !== p.size) {
        throw new QaFtError('BAD_WEIGHTS', `${source}: '${key}' has shape [${shape}], expected [${p.shape}]`);
      }
      const entry = restored.get(match[1] ?? '') ?? {};
      if (match[2] === 'exp_avg') entry.m = data;
      else entry.v = data;
      restored.set(match[1] ?? '', entry);
    }
    for (const [name, entry] of restored) {
      if (!entry.m || !entry.v) throw new QaFtError('BAD_WEIGHTS', `${source}: '${name}' lacks exp_avg or exp_avg_sq`);
    }
    if (!(Number.isInteger(state.step) && state.step >= 0)) {
      throw new QaFtError('BAD_WEIGHTS', `${source}: step must be an integer >= 0, got ${state.step}`);
    }
    this.disposeMoments();
    for (const [name, { m, v }] of restored) {
      const p = this.params.get(name) as tf.Variable;
      this.moments.set(name, {
        m: tf.tidy(() => tf.variable(tf.tensor(m as Float32Array, p.shape, 'float32'), false)),
        v: tf.tidy(() => tf.variable(tf.tensor(v as Float32Array, p.shape, 'float32'), false)),
      });
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    this.disposeMoments();
  }

  private momentsOf(name: string, p: tf.Variable): Moments {
    let moments = this.moments.get(name);
    if (!moments) {
      moments = {
        // tidy frees the initial tensor; the variable keeps its own reference to the data
        m: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        v: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      };
      this.moments.set(name, moments);
    }
    return moments;
  }

  private disposeMoments(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}
