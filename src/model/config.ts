/**
 * A model's `config.json` as Hugging Face writes it, parsed and validated once into a readonly typed object: the family
 * comes from `model_type` (DistilBERT here; the BERT-style families in config-bert.ts, DeBERTa-v2 in
 * config-deberta.ts). Fields qa-ft does not use (`architectures`, `tie_weights_`, …) are accepted and ignored, as
 * transformers does, and written back on save.
 */
import { readFile } from 'node:fs/promises';
import { checkReadableFile } from '../util/text-file.js';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';
import { CONFIG_FILE } from '../hf-files.js';
import { BERT_LIKE_TYPES, parseBertLikeConfig, type BertLikeConfig } from './config-bert.js';
import { parseDebertaV2Config, type DebertaV2Config } from './config-deberta.js';
import { bad, configReader } from './config-fields.js';

/** Any family's config; `modelType` tells them apart. Field names shared by all (dim, nLayers, …) mean the same. */
export type ModelConfig = DistilBertConfig | BertLikeConfig | DebertaV2Config;

/** The `model_type`s qa-ft builds, in the order messages list them. */
export const MODEL_TYPES = ['distilbert', ...BERT_LIKE_TYPES, 'deberta-v2'] as const;

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
  /** The config.json object as read (frozen), written back by `save`. */
  readonly json: Readonly<Record<string, unknown>>;
}

/** The `…ForQuestionAnswering` class transformers builds for a config (config.json's `architectures`). */
export function qaArchitecture(c: ModelConfig): string {
  const name: Record<ModelConfig['modelType'], string> = {
    distilbert: 'DistilBertForQuestionAnswering',
    bert: 'BertForQuestionAnswering',
    roberta: 'RobertaForQuestionAnswering',
    'xlm-roberta': 'XLMRobertaForQuestionAnswering',
    camembert: 'CamembertForQuestionAnswering',
    electra: 'ElectraForQuestionAnswering',
    albert: 'AlbertForQuestionAnswering',
    'deberta-v2': 'DebertaV2ForQuestionAnswering',
  };
  return name[c.modelType];
}

/** The model inside a tokenizer (tokenizer.json's `model.type`). */
export type TokenizerModelType = 'WordPiece' | 'BPE' | 'Unigram';

/**
 * The tokenizer class transformers' AutoTokenizer maps a config's `model_type` to (its TOKENIZER_MAPPING_NAMES, without
 * the `Fast` that save_pretrained drops), and the tokenizer model that class is built on.
 */
export function familyTokenizer(c: ModelConfig): {
  readonly tokenizerClass: string;
  readonly model: TokenizerModelType;
} {
  const tokenizers: Record<ModelConfig['modelType'], { tokenizerClass: string; model: TokenizerModelType }> = {
    distilbert: { tokenizerClass: 'DistilBertTokenizer', model: 'WordPiece' },
    bert: { tokenizerClass: 'BertTokenizer', model: 'WordPiece' },
    electra: { tokenizerClass: 'ElectraTokenizer', model: 'WordPiece' },
    roberta: { tokenizerClass: 'RobertaTokenizer', model: 'BPE' },
    'xlm-roberta': { tokenizerClass: 'XLMRobertaTokenizer', model: 'Unigram' },
    camembert: { tokenizerClass: 'CamembertTokenizer', model: 'Unigram' },
    albert: { tokenizerClass: 'AlbertTokenizer', model: 'Unigram' },
    'deberta-v2': { tokenizerClass: 'DebertaV2Tokenizer', model: 'Unigram' },
  };
  return tokenizers[c.modelType];
}

/**
 * The Hugging Face JSON form of a config (what `save` writes to config.json): the object as read, every field kept
 * (as save_pretrained keeps `dtype`, `transformers_version`, `tie_word_embeddings`, …), with `architectures` the QA
 * class and `model_type` written out (a DistilBERT config may leave it implicit; transformers' Auto classes need it).
 */
export function configToJson(c: ModelConfig): Record<string, unknown> {
  return { ...c.json, model_type: c.modelType, architectures: [qaArchitecture(c)] };
}

/**
 * Validates a parsed `config.json` of any supported family, chosen by `model_type`, which must be there (as
 * transformers' AutoConfig requires: a file without it is some other JSON, not read as a default DistilBERT whose
 * shapes then fail to match). `source` names the file in messages.
 */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  const { o } = configReader(json, source);
  if (!Object.hasOwn(o, 'model_type')) {
    throw bad(
      source,
      `has no model_type (expected one of ${MODEL_TYPES.join(', ')}); it is not a model's config.json`,
      'a model directory holds the config.json that qa-ft train or transformers wrote',
    );
  }
  const modelType = o.model_type;
  if (modelType === 'distilbert') return parseDistilBertConfig(json, source);
  const bertLike = BERT_LIKE_TYPES.find((t) => t === modelType);
  if (bertLike !== undefined) return parseBertLikeConfig(o, bertLike, source);
  if (modelType === 'deberta-v2') return parseDebertaV2Config(o, source);
  throw bad(
    source,
    `model_type is ${JSON.stringify(modelType)}, expected one of ${MODEL_TYPES.join(', ')}`,
    'qa-ft fine-tunes these encoder families only',
  );
}

/**
 * Validates a parsed DistilBERT `config.json`. `source` names the file in messages. Missing optional fields take
 * the transformers defaults of `DistilBertConfig`.
 */
export function parseDistilBertConfig(json: unknown, source: string): DistilBertConfig {
  const { get, posInt, rate, positive, tokenId } = configReader(json, source);
  const modelType = get('model_type', 'distilbert');
  if (modelType !== 'distilbert') {
    throw bad(source, `model_type is ${JSON.stringify(modelType)}, expected "distilbert"`);
  }
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
    throw bad(
      source,
      `sinusoidal_pos_embds is ${JSON.stringify(sinusoidal)}, expected false (learned position embeddings)`,
    );
  }
  const pad = tokenId('pad_token_id', 0, vocabSize);
  const range = positive('initializer_range', 0.02);
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
    json: Object.freeze({ ...(json as Record<string, unknown>) }),
  });
}

/** Reads and validates `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<ModelConfig> {
  return readConfigFile(join(dir, CONFIG_FILE), {
    message: 'no config.json in the model directory',
    hint: 'a model directory holds config.json and model.safetensors',
  });
}

/** Reads and validates a config.json file; `missing` words the error when it does not exist. */
export async function readConfigFile(
  path: string,
  missing: { readonly message: string; readonly hint?: string } = { message: 'config file does not exist' },
): Promise<ModelConfig> {
  let text: string;
  await checkReadableFile(path, path, 'a config.json file');
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new QaFtError(
        'FILE_NOT_FOUND',
        `${path}: ${missing.message}`,
        missing.hint === undefined ? {} : { hint: missing.hint },
      );
    }
    throw new QaFtError('FILE_NOT_FOUND', `${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not valid JSON (${(e as Error).message})`);
  }
  return parseModelConfig(json, path);
}
