/**
 * The Hugging Face Rust tokenizer (npm `tokenizers`), loaded from a model directory, behind the small interface
 * that windows, features and inference need. Every family comes through `tokenizer.json` (WordPiece with BERT's
 * pair template, byte-level BPE with RoBERTa's `<s> A </s></s> B </s>` and offset trimming, SentencePiece
 * Unigram/Metaspace for ALBERT and DeBERTa-v3); a directory without it is built from `vocab.txt` (WordPiece, as
 * transformers' BertConverter) or `vocab.json` + `merges.txt` (byte-level BPE, as its RobertaConverter).
 *
 * Offsets: the Node binding encodes with `encode_char_offsets`, so offsets count Unicode code points exactly as
 * Python's fast tokenizers report them (checked for emoji, accents and CJK in test/tokenize/tokenizer.test.ts).
 *
 * A pair encoding in the Rust library is the two sequences encoded independently and then joined by the
 * post-processor (which also trims RoBERTa's offsets per sequence), so encoding question and context separately
 * (without special tokens) and joining them with the pair template below gives the same ids, offsets and type ids
 * as `tokenizer(question, context)` — and lets callers cache a context shared by several questions.
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
import { TOKENIZER_FILES, TOKENIZER_NEEDS } from '../hf-files.js';

/** Ids and code-point offsets of one text encoded without special tokens. */
export interface TextEncoding {
  readonly ids: number[];
  readonly offsets: [number, number][];
  /** Per token, the index of the pre-tokenizer word it belongs to (`word_ids()`); absent from hand-made encodings. */
  readonly words?: (number | null)[];
}

/** A full pair encoding with special tokens and no truncation (what `tokenizer(q, c)` returns in Python). */
export interface PairEncoding {
  readonly ids: number[];
  readonly offsets: [number, number][];
  /** 0 for question tokens, 1 for context tokens, null for special tokens. */
  readonly sequenceIds: (number | null)[];
  /** The post-processor's token type ids (0 for the question part, 1 for the context part in BERT's template). */
  readonly typeIds: number[];
}

/**
 * The token type ids of a pair's parts, as the post-processor assigns them (BERT: `[CLS] A [SEP]` 0, `B [SEP]` 1).
 * Present only when some of them are not 0: RoBERTa's processor and single-type tokenizers give none.
 */
export interface PairTypeIds {
  readonly prefix: readonly number[];
  readonly question: number;
  readonly middle: readonly number[];
  readonly context: number;
  readonly suffix: readonly number[];
}

/** The special tokens the post-processor puts around a pair: `prefix A middle B suffix`. */
export interface PairTemplate {
  readonly prefix: readonly number[];
  readonly middle: readonly number[];
  readonly suffix: readonly number[];
  /** Token type ids of each part; absent when the post-processor gives only type 0. */
  readonly typeIds?: PairTypeIds;
}

export interface QaTokenizer {
  /** The directory it was loaded from (absolute). */
  readonly dir: string;
  /** Absolute paths of the tokenizer files found in `dir` (copy these into a checkpoint). */
  readonly files: readonly string[];
  readonly padTokenId: number;
  /** The classifier token (`[CLS]`, `<s>`): SQuAD 2.0's no-answer label points at it. */
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  /** Tokens in the vocabulary, added tokens included. */
  readonly vocabSize: number;
  /**
   * One more than the highest id it can give: the embedding rows it needs (above `vocabSize` only when an added
   * token's id leaves a gap). Walks the whole vocabulary: for a check made once, not per question.
   */
  idLimit(): number;
  /** The tokenizer's model: `WordPiece`, `BPE`, `Unigram`, … (tokenizer.json's `model.type`; read on demand). */
  modelType(): Promise<string>;
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

type TokenSetting = string | { content?: string } | null;

interface TokenizerConfig {
  do_lower_case?: boolean;
  model_max_length?: number;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  add_prefix_space?: boolean;
  trim_offsets?: boolean;
  padding_side?: string;
  pad_token?: TokenSetting;
  cls_token?: TokenSetting;
  sep_token?: TokenSetting;
  unk_token?: TokenSetting;
  mask_token?: TokenSetting;
}

/**
 * Loads the tokenizer of a directory: `tokenizer.json` when present; otherwise a BERT WordPiece tokenizer from
 * `vocab.txt` (+ `tokenizer_config.json`'s `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`), or a
 * RoBERTa byte-level BPE tokenizer from `vocab.json` + `merges.txt` (+ `add_prefix_space`, `trim_offsets`), as
 * transformers' converters build them. Anything else is a one-line error naming what is missing.
 */
export async function loadTokenizer(dir: string): Promise<QaTokenizer> {
  const absDir = resolve(dir);
  if (!existsSync(absDir)) {
    throw new QaFtError('FILE_NOT_FOUND', `tokenizer directory ${dir} does not exist`, {
      hint: 'pass --tokenizer DIR with tokenizer.json (or vocab.txt, or vocab.json + merges.txt)',
    });
  }
  const files = tokenizerFilesIn(absDir);
  const configPath = join(absDir, 'tokenizer_config.json');
  const config = await readConfig(configPath);
  if (config.padding_side !== undefined && config.padding_side !== 'right') {
    // run_qa.py's pad_on_right = False puts the context first; no family qa-ft supports pads on the left
    throw new QaFtError(
      'BAD_CONFIG',
      `${configPath}: padding_side is ${JSON.stringify(config.padding_side)}, expected "right"`,
      {
        hint: 'qa-ft supports tokenizers that pad on the right (question first), as every BERT-style family does',
      },
    );
  }
  const jsonPath = join(absDir, 'tokenizer.json');
  const present = (f: string): boolean => existsSync(join(absDir, f));
  let tokenizer: Tokenizer;
  let modelType: () => Promise<string>;
  if (present('tokenizer.json')) {
    // the binding does not say which model it built: read it off the file, when asked (a 30k vocabulary's JSON takes
    // ~0.1 s)
    modelType = async () =>
      String((JSON.parse(await readFile(jsonPath, 'utf8')) as { model?: { type?: unknown } }).model?.type ?? 'unknown');
    try {
      tokenizer = Tokenizer.fromString(await readFile(jsonPath, 'utf8'));
    } catch (e) {
      throw new QaFtError('BAD_FORMAT', `${jsonPath} is not a valid tokenizer.json: ${firstLine(e)}`);
    }
  } else if (present('vocab.txt')) {
    tokenizer = await buildWordPiece(join(absDir, 'vocab.txt'), config);
    modelType = () => Promise.resolve('WordPiece');
  } else if (present('vocab.json') && present('merges.txt')) {
    tokenizer = await buildByteLevelBpe(join(absDir, 'vocab.json'), join(absDir, 'merges.txt'), config);
    modelType = () => Promise.resolve('BPE');
  } else {
    const half = present('vocab.json')
      ? ' (vocab.json without merges.txt)'
      : present('merges.txt')
        ? ' (merges.txt without vocab.json)'
        : '';
    throw new QaFtError('FILE_NOT_FOUND', `no ${TOKENIZER_NEEDS} in ${dir}${half}`, {
      hint: 'pass --tokenizer DIR pointing at a model directory with its tokenizer files (a SentencePiece model needs its tokenizer.json)',
    });
  }
  return wrap(tokenizer, absDir, files, config, modelType);
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

/** The token a tokenizer_config.json setting names (a string, or an AddedToken object), if any. */
function tokenName(v: TokenSetting | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v.content === 'string') return v.content;
  return undefined;
}

async function buildWordPiece(vocabPath: string, config: TokenizerConfig): Promise<Tokenizer> {
  const lowercase = config.do_lower_case ?? true;
  const unk = tokenName(config.unk_token) ?? '[UNK]';
  const cls = tokenName(config.cls_token) ?? '[CLS]';
  const sep = tokenName(config.sep_token) ?? '[SEP]';
  const pad = tokenName(config.pad_token) ?? '[PAD]';
  const mask = tokenName(config.mask_token) ?? '[MASK]';
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
  tokenizer.addSpecialTokens([pad, unk, cls, sep, mask].filter((t) => tokenizer.tokenToId(t) !== null));
  return tokenizer;
}

/**
 * RoBERTa's byte-level BPE from `vocab.json` + `merges.txt`, as transformers' RobertaConverter builds it: ByteLevel
 * pre-tokenizer and decoder, RobertaProcessing (`<s> A </s></s> B </s>`, offsets trimmed of the spaces the
 * byte-level pre-tokenizer folds into tokens). Written as tokenizer.json text and loaded through the library,
 * because the Node binding exports no ByteLevel decoder to build it piecewise.
 */
async function buildByteLevelBpe(vocabPath: string, mergesPath: string, config: TokenizerConfig): Promise<Tokenizer> {
  let vocab: Record<string, number>;
  try {
    const parsed: unknown = JSON.parse(await readFile(vocabPath, 'utf8'));
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      Array.isArray(parsed) ||
      Object.values(parsed).some((v) => !Number.isInteger(v))
    ) {
      throw new Error('expected an object of token → integer id');
    }
    vocab = parsed as Record<string, number>;
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${vocabPath} is not a BPE vocabulary: ${firstLine(e)}`);
  }
  // merges.txt: an optional "#version" line, then one "left right" pair per line
  const merges = (await readFile(mergesPath, 'utf8'))
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  const bad = merges.findIndex((m) => m.split(' ').length !== 2);
  if (bad >= 0)
    throw new QaFtError(
      'BAD_FORMAT',
      `${mergesPath}: merge ${bad + 1} is not two tokens separated by a space: ${JSON.stringify(merges[bad])}`,
    );
  const cls = tokenName(config.cls_token) ?? '<s>';
  const sep = tokenName(config.sep_token) ?? '</s>';
  const names = [
    cls,
    tokenName(config.pad_token) ?? '<pad>',
    sep,
    tokenName(config.unk_token) ?? '<unk>',
    tokenName(config.mask_token) ?? '<mask>',
  ];
  const idOf = (t: string): number => {
    const id = vocab[t];
    if (id === undefined) throw new QaFtError('BAD_FORMAT', `${vocabPath} lacks the special token ${t}`);
    return id;
  };
  const addPrefixSpace = config.add_prefix_space ?? false;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...new Set(names)]
      .filter((t) => vocab[t] !== undefined)
      .map((t) => ({
        id: idOf(t),
        content: t,
        single_word: false,
        lstrip: t === names[4],
        rstrip: false,
        normalized: false,
        special: true,
      })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [sep, idOf(sep)],
      cls: [cls, idOf(cls)],
      trim_offsets: config.trim_offsets ?? true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  try {
    return Tokenizer.fromString(JSON.stringify(json));
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${vocabPath} + ${mergesPath} do not make a BPE tokenizer: ${firstLine(e)}`);
  }
}

function toTextEncoding(e: Encoding): TextEncoding {
  return {
    ids: e.getIds(),
    offsets: e.getOffsets() as [number, number][],
    words: e.getWordIds().map((w) => w ?? null),
  };
}

async function wrap(
  tokenizer: Tokenizer,
  dir: string,
  files: string[],
  config: TokenizerConfig,
  modelType: () => Promise<string>,
): Promise<QaTokenizer> {
  // Many hub tokenizer.json files are saved with truncation and padding on; Python's fast tokenizer turns both off
  // for a call that asks for neither, and windows.ts cuts and batches.ts pads: whole, unpadded encodings here.
  tokenizer.disableTruncation();
  tokenizer.disablePadding();
  const pairTemplate = await learnPairTemplate(tokenizer, dir);
  // a special token named in tokenizer_config.json, else the first of the usual names the vocabulary has
  const special = (setting: TokenSetting | undefined, usual: readonly string[]): number | undefined => {
    for (const name of [tokenName(setting), ...usual]) {
      const id = name === undefined ? null : tokenizer.tokenToId(name);
      if (id !== null && id !== undefined) return id;
    }
    return undefined;
  };
  // [CLS] / <s>: as named, else the template's first special token (where run_qa's cls_index finds it)
  const clsTokenId = special(config.cls_token, ['[CLS]', '<s>']) ?? pairTemplate.prefix[0] ?? 0;
  const sepTokenId = special(config.sep_token, ['[SEP]', '</s>']) ?? pairTemplate.suffix.at(-1) ?? 0;
  const padTokenId = special(config.pad_token, ['[PAD]', '<pad>']) ?? 0;
  return {
    dir,
    files,
    padTokenId,
    clsTokenId,
    sepTokenId,
    vocabSize: tokenizer.getVocabSize(true),
    idLimit() {
      let highest = -1;
      for (const id of Object.values(tokenizer.getVocab(true))) if (id > highest) highest = id;
      return Math.max(tokenizer.getVocabSize(true), highest + 1);
    },
    modelType,
    // transformers writes a huge sentinel (1e30) when the length is unknown
    ...(typeof config.model_max_length === 'number' && config.model_max_length < 1e9
      ? { modelMaxLength: config.model_max_length }
      : {}),
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
        typeIds: e.getTypeIds(),
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

/** Reads the special tokens and type ids around a pair off one encoding of a probe pair. */
async function learnPairTemplate(tokenizer: Tokenizer, dir: string): Promise<PairTemplate> {
  const e = await tokenizer.encode('a', 'b');
  const ids = e.getIds();
  const types = e.getTypeIds();
  const seq = e.getSequenceIds();
  const firstA = seq.indexOf(0);
  const lastA = seq.lastIndexOf(0);
  const firstB = seq.indexOf(1);
  const lastB = seq.lastIndexOf(1);
  if (firstA < 0 || firstB < 0 || firstB < lastA) {
    throw new QaFtError(
      'BAD_FORMAT',
      `the tokenizer in ${dir} does not encode (question, context) pairs as two sequences`,
    );
  }
  const typeOf = (from: number, to: number): number => {
    const t = new Set(types.slice(from, to + 1));
    if (t.size !== 1)
      throw new QaFtError('BAD_FORMAT', `the tokenizer in ${dir} gives one sequence of a pair several token types`);
    return [...t][0] as number;
  };
  const typeIds: PairTypeIds = {
    prefix: types.slice(0, firstA),
    question: typeOf(firstA, lastA),
    middle: types.slice(lastA + 1, firstB),
    context: typeOf(firstB, lastB),
    suffix: types.slice(lastB + 1),
  };
  return {
    prefix: ids.slice(0, firstA),
    middle: ids.slice(lastA + 1, firstB),
    suffix: ids.slice(lastB + 1),
    ...(types.some((t) => t !== 0) ? { typeIds } : {}),
  };
}
