/**
 * The `tokenizer_config.json` saved beside a trained model: the tokenizer's own settings (lower-casing, special
 * tokens, …) kept, with `tokenizer_class` and `model_input_names` made to fit the model. transformers' AutoTokenizer
 * takes the class from this file before it looks at the model's config, so data prepared with a BERT tokenizer
 * directory would otherwise give a DistilBERT a `BertTokenizer`, whose `token_type_ids` DistilBERT's forward does not
 * take. `model_input_names` (read by transformers 4.x and 5.x alike) lists what the model was trained on: token type
 * ids only for a model that tells types apart (`type_vocab_size` > 1; not DistilBERT, RoBERTa's single type or
 * DeBERTa-v3), as the training batches carry them.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOKENIZER_CONFIG_FILE } from '../hf-files.js';
import type { ModelLimits } from './model-fit.js';
import type { QaTokenizer } from './tokenizer.js';

/** The tokenizer class of a model's family (config.ts's `familyTokenizer`) and the tokenizer model it is built on. */
interface FamilyTokenizer {
  readonly tokenizerClass: string;
  readonly model: string;
}

/**
 * The text of the fitted `tokenizer_config.json` for `tokenizer` saved with a model of `family`. The class is the
 * family's when the tokenizer is built on the model that class expects (a WordPiece tokenizer for DistilBERT); a
 * tokenizer of another kind (a random-init model trained with some other tokenizer) keeps the class it names, as the
 * family's class could not load its files.
 */
export async function fittedTokenizerConfig(
  tokenizer: Pick<QaTokenizer, 'dir' | 'modelType'>,
  family: FamilyTokenizer,
  model: ModelLimits,
): Promise<string> {
  const path = join(tokenizer.dir, TOKENIZER_CONFIG_FILE);
  // loadTokenizer has read it as a JSON object already
  const config = existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>) : {};
  const sameKind = (await tokenizer.modelType()) === family.model;
  const tokenizerClass = sameKind ? family.tokenizerClass : config.tokenizer_class;
  const inputs =
    (model.typeVocabSize ?? 0) > 1
      ? ['input_ids', 'token_type_ids', 'attention_mask']
      : ['input_ids', 'attention_mask'];
  const fitted: Record<string, unknown> = { ...config, model_input_names: inputs };
  if (typeof tokenizerClass === 'string') fitted.tokenizer_class = tokenizerClass;
  return `${JSON.stringify(fitted, null, 2)}\n`;
}
