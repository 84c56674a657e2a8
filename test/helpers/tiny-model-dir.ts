/**
 * A small random DistilBERT-QA model directory for CLI tests: the real distilbert-base-uncased tokenizer files
 * with a tiny encoder (dim 32, 1 layer), so the CLI runs end to end in well under a second per question.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRandomQaModel } from '../../src/model/qa-model.js';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { sharedDir } from './cli.js';

export const BASE_TOKENIZER_DIR = join(sharedDir, 'models', 'distilbert-base-uncased');

export async function writeTinyModelDir(
  dir: string,
  options: { maxPositions?: number; seed?: number } = {},
): Promise<void> {
  const config = parseDistilBertConfig(
    {
      model_type: 'distilbert',
      vocab_size: 30522,
      dim: 32,
      n_layers: 1,
      n_heads: 2,
      hidden_dim: 64,
      max_position_embeddings: options.maxPositions ?? 512,
      dropout: 0,
      attention_dropout: 0,
      qa_dropout: 0,
    },
    'tiny test config',
  );
  const model = await createRandomQaModel(config, { backend: 'cpu', seed: options.seed ?? 3 });
  try {
    await model.save(dir);
  } finally {
    model.dispose();
  }
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt'])
    await copyFile(join(BASE_TOKENIZER_DIR, f), join(dir, f));
}
