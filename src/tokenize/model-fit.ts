/**
 * Does tokenized data fit the model it is about to be fed to? Windows no longer than the model's position table,
 * token ids within its vocabulary: a one-line error otherwise, naming both numbers and what to do.
 *
 * Training checks what the prepared-data manifest declares: it pads batches to the declared max length and copies
 * the declared tokenizer into the saved model. Evaluation checks the windows themselves, as they are fed.
 */
import { QaFtError } from '../errors.js';
import type { Feature } from '../records.js';
import type { PreparedManifest } from './prepared.js';

/** What a model can take (a model config has both). */
export interface ModelLimits {
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
}

/** Tokenized data: a prepared directory's manifest (what it declares), or features (what they hold). */
type TokenizedData =
  | { readonly manifest: Pick<PreparedManifest, 'tokenizer' | 'maxLength'>; readonly dir: string }
  | { readonly features: readonly Feature[] };

export function checkDataFitsModel(data: TokenizedData, model: ModelLimits): void {
  if ('manifest' in data) {
    const { manifest, dir } = data;
    if (manifest.tokenizer.vocabSize > model.vocabSize) {
      throw new QaFtError('BAD_CONFIG', `the data in ${dir} was tokenized with a ${manifest.tokenizer.vocabSize}-token vocabulary, but the model has vocab_size ${model.vocabSize}`, {
        hint: 'prepare the data with the model’s tokenizer',
      });
    }
    if (manifest.maxLength > model.maxPositionEmbeddings) {
      throw new QaFtError('BAD_CONFIG', `the data in ${dir} has windows of up to ${manifest.maxLength} tokens, but the model has max_position_embeddings ${model.maxPositionEmbeddings}`, {
        hint: 'run `qa-ft prepare --max-length N` with N <= max_position_embeddings',
      });
    }
    return;
  }
  for (const f of data.features) {
    if (f.inputIds.length > model.maxPositionEmbeddings) {
      throw new QaFtError('BAD_DATA', `example '${f.exampleId}' has a ${f.inputIds.length}-token window, above the model's ${model.maxPositionEmbeddings} positions`, {
        hint: 'prepare the data with a smaller --max-length',
      });
    }
    const id = f.inputIds.find((t) => t >= model.vocabSize);
    if (id !== undefined) {
      throw new QaFtError('BAD_DATA', `example '${f.exampleId}' has token id ${id}, beyond the model's ${model.vocabSize}-token vocabulary`, {
        hint: "the data was prepared with another model's tokenizer: run `qa-ft prepare --tokenizer` with this model",
      });
    }
  }
}
