/**
 * BERT, RoBERTa (XLM-R, CamemBERT) and ELECTRA as ONNX graphs, as src/model/bert.ts, roberta.ts and electra.ts:
 * word + token type + position embeddings and LayerNorm (RoBERTa: positions counted from the padding index, and
 * its one-row token type table folded into a constant, so the graph takes no token_type_ids, as its tokenizer
 * gives none), ELECTRA's embeddings_project when E ≠ D, then post-LayerNorm BertLayers. The embeddings and the
 * layer are exported for ALBERT (albert.ts).
 */
import { robertaPositions as countsFromPadding, type BertLikeConfig } from '../model/config-bert.js';
import type { OnnxFamily } from './family.js';
import type { GraphBuilder } from './graph.js';
import {
  absolutePositions,
  feedForward,
  layerNorm,
  linear,
  maskBias,
  robertaPositions,
  selfAttention,
  TOKEN_TYPE_IDS,
  wordEmbeddings,
} from './layers.js';

/** Whether a BERT-style family's graph takes token_type_ids: all but the RoBERTa family. */
export function takesTokenTypes(c: BertLikeConfig): boolean {
  return !countsFromPadding(c.modelType);
}

/** LayerNorm(words + token types + positions) at `prefix` (e.g. `bert.embeddings`): [B, T, E]. */
export function embeddings(g: GraphBuilder, c: BertLikeConfig, prefix: string): string {
  const words = wordEmbeddings(g, `${prefix}.word_embeddings.weight`); // [B, T, E]
  const typeTable = `${prefix}.token_type_embeddings.weight`;
  const types = takesTokenTypes(c) ? g.op('Gather', [g.param(typeTable), TOKEN_TYPE_IDS]) : g.paramRow(typeTable, 0); // [B, T, E] or [E]
  const positionTable = `${prefix}.position_embeddings.weight`;
  const pos = countsFromPadding(c.modelType)
    ? robertaPositions(g, positionTable, c.padTokenId)
    : absolutePositions(g, positionTable); // [B, T, E] or [T, E]
  return layerNorm(g, g.op('Add', [words, types]), pos, `${prefix}.LayerNorm`, c.layerNormEps);
}

/** BertLayer at `l` (e.g. `bert.encoder.layer.0`): attention → output dense + LayerNorm → FFN + LayerNorm. */
export function layer(g: GraphBuilder, c: BertLikeConfig, x: string, l: string, bias: string): string {
  const s = `${l}.attention.self`;
  const spec = { query: `${s}.query`, key: `${s}.key`, value: `${s}.value`, heads: c.nHeads, dim: c.dim };
  const a = linear(g, selfAttention(g, x, spec, bias), `${l}.attention.output.dense`); // [B, T, D]
  const y = layerNorm(g, a, x, `${l}.attention.output.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = feedForward(g, y, `${l}.intermediate.dense`, `${l}.output.dense`, c.activation); // [B, T, D]
  return layerNorm(g, f, y, `${l}.output.LayerNorm`, c.layerNormEps);
}

/** BERT and RoBERTa under `prefix`; ELECTRA (prefix `electra`) with its projection when E ≠ D. */
export function bertGraph(c: BertLikeConfig, prefix: string): OnnxFamily {
  return {
    tokenTypeIds: takesTokenTypes(c),
    hidden(g) {
      const bias = maskBias(g); // [B, 1, 1, T]
      let x = embeddings(g, c, `${prefix}.embeddings`); // [B, T, E]
      if (c.modelType === 'electra' && c.embeddingSize !== c.dim) x = linear(g, x, 'electra.embeddings_project'); // [B, T, D]
      for (let i = 0; i < c.nLayers; i++) x = layer(g, c, x, `${prefix}.encoder.layer.${i}`, bias);
      return x;
    },
  };
}
