/**
 * A stand-in QaModel whose logits the test controls: each token id can be given a start and an end logit, every
 * other real token gets 0 and padding gets a huge logit (so code that reads padding positions is caught).
 * It records the batches it saw.
 */
import type { QaBatch } from '../../src/records.js';
import type { ForwardOutput, QaModel } from '../../src/model/types.js';

export interface FakeModel {
  readonly model: QaModel;
  readonly batches: QaBatch[];
}

export function fakeModel(options: {
  startById?: ReadonlyMap<number, number>;
  endById?: ReadonlyMap<number, number>;
  /** Loss reported for a labelled batch. */
  loss?: (batch: QaBatch) => number;
  maxPositionEmbeddings?: number;
  /** The config's token type rows (BERT-style models); absent: none, as DistilBERT. */
  typeVocabSize?: number;
}): FakeModel {
  const batches: QaBatch[] = [];
  const logitsOf = (table: ReadonlyMap<number, number> | undefined, batch: QaBatch): number[][] =>
    batch.inputIds.map((row, b) =>
      row.map((id, t) => (batch.attentionMask[b]![t] === 0 ? 1e6 : (table?.get(id) ?? 0))),
    );
  const forward = async (batch: QaBatch): Promise<ForwardOutput> => {
    batches.push(batch);
    const out: ForwardOutput = {
      startLogits: logitsOf(options.startById, batch),
      endLogits: logitsOf(options.endById, batch),
    };
    return batch.startPositions && options.loss ? { ...out, loss: options.loss(batch) } : out;
  };
  // Only what inference reads is implemented; the rest of QaModel is never called by src/infer.
  const model = {
    config: {
      padTokenId: 0,
      maxPositionEmbeddings: options.maxPositionEmbeddings ?? 512,
      ...(options.typeVocabSize === undefined ? {} : { typeVocabSize: options.typeVocabSize }),
    },
    backend: 'fake',
    forward,
  } as unknown as QaModel;
  return { model, batches };
}
