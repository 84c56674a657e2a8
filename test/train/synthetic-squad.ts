/**
 * A synthetic extractive-QA set for the learning smoke test: one fact per context, "ENTITY's ATTRIBUTE is VALUE .",
 * question "what is the ATTRIBUTE of ENTITY?", VALUE 1–3 words drawn from a shared pool so held-out answers are
 * new word combinations (the model must learn span boundaries, not memorise answers). Seeded, so every run is
 * the same data. Written as SQuAD v1.1 JSON.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';

const ENTITIES = [
  'alice',
  'bob',
  'carol',
  'david',
  'emma',
  'frank',
  'grace',
  'henry',
  'irene',
  'jack',
  'karen',
  'leo',
  'maria',
  'nina',
  'oscar',
  'paul',
  'rosa',
  'sam',
  'tina',
  'victor',
  'walter',
  'yvonne',
  'zoe',
  'peter',
  'laura',
  'simon',
];
const ATTRIBUTES = ['color', 'city', 'job', 'pet', 'food', 'sport', 'car', 'song', 'book', 'game'];
/** Attributes no context states: what the unanswerable questions of a SQuAD 2.0 set ask for. */
const ABSENT_ATTRIBUTES = ['age', 'height', 'school', 'hobby', 'movie'];
const WORDS = [
  'red',
  'green',
  'blue',
  'silver',
  'river',
  'mountain',
  'paris',
  'london',
  'doctor',
  'teacher',
  'dog',
  'cat',
  'bread',
  'rice',
  'tennis',
  'chess',
  'truck',
  'winter',
  'summer',
  'garden',
  'stone',
  'forest',
  'ocean',
  'castle',
  'tiger',
  'piano',
  'violin',
  'apple',
  'orange',
  'lemon',
  'rocket',
  'island',
  'desert',
  'window',
  'bridge',
  'candle',
  'planet',
  'horse',
  'eagle',
  'cloud',
  'storm',
  'dragon',
  'silk',
  'copper',
  'marble',
  'harbor',
  'valley',
  'meadow',
];

/** Mulberry32: a tiny seeded PRNG (the test only needs reproducible, well-spread draws). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `noAnswerShare` > 0 makes it SQuAD 2.0: that share of the questions ask for an attribute no context states
 * (`is_impossible`, the stated value as `plausible_answers`); the draws of a v1.1 set are unchanged. (Asking for
 * one of the stated attributes that this context lacks is a look-up the tiny model does not learn in CI time:
 * measured at chance, NoAns/HasAns EM trading around 50, after 400 steps.)
 */
export async function writeSyntheticSquad(path: string, rows: number, seed: number, noAnswerShare = 0): Promise<void> {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const paragraphs = [];
  for (let i = 0; i < rows; i++) {
    const entity = pick(ENTITIES);
    const attribute = pick(ATTRIBUTES);
    const n = 1 + Math.floor(random() * 3);
    const value = Array.from({ length: n }, () => pick(WORDS)).join(' ');
    const prefix = `${entity}'s ${attribute} is `;
    const answer = { text: value, answer_start: prefix.length };
    const impossible = noAnswerShare > 0 && random() < noAnswerShare;
    const asked = impossible ? pick(ABSENT_ATTRIBUTES) : attribute;
    const qa = { id: `q${i}`, question: `what is the ${asked} of ${entity}?` };
    paragraphs.push({
      context: `${prefix}${value} .`,
      qas: [
        impossible
          ? { ...qa, answers: [], is_impossible: true, plausible_answers: [answer] }
          : { ...qa, answers: [answer] },
      ],
    });
  }
  const version = noAnswerShare > 0 ? 'v2.0' : '1.1';
  await writeFile(path, JSON.stringify({ version, data: [{ title: 'synthetic facts', paragraphs }] }));
}

/** The tiny DistilBERT of the learning test (dim 64, 2 layers, 4 heads, FFN 128, no dropout), with the real vocabulary. */
export const TINY_CONFIG = {
  activation: 'gelu',
  architectures: ['DistilBertForQuestionAnswering'],
  attention_dropout: 0,
  dim: 64,
  dropout: 0,
  hidden_dim: 128,
  initializer_range: 0.02,
  max_position_embeddings: 64,
  model_type: 'distilbert',
  n_heads: 4,
  n_layers: 2,
  pad_token_id: 0,
  qa_dropout: 0,
  sinusoidal_pos_embds: false,
  vocab_size: 30522,
};

/**
 * A training run's inputs in `dir`: `rows` synthetic facts (`seed`, `noAnswerShare`) as facts.json, the tiny model
 * config (TINY_CONFIG unless `config`) as tiny-config.json, and facts.json prepared by `qa-ft prepare` (the
 * distilbert-base tokenizer, max length 48, then `prepareArgs`) into `dir/data`, asserted to succeed.
 */
export async function prepareSynthetic(
  dir: string,
  o: { rows: number; seed: number; noAnswerShare?: number; config?: object; prepareArgs?: string[] },
): Promise<{ data: string; config: string }> {
  const facts = join(dir, 'facts.json'),
    config = join(dir, 'tiny-config.json'),
    data = join(dir, 'data');
  await writeSyntheticSquad(facts, o.rows, o.seed, o.noAnswerShare);
  await writeFile(config, JSON.stringify(o.config ?? TINY_CONFIG));
  const prep = await runCli([
    'prepare',
    '--input',
    facts,
    '--split',
    'train',
    '--tokenizer',
    BASE_TOKENIZER_DIR,
    '--max-length',
    '48',
    '--out',
    data,
    ...(o.prepareArgs ?? []),
  ]);
  assert.equal(prep.code, 0, prep.stderr);
  return { data, config };
}
