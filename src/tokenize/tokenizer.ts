/**
 * The Hugging Face Rust tokenizer (npm `tokenizers`), loaded from a model directory, behind the small interface
 * that windows, features and inference need.
 *
 * Offsets: the Node binding encodes with `encode_char_offsets`, so offsets count Unicode code points exactly as
 * Python's fast tokenizers report them (checked for emoji, accents and CJK in test/tokenize/tokenizer.test.ts).
 *
 * A pair encoding in the Rust library is the two sequences encoded independently and then joined by the
 * post-processor, so encoding question and context separately (without special tokens) and joining them with the
 * pair template below gives the same ids and offsets as `tokenizer(question, context)` — and lets callers cache a
 * context shared by several questions.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  wordPieceDecoder,
  type Encoding,
} from 'tokenizers';
import { firstLine, QaFtError } from '../errors.js';
import { TOKENIZER_FILES } from '../hf-files.js';

/** Ids and code-point offsets of one text encoded without special tokens. */
export interface TextEncoding {
  readonly ids: number[];
  readonly offsets: [number, number][];
}

/** A full pair encoding with special tokens and no truncation (what `tokenizer(q, c)` returns in Python). */
export interface PairEncoding {
  readonly ids: number[];
  readonly offsets: [number, number][];
  /** 0 for question tokens, 1 for context tokens, null for special tokens. */
  readonly sequenceIds: (number | null)[];
}

/** The special tokens the post-processor puts around a pair: `prefix A middle B suffix`. */
export interface PairTemplate {
  readonly prefix: readonly number[];
  readonly middle: readonly number[];
  readonly suffix: readonly number[];
}

export interface QaTokenizer {
  /** The directory it was loaded from (absolute). */
  readonly dir: string;
  /** Absolute paths of the tokenizer files found in `dir` (copy these into a checkpoint). */
  readonly files: readonly string[];
  readonly padTokenId: number;
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  readonly vocabSize: number;
  /** `model_max_length` of tokenizer_config.json (the model's positions), when it states a real one. */
  readonly modelMaxLength?: number;
  readonly pairTemplate: PairTemplate;
  /** One text, no special tokens. */
  encodeText(text: string): Promise<TextEncoding>;
  /** Many texts at once (parallel in Rust), no special tokens. */
  encodeTexts(texts: readonly string[]): Promise<TextEncoding[]>;
  /** `[CLS] question [SEP] context [SEP]` without truncation, from the library's own post-processor. */
  encodePair(question: string, context: string): Promise<PairEncoding>;
  /** Text of `ids`; special tokens skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): Promise<string>;
  /** Token string of an id (e.g. `##lva`), or null when out of range. */
  idToToken(id: number): string | null;
}

/** Absolute paths of the tokenizer files present in `dir`. */
export function tokenizerFilesIn(dir: string): string[] {
  return TOKENIZER_FILES.map((f) => join(dir, f)).filter((p) => existsSync(p));
}

interface TokenizerConfig {
  do_lower_case?: boolean;
  model_max_length?: number;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  pad_token?: string | { content?: string };
  cls_token?: string | { content?: string };
  sep_token?: string | { content?: string };
  unk_token?: string | { content?: string };
}

/**
 * Loads the tokenizer of a model directory: `tokenizer.json` when present, otherwise a BERT WordPiece tokenizer
 * built from `vocab.txt` and `tokenizer_config.json` (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`),
 * as transformers' BertConverter does.
 */
export async function loadTokenizer(dir: string): Promise<QaTokenizer> {
  const absDir = resolve(dir);
  if (!existsSync(absDir)) {
    throw new QaFtError('FILE_NOT_FOUND', `tokenizer directory ${dir} does not exist`, {
      hint: 'pass --tokenizer DIR with tokenizer.json or vocab.txt',
    });
  }
  const files = tokenizerFilesIn(absDir);
  const config = await readConfig(join(absDir, 'tokenizer_config.json'));
  const jsonPath = join(absDir, 'tokenizer.json');
  const vocabPath = join(absDir, 'vocab.txt');
  let tokenizer: Tokenizer;
  if (existsSync(jsonPath)) {
    try {
      tokenizer = Tokenizer.fromString(await readFile(jsonPath, 'utf8'));
    } catch (e) {
      throw new QaFtError('BAD_FORMAT', `${jsonPath} is not a valid tokenizer.json: ${firstLine(e)}`);
    }
  } else if (existsSync(vocabPath)) {
    tokenizer = await buildWordPiece(vocabPath, config);
  } else {
    throw new QaFtError('FILE_NOT_FOUND', `no tokenizer.json or vocab.txt in ${dir}`, {
      hint: 'pass --tokenizer DIR pointing at a model directory with its tokenizer files',
    });
  }
  return wrap(tokenizer, absDir, files, config);
}

async function readConfig(path: string): Promise<TokenizerConfig> {
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    return parsed as TokenizerConfig;
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path} is not valid JSON: ${firstLine(e)}`);
  }
}

function tokenName(v: TokenizerConfig['pad_token'], fallback: string): string {
  if (typeof v === 'string') return v;
  if (v && typeof v.content === 'string') return v.content;
  return fallback;
}

async function buildWordPiece(vocabPath: string, config: TokenizerConfig): Promise<Tokenizer> {
  const lowercase = config.do_lower_case ?? true;
  const unk = tokenName(config.unk_token, '[UNK]');
  const cls = tokenName(config.cls_token, '[CLS]');
  const sep = tokenName(config.sep_token, '[SEP]');
  const pad = tokenName(config.pad_token, '[PAD]');
  let model;
  try {
    model = await WordPiece.fromFile(vocabPath, { unkToken: unk, continuingSubwordPrefix: '##' });
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${vocabPath} is not a WordPiece vocabulary: ${firstLine(e)}`);
  }
  const tokenizer = new Tokenizer(model);
  tokenizer.setNormalizer(
    bertNormalizer({
      cleanText: true,
      handleChineseChars: config.tokenize_chinese_chars ?? true,
      // transformers: strip_accents None means "follow lowercase"
      stripAccents: config.strip_accents ?? lowercase,
      lowercase,
    }),
  );
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setDecoder(wordPieceDecoder('##', true));
  const clsId = tokenizer.tokenToId(cls);
  const sepId = tokenizer.tokenToId(sep);
  if (clsId === null || sepId === null) {
    throw new QaFtError('BAD_FORMAT', `${vocabPath} lacks the special tokens ${cls} and ${sep}`);
  }
  tokenizer.setPostProcessor(bertProcessing([sep, sepId], [cls, clsId]));
  tokenizer.addSpecialTokens([pad, unk, cls, sep, tokenName(undefined, '[MASK]')].filter((t) => tokenizer.tokenToId(t) !== null));
  return tokenizer;
}

function toTextEncoding(e: Encoding): TextEncoding {
  return { ids: e.getIds(), offsets: e.getOffsets() as [number, number][] };
}

async function wrap(tokenizer: Tokenizer, dir: string, files: string[], config: TokenizerConfig): Promise<QaTokenizer> {
  const idOf = (name: string, fallback: number): number => tokenizer.tokenToId(name) ?? fallback;
  const padTokenId = idOf(tokenName(config.pad_token, '[PAD]'), 0);
  const clsTokenId = idOf(tokenName(config.cls_token, '[CLS]'), 0);
  const sepTokenId = idOf(tokenName(config.sep_token, '[SEP]'), 0);
  const pairTemplate = await learnPairTemplate(tokenizer, dir);
  return {
    dir,
    files,
    padTokenId,
    clsTokenId,
    sepTokenId,
    vocabSize: tokenizer.getVocabSize(true),
    // transformers writes a huge sentinel (1e30) when the length is unknown
    ...(typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? { modelMaxLength: config.model_max_length } : {}),
    pairTemplate,
    async encodeText(text) {
      return toTextEncoding(await tokenizer.encode(text, null, { addSpecialTokens: false }));
    },
    async encodeTexts(texts) {
      if (texts.length === 0) return [];
      const encodings = await tokenizer.encodeBatch([...texts], { addSpecialTokens: false });
      return encodings.map(toTextEncoding);
    },
    async encodePair(question, context) {
      const e = await tokenizer.encode(question, context);
      return {
        ids: e.getIds(),
        offsets: e.getOffsets() as [number, number][],
        sequenceIds: e.getSequenceIds().map((s) => (s === undefined ? null : s)),
      };
    },
    decode(ids, options = {}) {
      return tokenizer.decode([...ids], options.skipSpecialTokens ?? true);
    },
    idToToken(id) {
      return tokenizer.idToToken(id);
    },
  };
}

/** Reads the special tokens around a pair off one encoding of a probe pair. */
async function learnPairTemplate(tokenizer: Tokenizer, dir: string): Promise<PairTemplate> {
  const e = await tokenizer.encode('a', 'b');
  const ids = e.getIds();
  const seq = e.getSequenceIds();
  const firstA = seq.indexOf(0);
  const lastA = seq.lastIndexOf(0);
  const firstB = seq.indexOf(1);
  const lastB = seq.lastIndexOf(1);
  if (firstA < 0 || firstB < 0 || firstB < lastA) {
    throw new QaFtError('BAD_FORMAT', `the tokenizer in ${dir} does not encode (question, context) pairs as two sequences`);
  }
  return { prefix: ids.slice(0, firstA), middle: ids.slice(lastA + 1, firstB), suffix: ids.slice(lastB + 1) };
}
