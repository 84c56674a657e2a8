/**
 * Does tokenized data fit the model it is about to be fed to? Windows no longer than the model's position table,
 * token ids within its vocabulary, token type ids within its type table (and present when it has types to tell
 * apart): a one-line error otherwise, naming both numbers and what to do. And does a tokenizer fit the model it is
 * saved or exported with: no id beyond its embedding rows, the same padding, classifier and separator tokens.
 *
 * Training checks what the prepared-data manifest declares: it pads batches to the declared max length and copies
 * the declared tokenizer into the saved model. Evaluation checks the windows themselves, as they are fed.
 */
import { type OptionText, QaFtError, userError } from '../errors.js';
import type { Feature } from '../records.js';
import type { PreparedManifest } from './prepared.js';
import type { QaTokenizer } from './tokenizer.js';

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
      throw new QaFtError(
        'BAD_CONFIG',
        `the data in ${dir} was tokenized with a ${manifest.tokenizer.vocabSize}-token vocabulary, but the model has vocab_size ${model.vocabSize}`,
        {
          hint: 'prepare the data with the model’s tokenizer',
        },
      );
    }
    if (manifest.maxLength > model.maxPositionEmbeddings) {
      throw new QaFtError(
        'BAD_CONFIG',
        `the data in ${dir} has windows of up to ${manifest.maxLength} tokens, but the model has max_position_embeddings ${model.maxPositionEmbeddings}`,
        {
          hint: 'run `qa-ft prepare --max-length N` with N <= max_position_embeddings',
        },
      );
    }
    const types = model.typeVocabSize ?? 0;
    if (types > 1 && manifest.tokenizer.tokenTypeIds === undefined) {
      // older data has no token type ids: training on zeros would not be the model Python trains
      throw new QaFtError(
        'BAD_DATA',
        `the data in ${dir} was prepared by an older qa-ft without token type ids, which this model (type_vocab_size ${types}) takes`,
        {
          hint: 'run `qa-ft prepare` again',
        },
      );
    }
    if (types === 1 && manifest.tokenizer.tokenTypeIds === true) {
      throw new QaFtError(
        'BAD_CONFIG',
        `the data in ${dir} has token type ids 0 and 1 (a BERT-style tokenizer), but the model has type_vocab_size 1`,
        {
          hint: 'prepare the data with the model’s tokenizer',
        },
      );
    }
    return;
  }
  for (const f of data.features) {
    if (f.inputIds.length > model.maxPositionEmbeddings) {
      throw new QaFtError(
        'BAD_DATA',
        `example '${f.exampleId}' has a ${f.inputIds.length}-token window, above the model's ${model.maxPositionEmbeddings} positions`,
        {
          hint: 'prepare the data with a smaller --max-length',
        },
      );
    }
    const types = model.typeVocabSize ?? 0;
    const type = types > 0 ? f.tokenTypeIds?.find((t) => t >= types) : undefined;
    if (type !== undefined) {
      throw new QaFtError(
        'BAD_DATA',
        `example '${f.exampleId}' has token type id ${type}, beyond the model's type_vocab_size ${types}`,
        {
          hint: "the data was tokenized with another model's tokenizer: use this model's",
        },
      );
    }
    const id = f.inputIds.find((t) => t >= model.vocabSize);
    if (id !== undefined) {
      throw new QaFtError(
        'BAD_DATA',
        `example '${f.exampleId}' has token id ${id}, beyond the model's ${model.vocabSize}-token vocabulary`,
        {
          hint: "the data was prepared with another model's tokenizer: run `qa-ft prepare --tokenizer` with this model",
        },
      );
    }
  }
}

/** What a model's config says of its tokens (a model config has these). */
export interface ModelTokens {
  readonly vocabSize: number;
  readonly padTokenId: number;
  /** config.json as read: its `cls_token_id` / `bos_token_id` and `sep_token_id` / `eos_token_id`, where stated. */
  readonly json: Readonly<Record<string, unknown>>;
}

/**
 * Refuses a tokenizer that does not go with the model (`modelSource`: its config.json, for messages): an id at or
 * above the model's embedding rows (`vocab_size`), which would index past the table; a padding id other than
 * `pad_token_id` (the row the model never trains); a classifier or separator id other than the one the config
 * states (`cls_token_id`, else `bos_token_id`, as RoBERTa's and ALBERT's configs name `<s>` / `[CLS]`; likewise
 * `sep_token_id`, else `eos_token_id`). Configs that state neither (BERT's, DistilBERT's) are not compared.
 */
export function checkTokenizerFitsModel(
  tokenizer: Pick<QaTokenizer, 'dir' | 'idLimit' | 'padTokenId' | 'clsTokenId' | 'sepTokenId' | 'idToToken'>,
  model: ModelTokens,
  modelSource: string,
  hint: string | OptionText,
): void {
  const misfit = (message: string): QaFtError => userError('BAD_CONFIG', message, hint);
  const where = `the tokenizer in ${tokenizer.dir}`;
  const limit = tokenizer.idLimit();
  if (limit > model.vocabSize) {
    throw misfit(
      `${where} has token ids up to ${limit - 1}, but the model (${modelSource}) has ${model.vocabSize} embedding rows (vocab_size)`,
    );
  }
  const name = (id: number): string => {
    const token = tokenizer.idToToken(id);
    return token === null ? `${id}` : `${id} (${token})`;
  };
  if (tokenizer.padTokenId !== model.padTokenId) {
    throw misfit(
      `${where} pads with id ${name(tokenizer.padTokenId)}, but the model (${modelSource}) has pad_token_id ${model.padTokenId}`,
    );
  }
  const stated = (...fields: string[]): [string, number] | undefined => {
    for (const field of fields) {
      const v = model.json[field];
      if (typeof v === 'number') return [field, v];
    }
    return undefined;
  };
  const specials: Array<[string, number, [string, number] | undefined]> = [
    ['classifier token', tokenizer.clsTokenId, stated('cls_token_id', 'bos_token_id')],
    ['separator token', tokenizer.sepTokenId, stated('sep_token_id', 'eos_token_id')],
  ];
  for (const [what, id, config] of specials) {
    if (config !== undefined && config[1] !== id) {
      throw misfit(
        `${where} has the ${what} ${name(id)}, but the model (${modelSource}) has ${config[0]} ${config[1]}`,
      );
    }
  }
}
