/**
 * What the ONNX writer needs from a model family (one file each: distilbert.ts, bert.ts for BERT, RoBERTa and
 * ELECTRA, albert.ts, deberta-v2.ts): whether the graph takes token_type_ids, and the nodes from the inputs to the
 * last hidden states [B, T, D], which the shared QA head (layers.ts) turns into the graph's outputs.
 */
import type { GraphBuilder } from './graph.js';

export interface OnnxFamily {
  /** The graph has a `token_type_ids` input (families with a segment table of more than one row). */
  readonly tokenTypeIds: boolean;
  /** Adds the embeddings, attention mask and encoder layers; returns the last hidden states' name. */
  hidden(g: GraphBuilder): string;
}
