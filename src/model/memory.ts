/**
 * What a model of a config needs in memory, known from its parameter shapes before anything is allocated: float32
 * weights, and for training as many again for the gradients and twice for AdamW's two moments. Activations come on
 * top, so this is a floor: a config whose floor exceeds the memory available cannot run, and is refused at once in
 * one line (instead of growing until the kernel kills the process minutes later). Each tensor must also fit one
 * JavaScript typed array (V8's limit), or it could not be built or read at all.
 */
import os from 'node:os';
import { QaFtError } from '../errors.js';
import type { ModelConfig } from './config.js';
import { MAX_TENSOR_ELEMENTS } from './safetensors.js';
import { parameterShapes } from './weights.js';

/** `inference`: the weights; `training`: also a gradient and AdamW's first and second moments per weight. */
export type MemoryPurpose = 'inference' | 'training';

const FLOAT32_BYTES = 4;
const COPIES: Readonly<Record<MemoryPurpose, number>> = { inference: 1, training: 4 };
const WHAT: Readonly<Record<MemoryPurpose, string>> = {
  inference: 'its float32 weights',
  training: 'float32 weights, gradients and AdamW moments',
};

export interface MemoryEstimate {
  readonly parameters: number;
  /** The floor in bytes for `purpose`. */
  readonly bytes: number;
}

export function estimateModelMemory(config: ModelConfig, purpose: MemoryPurpose): MemoryEstimate {
  let parameters = 0;
  for (const shape of parameterShapes(config).values()) parameters += shape.reduce((a, b) => a * b, 1);
  return { parameters, bytes: parameters * FLOAT32_BYTES * COPIES[purpose] };
}

/**
 * Bytes this process may still take: the kernel's MemAvailable (`os.freemem()`), capped by a cgroup limit less
 * what the process holds already.
 */
export function availableMemory(): number {
  const free = os.freemem();
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < os.totalmem() ? Math.min(free, Math.max(0, limit - process.memoryUsage.rss())) : free;
}

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;
const count = (n: number): string => n.toLocaleString('en-US');

/** For a notice: `N parameters; training needs at least X GB (float32 weights, …) of the Y GB available`. */
export function describeEstimate(e: MemoryEstimate, purpose: MemoryPurpose, available = availableMemory()): string {
  return `${count(e.parameters)} parameters; ${purpose} needs at least ${gb(e.bytes)} (${WHAT[purpose]}) of the ${gb(available)} of memory available`;
}

/**
 * Refuses, before anything is allocated, a config (`source` names its file) with a tensor too large for one typed
 * array or whose memory floor for `purpose` exceeds the memory available; returns the estimate.
 */
export function checkModelFitsMemory(
  config: ModelConfig,
  purpose: MemoryPurpose,
  source: string,
  available = availableMemory(),
): MemoryEstimate {
  for (const [name, shape] of parameterShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > MAX_TENSOR_ELEMENTS) {
      throw new QaFtError(
        'BAD_CONFIG',
        `${source}: tensor ${name} would be [${shape.join(', ')}] = ${count(size)} values, more than the ${count(MAX_TENSOR_ELEMENTS)} one array can hold`,
        {
          hint: 'check vocab_size and the hidden sizes',
        },
      );
    }
  }
  const estimate = estimateModelMemory(config, purpose);
  if (estimate.bytes > available) {
    const needs = `${count(estimate.parameters)} parameters need at least ${gb(estimate.bytes)} for ${purpose} (${WHAT[purpose]})`;
    throw new QaFtError(
      'BAD_CONFIG',
      `${source}: ${needs}, more than the ${gb(available)} of memory available (${gb(os.totalmem())} in all)`,
      {
        hint: 'use a smaller config, or free memory',
      },
    );
  }
  return estimate;
}
