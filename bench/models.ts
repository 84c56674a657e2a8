/**
 * The models the bench times, as Hugging Face config.json objects written to a temporary directory that both qa-ft
 * (bench/worker.ts) and transformers (bench/torch.ts) load, so the two sides build the same shapes:
 *  - distilbert-base: ../shared's distilbert-base-uncased config (the tutorial's model);
 *  - bert-base: bert-base-uncased's config (12 layers; transformers' BertConfig defaults), issue #11's benchmark;
 *  - small: distilbert-base's config at dim 128, 2 layers, 2 heads, FFN 512, issue #14's per-op-overhead benchmark.
 * Weights are random: speed does not depend on their values.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODEL_DIR } from './paths.js';

export const BENCH_MODELS = ['distilbert-base', 'bert-base', 'small'] as const;
export type BenchModel = (typeof BENCH_MODELS)[number];

type ConfigJson = Record<string, unknown>;

function distilbertBase(): ConfigJson {
  return JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as ConfigJson;
}

/** bert-base-uncased's config.json (the values transformers' BertConfig() defaults to). */
const BERT_BASE: ConfigJson = {
  architectures: ['BertForQuestionAnswering'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
};

/** The model's config.json; `layers` replaces its number of layers (the field name differs by family). */
export function benchConfig(model: BenchModel, layers?: number): ConfigJson {
  const c: ConfigJson =
    model === 'bert-base'
      ? { ...BERT_BASE }
      : model === 'small'
        ? { ...distilbertBase(), dim: 128, n_layers: 2, n_heads: 2, hidden_dim: 512 }
        : distilbertBase();
  if (layers !== undefined) c[c['model_type'] === 'distilbert' ? 'n_layers' : 'num_hidden_layers'] = layers;
  return c;
}

/** A temporary directory holding the model's config.json. */
export function writeBenchConfig(model: BenchModel, layers?: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qa-ft-bench-'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(benchConfig(model, layers), null, 1));
  return dir;
}
