/**
 * ElectraForQuestionAnswering: BERT's embeddings at the embedding width E (bert.ts), `embeddings_project`
 * (E → D, present only when E ≠ D, as transformers builds it), then BERT's layers under `electra.encoder`, and the
 * QA head. Pre-training checkpoints (ElectraForPreTraining's discriminator head, the generator's MLM head) load
 * their encoder; the heads are ignored with a notice.
 */
import type { BertLikeConfig } from './config-bert.js';
import { embeddings, embeddingShapes, bertInputs, layer, layerShapes } from './bert.js';
import { linearShapes, type Family } from './family-spec.js';
import { dense, stack } from './layers.js';
import { qaHead } from './qa-head.js';

export function electraFamily(c: BertLikeConfig): Family {
  const projected = c.embeddingSize !== c.dim;
  return {
    inputs: bertInputs(c),
    prefix: 'electra',
    otherHeads:
      /^(discriminator_predictions|generator_predictions|generator_lm_head|classifier|sequence_summary)\.|position_ids$|token_type_ids$/,
    paddedTables: ['electra.embeddings.word_embeddings.weight'],
    shapes() {
      const s = new Map<string, number[]>();
      embeddingShapes(s, 'electra.embeddings', c);
      if (projected) linearShapes(s, 'electra.embeddings_project', c.embeddingSize, c.dim);
      for (let i = 0; i < c.nLayers; i++) layerShapes(s, `electra.encoder.layer.${i}`, c);
      return s;
    },
    logits(p, inp, ctx) {
      const embed = () => {
        const e = embeddings(c, p, 'electra.embeddings', inp, ctx); // [B, T, E]
        return projected ? dense(e, p, 'electra.embeddings_project') : e; // [B, T, D]
      };
      const x = stack(embed, c.nLayers, (h, i) => layer(c, h, p, `electra.encoder.layer.${i}`, inp, ctx)); // [B, T, D]
      const out = qaHead(x, p, inp, 0, ctx);
      x.dispose();
      return out;
    },
  };
}
