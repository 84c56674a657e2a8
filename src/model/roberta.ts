/**
 * RobertaForQuestionAnswering (also XLM-RoBERTa and CamemBERT: the same graph and names under `roberta.`): BERT's
 * graph (bert.ts) with positions counted from the padding index — padding_idx + cumsum(id ≠ pad) on real tokens,
 * padding_idx on padding (inputs.ts) — and a position table whose padding row, like the word table's, is never
 * trained. The token type table has one row.
 */
import type { BertLikeConfig } from './config-bert.js';
import { bertArchitecture } from './bert.js';
import type { Family } from './family-spec.js';

export function robertaFamily(c: BertLikeConfig): Family {
  return bertArchitecture(c, 'roberta', /^(lm_head|classifier)\.|^(roberta\.)?pooler\.|position_ids$|token_type_ids$/, [
    'roberta.embeddings.position_embeddings.weight',
  ]);
}
