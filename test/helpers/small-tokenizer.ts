/**
 * A small uncased WordPiece tokenizer that fits the 120-row fixture models of shared/fixtures (vocab_size 120,
 * pad_token_id 0): 113 tokens, BERT's special tokens at 0–4, letters, digits, punctuation, `##` letters and digits, and a few
 * words, so any text encodes. Written as vocab.txt, tokenizer_config.json (distilbert-base-uncased's settings) and
 * tokenizer.json (built by the tokenizers library as transformers' BertConverter builds one), for tests that put a
 * tokenizer next to those models.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder } from 'tokenizers';
import { BASE_TOKENIZER_DIR } from './tiny-model-dir.js';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');
const WORDS = [
  'the',
  'of',
  'and',
  'in',
  'to',
  'is',
  'was',
  'what',
  'who',
  'when',
  'where',
  'which',
  'did',
  'how',
  'for',
  'on',
  'by',
  'with',
  'as',
  'at',
  'from',
  'that',
  'it',
  'are',
  'year',
];

/** The vocabulary, in id order. */
export const SMALL_VOCAB: readonly string[] = [
  ...SPECIALS,
  ...LETTERS,
  ...DIGITS,
  ...'.,?!\'-():;"'.split(''),
  ...[...LETTERS, ...DIGITS].map((c) => `##${c}`),
  ...WORDS,
];

/** Writes the tokenizer into `dir` (created if needed) and returns `dir`. */
export async function writeSmallTokenizer(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.txt'), `${SMALL_VOCAB.join('\n')}\n`);
  await copyFile(join(BASE_TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  const tokenizer = new Tokenizer(
    WordPiece.init(Object.fromEntries(SMALL_VOCAB.map((t, i) => [t, i])), {
      unkToken: '[UNK]',
      continuingSubwordPrefix: '##',
    }),
  );
  tokenizer.setNormalizer(
    bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }),
  );
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setPostProcessor(bertProcessing(['[SEP]', 3], ['[CLS]', 2]));
  tokenizer.setDecoder(wordPieceDecoder('##', true));
  tokenizer.addSpecialTokens(SPECIALS);
  tokenizer.save(join(dir, 'tokenizer.json'));
  return dir;
}
