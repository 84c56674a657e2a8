/**
 * DistilBertForQuestionAnswering as an ONNX graph, top to bottom as src/model/distilbert.ts: word + position
 * embeddings and LayerNorm, then per block attention → out_lin → sa_layer_norm → FFN → output_layer_norm.
 */
import type { DistilBertConfig } from '../model/config.js';
import { LAYER_NORM_EPS } from '../model/distilbert.js';
import type { OnnxFamily } from './family.js';
import {
  absolutePositions,
  feedForward,
  layerNorm,
  linear,
  maskBias,
  selfAttention,
  wordEmbeddings,
} from './layers.js';

export function distilBertGraph(c: DistilBertConfig): OnnxFamily {
  return {
    tokenTypeIds: false,
    hidden(g) {
      const bias = maskBias(g); // [B, 1, 1, T]
      const words = wordEmbeddings(g, 'distilbert.embeddings.word_embeddings.weight'); // [B, T, D]
      const pos = absolutePositions(g, 'distilbert.embeddings.position_embeddings.weight'); // [T, D]
      let x = layerNorm(g, words, pos, 'distilbert.embeddings.LayerNorm', LAYER_NORM_EPS); // [B, T, D]
      for (let i = 0; i < c.nLayers; i++) {
        const l = `distilbert.transformer.layer.${i}`;
        const spec = {
          query: `${l}.attention.q_lin`,
          key: `${l}.attention.k_lin`,
          value: `${l}.attention.v_lin`,
          heads: c.nHeads,
          dim: c.dim,
        };
        const a = linear(g, selfAttention(g, x, spec, bias), `${l}.attention.out_lin`); // [B, T, D]
        const y = layerNorm(g, a, x, `${l}.sa_layer_norm`, LAYER_NORM_EPS); // [B, T, D]
        const f = feedForward(g, y, `${l}.ffn.lin1`, `${l}.ffn.lin2`, c.activation); // [B, T, D]
        x = layerNorm(g, f, y, `${l}.output_layer_norm`, LAYER_NORM_EPS); // [B, T, D]
      }
      return x;
    },
  };
}
