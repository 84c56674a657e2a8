/**
 * The config of the BERT-style families — BERT, RoBERTa (and XLM-RoBERTa, CamemBERT: the same graph), ELECTRA and
 * ALBERT — which share transformers' field names (`hidden_size`, `num_hidden_layers`, …). Missing fields take the
 * defaults of the family's transformers config class. The JSON read is kept whole, so saving writes back every
 * field (as save_pretrained does) with only `architectures` changed.
 */
import { bad, configReader } from './config-fields.js';

export const BERT_LIKE_TYPES = ['bert', 'roberta', 'xlm-roberta', 'camembert', 'electra', 'albert'] as const;
export type BertLikeType = (typeof BERT_LIKE_TYPES)[number];

/** transformers' ACT2FN names qa-ft implements (src/model/fused-ops.ts): erf-GELU, tanh-GELU, ReLU. */
export const ACTIVATIONS = ['gelu', 'gelu_new', 'relu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export interface BertLikeConfig {
  readonly modelType: BertLikeType;
  readonly vocabSize: number; // word-embedding rows V
  readonly dim: number; // hidden_size D
  readonly embeddingSize: number; // E: the embedding tables' width; D except in ELECTRA and ALBERT (projected to D)
  readonly nLayers: number; // num_hidden_layers
  readonly nHeads: number; // num_attention_heads; must divide D
  readonly hiddenDim: number; // intermediate_size F (FFN inner size)
  readonly positionTableSize: number; // max_position_embeddings: rows of the position table
  /**
   * The longest sequence T the position table covers: max_position_embeddings, less pad_token_id + 1 for the
   * RoBERTa family, whose positions start after the padding index (514 rows → 512 tokens).
   */
  readonly maxPositionEmbeddings: number;
  readonly typeVocabSize: number; // token type (segment) embedding rows: 2, or 1 for RoBERTa
  readonly hiddenDropout: number; // hidden_dropout_prob: after embeddings, attention output, FFN output
  readonly attentionDropout: number; // attention_probs_dropout_prob: on the attention weights
  readonly activation: Activation; // hidden_act of the FFN
  readonly layerNormEps: number; // layer_norm_eps of every LayerNorm
  readonly padTokenId: number; // nn.Embedding padding_idx: that row is never trained
  readonly initializerRange: number; // std of the normal init of new weights
  readonly numHiddenGroups: number; // ALBERT: layer groups whose weights the layers share (1 elsewhere)
  readonly innerGroupNum: number; // ALBERT: layers inside a group (1 elsewhere)
  /** The config.json object as read (frozen), written back by `save`. */
  readonly json: Readonly<Record<string, unknown>>;
}

interface Defaults {
  vocab: number;
  hidden: number;
  embedding: number | null; // null: the hidden size
  heads: number;
  inter: number;
  act: Activation;
  dropout: number;
  pad: number;
}

const BERT: Defaults = {
  vocab: 30522,
  hidden: 768,
  embedding: null,
  heads: 12,
  inter: 3072,
  act: 'gelu',
  dropout: 0.1,
  pad: 0,
};

/** transformers' config-class defaults (BertConfig, RobertaConfig, ElectraConfig, AlbertConfig, …). */
const DEFAULTS: Record<BertLikeType, Defaults> = {
  bert: BERT,
  roberta: { ...BERT, vocab: 50265, pad: 1 },
  'xlm-roberta': { ...BERT, pad: 1 },
  camembert: { ...BERT, pad: 1 },
  electra: { ...BERT, hidden: 256, embedding: 128, heads: 4, inter: 1024 },
  albert: { vocab: 30000, hidden: 4096, embedding: 128, heads: 64, inter: 16384, act: 'gelu_new', dropout: 0, pad: 0 },
};

/** Whether positions count from the padding index (RoBERTa and its siblings) rather than from 0. */
export function robertaPositions(t: BertLikeType): boolean {
  return t === 'roberta' || t === 'xlm-roberta' || t === 'camembert';
}

export function parseBertLikeConfig(
  json: Record<string, unknown>,
  modelType: BertLikeType,
  source: string,
): BertLikeConfig {
  const r = configReader(json, source);
  const d = DEFAULTS[modelType];
  const vocabSize = r.posInt('vocab_size', d.vocab);
  const dim = r.posInt('hidden_size', d.hidden);
  const nHeads = r.posInt('num_attention_heads', d.heads);
  if (dim % nHeads !== 0) throw bad(source, `num_attention_heads (${nHeads}) does not divide hidden_size (${dim})`);
  const embeddingSize =
    modelType === 'electra' || modelType === 'albert' ? r.posInt('embedding_size', d.embedding ?? dim) : dim;
  const nLayers = r.posInt('num_hidden_layers', 12);
  const positionTableSize = r.posInt('max_position_embeddings', 512);
  const padTokenId = r.tokenId('pad_token_id', d.pad, vocabSize);
  const maxPositionEmbeddings = robertaPositions(modelType) ? positionTableSize - padTokenId - 1 : positionTableSize;
  if (maxPositionEmbeddings <= 0) {
    throw bad(
      source,
      `max_position_embeddings (${positionTableSize}) leaves no position after pad_token_id ${padTokenId}`,
    );
  }
  const numHiddenGroups = modelType === 'albert' ? r.posInt('num_hidden_groups', 1) : 1;
  const innerGroupNum = modelType === 'albert' ? r.posInt('inner_group_num', 1) : 1;
  if (nLayers % numHiddenGroups !== 0)
    throw bad(source, `num_hidden_groups (${numHiddenGroups}) does not divide num_hidden_layers (${nLayers})`);
  const typeVocabSize = r.get('type_vocab_size', 2);
  if (typeof typeVocabSize !== 'number' || !Number.isSafeInteger(typeVocabSize) || typeVocabSize < 1) {
    throw bad(source, `type_vocab_size is ${JSON.stringify(typeVocabSize)}, expected a positive integer`);
  }
  const positionType = r.get('position_embedding_type', 'absolute');
  if (positionType !== 'absolute') {
    throw bad(
      source,
      `position_embedding_type is ${JSON.stringify(positionType)}, expected "absolute"`,
      'relative_key position embeddings are not supported',
    );
  }
  return Object.freeze({
    modelType,
    vocabSize,
    dim,
    embeddingSize,
    nLayers,
    nHeads,
    hiddenDim: r.posInt('intermediate_size', d.inter),
    positionTableSize,
    maxPositionEmbeddings,
    typeVocabSize,
    hiddenDropout: r.rate('hidden_dropout_prob', d.dropout),
    attentionDropout: r.rate('attention_probs_dropout_prob', d.dropout),
    activation: r.oneOf('hidden_act', d.act, ACTIVATIONS),
    layerNormEps: r.positive('layer_norm_eps', 1e-12),
    padTokenId,
    initializerRange: r.positive('initializer_range', 0.02),
    numHiddenGroups,
    innerGroupNum,
    json: Object.freeze({ ...json }),
  });
}
