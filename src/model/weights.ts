/**
 * A QA model's parameters by their Hugging Face checkpoint names: the expected shapes for a config (its family's),
 * Hugging Face's initialisation, and loading from a safetensors file (a lookup plus a shape check per name;
 * missing and unexpected names are listed).
 */
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../errors.js';
import type { ModelConfig } from './config.js';
import { familyOf } from './families.js';
import { qaHeadShapes } from './qa-head.js';
import { mixSeed, normalSample } from './random.js';
import type { SafetensorsFile } from './safetensors.js';

/**
 * Every trainable parameter with its shape, in module order: the family's encoder, then the QA head.
 * torch.nn.Linear weights are [out, in].
 */
export function parameterShapes(c: ModelConfig): Map<string, number[]> {
  return new Map([...familyOf(c).shapes(), ...qaHeadShapes(c.dim)]);
}

/**
 * Whether a parameter belongs to a LayerNorm (`…LayerNorm.weight`, `…sa_layer_norm.bias`): initialised to 1 and 0,
 * never weight-decayed (train/optimizer.ts `isDecayed`).
 */
export function isLayerNorm(name: string): boolean {
  return /layernorm|layer_norm/i.test(name);
}

/**
 * Hugging Face `_init_weights`: Linear/Embedding weights normal(0, initializer_range), biases 0, LayerNorm 1 and 0,
 * the padding row of the word embeddings 0. `seed` makes it reproducible.
 */
export function initialTensor(c: ModelConfig, name: string, shape: number[], seed: number): tf.Tensor {
  if (isLayerNorm(name)) return name.endsWith('.weight') ? tf.ones(shape) : tf.zeros(shape);
  if (name.endsWith('.bias')) return tf.zeros(shape);
  const values = normalSample(tf.util.sizeFromShape(shape), c.initializerRange, seed);
  const width = shape[1] ?? 0;
  if (familyOf(c).paddedTables.includes(name)) values.fill(0, c.padTokenId * width, (c.padTokenId + 1) * width); // the padding row, exactly +0
  return tf.tensor(values, shape, 'float32');
}

/** Each name gets its own seed derived from `seed`, so adding a layer does not change the others. */
export function seedFor(seed: number, name: string): number {
  return mixSeed(seed, name);
}

interface LoadedWeights {
  params: Map<string, tf.Variable>;
  /** One line per noteworthy event (unused tensors, newly initialised head), for the caller to show. */
  notices: string[];
}

/**
 * Loads every parameter of `c` from an open safetensors file. Checks all names and shapes against the header
 * before reading data; a checkpoint without the QA head (e.g. bert-base-uncased) gets HF's init for it. As
 * transformers does, names without the family's prefix (a bare `BertModel`) are accepted, and so are the legacy
 * LayerNorm names `gamma`/`beta` for `weight`/`bias`.
 */
export async function loadWeights(file: SafetensorsFile, c: ModelConfig, seed: number): Promise<LoadedWeights> {
  const family = familyOf(c);
  const expected = parameterShapes(c);
  const head = qaHeadShapes(c.dim);
  const names = [...file.entries.keys()];
  const prefix = `${family.prefix}.`;
  const bare = !names.some((n) => n.startsWith(prefix)) && names.some((n) => n.startsWith('embeddings.'));
  const fileName = (hf: string): string => {
    const n = bare && hf.startsWith(prefix) ? hf.slice(prefix.length) : hf;
    if (file.entries.has(n) || !isLayerNorm(n)) return n;
    const legacy = n.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
    return file.entries.has(legacy) ? legacy : n;
  };
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [name, shape] of expected) {
    const entry = file.entries.get(fileName(name));
    if (entry === undefined) {
      missing.push(name);
      continue;
    }
    used.add(entry.name);
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new QaFtError(
        'BAD_WEIGHTS',
        `${file.path}: tensor ${entry.name} has shape [${entry.shape.join(', ')}], but config.json (${c.modelType}: hidden ${c.dim}, FFN ${c.hiddenDim}, vocab_size ${c.vocabSize}) expects [${shape.join(', ')}]`,
        { hint: 'config.json and model.safetensors must come from the same model' },
      );
    }
  }
  const unused = names.filter((n) => !used.has(n));
  const unexpected = unused.filter((n) => !family.otherHeads.test(n));
  const newHead = missing.length > 0 && missing.every((n) => head.has(n));
  if ((missing.length > 0 && !newHead) || unexpected.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`unexpected ${list(unexpected)}`);
    throw new QaFtError(
      'BAD_WEIGHTS',
      `${file.path}: does not match config.json (${c.modelType}, ${c.nLayers} layers): ${parts.join('; ')}`,
      {
        hint: 'config.json and model.safetensors must come from the same model',
      },
    );
  }
  const notices: string[] = [];
  if (unused.length > 0)
    notices.push(`${file.path}: ${unused.length} tensors not used by the QA model: ${list(unused)}`);
  if (missing.length > 0)
    notices.push(`newly initialised (not in the checkpoint; train before use): ${missing.join(', ')}`);

  const params = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of expected) {
      const initial = missing.includes(name)
        ? initialTensor(c, name, shape, seedFor(seed, name))
        : tf.tensor((await file.read(fileName(name))).data, shape, 'float32');
      params.set(name, tf.variable(initial, true));
      initial.dispose(); // the variable keeps the data (TF.js shares it, no copy)
    }
  } catch (e) {
    tf.dispose([...params.values()]);
    throw e;
  }
  return { params, notices };
}

/**
 * Overwrites `params` with the same-named tensors of a saved model (a checkpoint of this very model): every name
 * must be there with its shape, checked against the header before any data is read or assigned.
 */
export async function assignWeights(params: ReadonlyMap<string, tf.Variable>, file: SafetensorsFile): Promise<void> {
  const missing = [...params.keys()].filter((n) => !file.entries.has(n));
  if (missing.length > 0)
    throw new QaFtError('BAD_WEIGHTS', `${file.path}: missing ${missing.length} parameter(s): ${list(missing)}`);
  for (const [name, p] of params) {
    const shape = file.entries.get(name)?.shape ?? [];
    if (shape.join(',') !== p.shape.join(',')) {
      throw new QaFtError(
        'BAD_WEIGHTS',
        `${file.path}: '${name}' has shape [${shape.join(', ')}], expected [${p.shape.join(', ')}]`,
      );
    }
  }
  for (const [name, p] of params) {
    const value = tf.tensor((await file.read(name)).data, p.shape, 'float32');
    p.assign(value);
    value.dispose();
  }
}

function list(names: string[]): string {
  const shown = names.slice(0, 8).join(', ');
  return names.length > 8 ? `${shown}, … (${names.length} in all)` : shown;
}
