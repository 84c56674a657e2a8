/**
 * Does tokenized data fit the model it is about to be fed to? Windows no longer than the model's position table,
 * token ids within its vocabulary, token type ids within its type table (and present when it has types to tell
 * apart): a one-line error otherwise, naming both numbers and what to do.
 *
 * Training checks what the prepared-data manifest declares: it pads batches to the declared max length and copies
 * the declared tokenizer into the saved model. Evaluation checks the windows themselves, as they are fed.
 */
import { QaFtError } from '../errors.js';
import type { Feature } from '../records.js';
import type { PreparedManifest } from './prepared.js';

/** What a model can take (a model config has these). */
export interface ModelLimits {
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
  /** Rows of its token type table (config `type_vocab_size`); absent or 0: it takes no token type ids (DistilBERT). */
  readonly typeVocabSize?: number;
}

/**
 * Whether batches for this model carry token type ids: it has a token type table (BERT, ELECTRA, ALBERT; RoBERTa's
 * single row), as Python passes `token_type_ids` only to models whose forward takes them. DistilBERT and DeBERTa-v3
 * (`type_vocab_size` 0) take none.
 */
export function takesTokenTypeIds(model: ModelLimits): boolean {
  return (model.typeVocabSize ?? 0) > 0;
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
    const types = model.typeVocabSize ?? 0;
    if (types > 1 && manifest.tokenizer.tokenTypeIds === undefined) {
      // older data has no token type ids: training on zeros would not be the model Python trains
      throw new QaFtError('BAD_DATA', `the data in ${dir} was prepared by an older qa-ft without token type ids, which this model (type_vocab_size ${types}) takes`, {
        hint: 'run `qa-ft prepare` again',
      });
    }
    if (types === 1 && manifest.tokenizer.tokenTypeIds === true) {
      throw new QaFtError('BAD_CONFIG', `the data in ${dir} has token type ids 0 and 1 (a BERT-style tokenizer), but the model has type_vocab_size 1`, {
        hint: 'prepare the data with the model’s tokenizer',
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
    const types = model.typeVocabSize ?? 0;
    const type = types > 0 ? f.tokenTypeIds?.find((t) => t >= types) : undefined;
    if (type !== undefined) {
      throw new QaFtError('BAD_DATA', `example '${f.exampleId}' has token type id ${type}, beyond the model's type_vocab_size ${types}`, {
        hint: "the data was tokenized with another model's tokenizer: use this model's",
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
