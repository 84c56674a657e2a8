/**
 * The DistilBERT `config.json` as Hugging Face writes it, parsed and validated once into a readonly typed object.
 * Fields qa-ft does not use (`architectures`, `tie_weights_`, …) are accepted and ignored, as transformers does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';
import { CONFIG_FILE } from '../hf-files.js';

export interface DistilBertConfig {
  readonly modelType: 'distilbert';
  readonly vocabSize: number; // 30522 for the uncased BERT word-piece vocabulary
  readonly dim: number; // hidden size D (768 in distilbert-base)
  readonly nLayers: number; // transformer blocks (6)
  readonly nHeads: number; // attention heads (12); must divide dim
  readonly hiddenDim: number; // FFN inner size (3072 = 4 × dim)
  readonly maxPositionEmbeddings: number; // longest sequence T the position table covers (512)
  readonly dropout: number; // after embeddings, attention output and FFN (0.1)
  readonly attentionDropout: number; // on the attention weights (0.1)
  readonly qaDropout: number; // before the QA head (0.1)
  readonly activation: 'gelu'; // erf-GELU, the only activation distilbert-base uses
  readonly padTokenId: number; // the word-embedding row that never receives a gradient (0)
  readonly initializerRange: number; // std of the normal init of new weights (0.02)
  readonly sinusoidalPosEmbds: false; // learned position embeddings only
}

/** The Hugging Face JSON form of a config (what `save` writes to config.json). */
export function configToJson(c: DistilBertConfig): Record<string, unknown> {
  return {
    activation: c.activation,
    architectures: ['DistilBertForQuestionAnswering'],
    attention_dropout: c.attentionDropout,
    dim: c.dim,
    dropout: c.dropout,
    hidden_dim: c.hiddenDim,
    initializer_range: c.initializerRange,
    max_position_embeddings: c.maxPositionEmbeddings,
    model_type: c.modelType,
    n_heads: c.nHeads,
    n_layers: c.nLayers,
    pad_token_id: c.padTokenId,
    qa_dropout: c.qaDropout,
    seq_classif_dropout: 0.2,
    sinusoidal_pos_embds: c.sinusoidalPosEmbds,
    tie_weights_: true,
    vocab_size: c.vocabSize,
  };
}

/**
 * Validates a parsed `config.json`. `source` names the file in messages. Missing optional fields take the
 * transformers defaults of `DistilBertConfig`.
 */
export function parseDistilBertConfig(json: unknown, source: string): DistilBertConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw bad(source, `expected a JSON object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  const o = json as Record<string, unknown>;
  const get = (key: string, dflt: unknown): unknown => (key in o ? o[key] : dflt); // null is an error, not "absent"
  const modelType = get('model_type', 'distilbert');
  if (modelType !== 'distilbert') {
    throw bad(source, `model_type is ${JSON.stringify(modelType)}, expected "distilbert"`, 'qa-ft fine-tunes DistilBERT models only');
  }
  const posInt = (key: string, dflt: number): number => {
    const v = get(key, dflt);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw bad(source, `${key} is ${JSON.stringify(v)}, expected a positive integer`);
    }
    return v;
  };
  const rate = (key: string, dflt: number): number => {
    const v = get(key, dflt);
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
      throw bad(source, `${key} is ${JSON.stringify(v)}, expected a probability in [0, 1)`);
    }
    return v;
  };
  const vocabSize = posInt('vocab_size', 30522);
  const dim = posInt('dim', 768);
  const nLayers = posInt('n_layers', 6);
  const nHeads = posInt('n_heads', 12);
  const hiddenDim = posInt('hidden_dim', 3072);
  const maxPositionEmbeddings = posInt('max_position_embeddings', 512);
  if (dim % nHeads !== 0) {
    throw bad(source, `n_heads (${nHeads}) does not divide dim (${dim})`);
  }
  const activation = get('activation', 'gelu');
  if (activation !== 'gelu') {
    throw bad(source, `activation is ${JSON.stringify(activation)}, expected "gelu"`);
  }
  const sinusoidal = get('sinusoidal_pos_embds', false);
  if (sinusoidal !== false) {
    throw bad(source, `sinusoidal_pos_embds is ${JSON.stringify(sinusoidal)}, expected false (learned position embeddings)`);
  }
  const pad = get('pad_token_id', 0);
  if (typeof pad !== 'number' || !Number.isSafeInteger(pad) || pad < 0 || pad >= vocabSize) {
    throw bad(source, `pad_token_id is ${JSON.stringify(pad)}, expected an integer in [0, ${vocabSize})`);
  }
  const range = get('initializer_range', 0.02);
  if (typeof range !== 'number' || !(range > 0 && Number.isFinite(range))) {
    throw bad(source, `initializer_range is ${JSON.stringify(range)}, expected a positive number`);
  }
  return Object.freeze({
    modelType: 'distilbert',
    vocabSize,
    dim,
    nLayers,
    nHeads,
    hiddenDim,
    maxPositionEmbeddings,
    dropout: rate('dropout', 0.1),
    attentionDropout: rate('attention_dropout', 0.1),
    qaDropout: rate('qa_dropout', 0.1),
    activation: 'gelu',
    padTokenId: pad,
    initializerRange: range,
    sinusoidalPosEmbds: false,
  });
}

/** Reads and validates `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<DistilBertConfig> {
  return readConfigFile(join(dir, CONFIG_FILE), {
    message: 'no config.json in the model directory',
    hint: 'a model directory holds config.json and model.safetensors',
  });
}

/** Reads and validates a config.json file; `missing` words the error when it does not exist. */
export async function readConfigFile(
  path: string,
  missing: { readonly message: string; readonly hint?: string } = { message: 'config file does not exist' },
): Promise<DistilBertConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new QaFtError('FILE_NOT_FOUND', `${path}: ${missing.message}`, missing.hint === undefined ? {} : { hint: missing.hint });
    }
    throw new QaFtError('FILE_NOT_FOUND', `${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not valid JSON (${(e as Error).message})`);
  }
  return parseDistilBertConfig(json, path);
}

function bad(source: string, what: string, hint?: string): QaFtError {
  return new QaFtError('BAD_CONFIG', `${source}: ${what}`, hint === undefined ? {} : { hint });
}
