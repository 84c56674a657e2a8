/**
 * The DeBERTa-v2 config (`model_type` "deberta-v2", which DeBERTa-v3 checkpoints use too): BERT's sizes plus the
 * disentangled attention's settings. Missing fields take DebertaV2Config's defaults. The convolution layer of
 * deberta-v2-xlarge (`conv_kernel_size` > 0) is refused. Kept whole for `save`, as config-bert.ts does.
 */
import { ACTIVATIONS, type Activation } from './config-bert.js';
import { bad, configReader } from './config-fields.js';

export interface DebertaV2Config {
  readonly modelType: 'deberta-v2';
  readonly vocabSize: number;
  readonly dim: number; // hidden_size D
  readonly embeddingSize: number; // E; projected to D by embed_proj (no bias) when different
  readonly nLayers: number;
  readonly nHeads: number;
  readonly hiddenDim: number; // intermediate_size F
  readonly maxPositionEmbeddings: number; // the longest sequence T (the absolute table's rows, when there is one)
  readonly typeVocabSize: number; // 0: no token type embeddings (DeBERTa-v3)
  readonly positionBiasedInput: boolean; // absolute position embeddings added to the words (false in v3)
  readonly relativeAttention: boolean;
  /** c2p (content → position) and/or p2c (position → content) terms of the attention scores. */
  readonly c2p: boolean;
  readonly p2c: boolean;
  readonly positionBuckets: number; // log buckets of relative distance (256 in v3); ≤ 0: none
  readonly maxRelativePositions: number; // max_relative_positions, or max_position_embeddings when < 1
  readonly shareAttKey: boolean; // relative terms through query_proj/key_proj (v3) or pos_query_proj/pos_key_proj
  readonly normRelEmbedding: boolean; // encoder.LayerNorm over rel_embeddings (norm_rel_ebd "layer_norm")
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  readonly activation: Activation;
  readonly layerNormEps: number;
  readonly padTokenId: number;
  readonly initializerRange: number;
  readonly json: Readonly<Record<string, unknown>>;
}

/** Relative distances the rel_embeddings table spans each way: 2 × span rows. */
export function attentionSpan(c: DebertaV2Config): number {
  return c.positionBuckets > 0 ? c.positionBuckets : c.maxRelativePositions;
}

export function parseDebertaV2Config(json: Record<string, unknown>, source: string): DebertaV2Config {
  const r = configReader(json, source);
  const vocabSize = r.posInt('vocab_size', 128100);
  const dim = r.posInt('hidden_size', 1536);
  const nHeads = r.posInt('num_attention_heads', 24);
  if (dim % nHeads !== 0) throw bad(source, `num_attention_heads (${nHeads}) does not divide hidden_size (${dim})`);
  if (r.get('attention_head_size', dim / nHeads) !== dim / nHeads) {
    throw bad(
      source,
      `attention_head_size is ${JSON.stringify(r.get('attention_head_size', null))}, expected hidden_size / num_attention_heads (${dim / nHeads})`,
    );
  }
  const conv = r.get('conv_kernel_size', 0);
  if (conv !== 0)
    throw bad(
      source,
      `conv_kernel_size is ${JSON.stringify(conv)}, expected 0`,
      "DeBERTa-v2's convolution layer (deberta-v2-xlarge/xxlarge) is not supported",
    );
  const maxPositionEmbeddings = r.posInt('max_position_embeddings', 512);
  const typeVocabSize = r.get('type_vocab_size', 0);
  if (typeof typeVocabSize !== 'number' || !Number.isSafeInteger(typeVocabSize) || typeVocabSize < 0) {
    throw bad(source, `type_vocab_size is ${JSON.stringify(typeVocabSize)}, expected a non-negative integer`);
  }
  const posAtt = r.get('pos_att_type', null);
  const terms =
    posAtt === null
      ? []
      : typeof posAtt === 'string'
        ? posAtt
            .toLowerCase()
            .split('|')
            .map((x) => x.trim())
        : posAtt;
  if (!Array.isArray(terms) || !terms.every((x) => x === 'c2p' || x === 'p2c')) {
    throw bad(source, `pos_att_type is ${JSON.stringify(posAtt)}, expected "c2p", "p2c" or both (a list or "p2c|c2p")`);
  }
  const integer = (key: string, dflt: number): number => {
    const v = r.get(key, dflt);
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      throw bad(source, `${key} is ${JSON.stringify(v)}, expected an integer`);
    return v;
  };
  const flag = (key: string, dflt: boolean): boolean => {
    const v = r.get(key, dflt);
    if (typeof v !== 'boolean') throw bad(source, `${key} is ${JSON.stringify(v)}, expected true or false`);
    return v;
  };
  const maxRel = integer('max_relative_positions', -1);
  const norm = r.get('norm_rel_ebd', 'none');
  const normParts =
    typeof norm === 'string'
      ? norm
          .toLowerCase()
          .split('|')
          .map((x) => x.trim())
      : null;
  if (normParts === null || !normParts.every((x) => x === 'none' || x === 'layer_norm')) {
    throw bad(source, `norm_rel_ebd is ${JSON.stringify(norm)}, expected "none" or "layer_norm"`);
  }
  const relativeAttention = flag('relative_attention', false);
  const positionBiasedInput = flag('position_biased_input', true);
  return Object.freeze({
    modelType: 'deberta-v2',
    vocabSize,
    dim,
    embeddingSize: r.posInt('embedding_size', dim),
    nLayers: r.posInt('num_hidden_layers', 24),
    nHeads,
    hiddenDim: r.posInt('intermediate_size', 6144),
    maxPositionEmbeddings,
    typeVocabSize,
    positionBiasedInput,
    relativeAttention,
    c2p: relativeAttention && terms.includes('c2p'),
    p2c: relativeAttention && terms.includes('p2c'),
    positionBuckets: integer('position_buckets', -1),
    maxRelativePositions: maxRel < 1 ? maxPositionEmbeddings : maxRel,
    shareAttKey: flag('share_att_key', false),
    normRelEmbedding: normParts.includes('layer_norm'),
    hiddenDropout: r.rate('hidden_dropout_prob', 0.1),
    attentionDropout: r.rate('attention_probs_dropout_prob', 0.1),
    activation: r.oneOf('hidden_act', 'gelu', ACTIVATIONS),
    layerNormEps: r.positive('layer_norm_eps', 1e-7),
    padTokenId: r.tokenId('pad_token_id', 0, vocabSize),
    initializerRange: r.positive('initializer_range', 0.02),
    json: Object.freeze({ ...json }),
  });
}
