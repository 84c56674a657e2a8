/**
 * AlbertForQuestionAnswering as an ONNX graph, as src/model/albert.ts: BERT's embeddings at width E, the
 * projection embedding_hidden_mapping_in (E → D), then the runs of the shared layers (model/albert.ts
 * `albertLayerRuns`), each run the same initializers (stored once).
 */
import { albertLayerRuns } from '../model/albert.js';
import type { BertLikeConfig } from '../model/config-bert.js';
import { embeddings, takesTokenTypes } from './bert.js';
import type { OnnxFamily } from './family.js';
import type { GraphBuilder } from './graph.js';
import { feedForward, layerNorm, linear, maskBias, selfAttention } from './layers.js';

function layer(g: GraphBuilder, c: BertLikeConfig, x: string, l: string, bias: string): string {
  const spec = {
    query: `${l}.attention.query`,
    key: `${l}.attention.key`,
    value: `${l}.attention.value`,
    heads: c.nHeads,
    dim: c.dim,
  };
  const a = linear(g, selfAttention(g, x, spec, bias), `${l}.attention.dense`); // [B, T, D]
  const y = layerNorm(g, a, x, `${l}.attention.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = feedForward(g, y, `${l}.ffn`, `${l}.ffn_output`, c.activation); // [B, T, D]
  return layerNorm(g, f, y, `${l}.full_layer_layer_norm`, c.layerNormEps);
}

export function albertGraph(c: BertLikeConfig): OnnxFamily {
  return {
    tokenTypeIds: takesTokenTypes(c),
    hidden(g) {
      const bias = maskBias(g); // [B, 1, 1, T]
      let x = linear(g, embeddings(g, c, 'albert.embeddings'), 'albert.encoder.embedding_hidden_mapping_in'); // [B, T, D]
      for (const l of albertLayerRuns(c)) x = layer(g, c, x, l, bias);
      return x;
    },
  };
}
