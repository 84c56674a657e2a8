import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { encodeWindows } from '../../src/tokenize/windows.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const modelDir = join(sharedDir, 'models', 'distilbert-base-uncased');
let tok: QaTokenizer;
before(async () => {
  tok = await loadTokenizer(modelDir);
});

test("('What is your name?', 'My name is Sylvain.') → Python's ids", async () => {
  const [w] = await encodeWindows(tok, 'What is your name?', 'My name is Sylvain.', { maxLength: 384 });
  assert.deepEqual(
    w?.inputIds,
    [101, 2054, 2003, 2115, 2171, 1029, 102, 2026, 2171, 2003, 25353, 22144, 2378, 1012, 102],
  );
  // context tokens only carry offsets: my(0,2) name(3,7) is(8,10) sy(11,13) ##lva(13,16) ##in(16,18) .(18,19)
  assert.deepEqual(w?.offsets, [
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    [0, 2],
    [3, 7],
    [8, 10],
    [11, 13],
    [13, 16],
    [16, 18],
    [18, 19],
    null,
  ]);
  assert.equal(w?.contextStart, 7);
  assert.equal(w?.contextEnd, 13);
});

test('more known pairs give the vocabulary ids of their lowercased, accent-stripped words', async () => {
  // each expected id is the word's line number in vocab.txt (0-based), looked up independently
  const [a] = await encodeWindows(tok, 'Who wrote it?', 'Victor Hugo wrote it.', { maxLength: 384 });
  assert.deepEqual(a?.inputIds, [101, 2040, 2626, 2009, 1029, 102, 5125, 9395, 2626, 2009, 1012, 102]);
  const [b] = await encodeWindows(tok, 'Où?', 'À Paris, café 中文.', { maxLength: 384 });
  // lowercased and accents stripped: ou ? [SEP] a paris , cafe 中 文 .
  assert.deepEqual(b?.inputIds, [101, 15068, 1029, 102, 1037, 3000, 1010, 7668, 1746, 1861, 1012, 102]);
});

test('offsets count Unicode code points, as Python does, with emoji, accents and CJK', async () => {
  // code points: a=0 😀=1 b=2 ' '=3 café=4..7 ' '=8 中=9 文=10 ' '=11 x=12 (UTF-16 would put x at 13)
  const e = await tok.encodeText('a😀b café 中文 x');
  assert.deepEqual(e.offsets, [
    [0, 3],
    [4, 8],
    [9, 10],
    [10, 11],
    [12, 13],
  ]);
  assert.deepEqual(e.ids, [100, 7668, 1746, 1861, 1060]); // [UNK] for the word with the emoji
  const e2 = await tok.encodeText('😀😀 hello 👍🏽 world');
  assert.deepEqual(e2.offsets.slice(1), [
    [3, 8],
    [9, 11],
    [12, 17],
  ]);
});

test('encodeText + the pair template give the same encoding as the library encoding the pair', async () => {
  const q = 'How many students attend?';
  const c = 'The university enrolls 12,000 students 😀 from 80 countries.';
  const pair = await tok.encodePair(q, c);
  const [w] = await encodeWindows(tok, q, c, { maxLength: 384 });
  assert.deepEqual(w?.inputIds, pair.ids);
  pair.sequenceIds.forEach((s, i) => assert.deepEqual(w?.offsets[i], s === 1 ? pair.offsets[i] : null));
  assert.deepEqual(w?.tokenTypeIds, pair.typeIds);
  assert.deepEqual(tok.pairTemplate, {
    prefix: [101],
    middle: [102],
    suffix: [102],
    // BERT's template: [CLS] A [SEP] are type 0, B [SEP] type 1
    typeIds: { prefix: [0], question: 0, middle: [0], context: 1, suffix: [1] },
  });
});

test('the question is stripped with Python str.strip semantics', async () => {
  const plain = await encodeWindows(tok, 'What?', 'It is.', { maxLength: 384 });
  // \x1c and \x85 are whitespace to Python (JS trim keeps them); U+FEFF is not (JS trim strips it)
  const padded = await encodeWindows(tok, ' \n\x1c\x85What?\u3000\t', 'It is.', { maxLength: 384 });
  assert.deepEqual(padded[0]?.inputIds, plain[0]?.inputIds);
});

test('pad id, special ids, decode and the source files are exposed', async () => {
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.clsTokenId, 101);
  assert.equal(tok.sepTokenId, 102);
  assert.equal(tok.vocabSize, 30522);
  assert.equal(tok.modelMaxLength, 512);
  assert.equal(await tok.decode([101, 2026, 2171, 2003, 25353, 22144, 2378, 1012, 102]), 'my name is sylvain.');
  assert.deepEqual(
    tok.files.map((f) => f.slice(modelDir.length + 1)),
    ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt'],
  );
});

test('a tokenizer built from vocab.txt + tokenizer_config.json encodes like tokenizer.json', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await cp(join(modelDir, 'vocab.txt'), join(dir, 'vocab.txt'));
    await cp(join(modelDir, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    const fromVocab = await loadTokenizer(dir);
    for (const [q, c] of [
      ['What is your name?', 'My name is Sylvain.'],
      ['Où est-il né ?', 'Il est né à Besançon en 1802 — 中文 😀 Ångström.'],
    ] as const) {
      assert.deepEqual(await fromVocab.encodePair(q, c), await tok.encodePair(q, c));
    }
    assert.equal(fromVocab.padTokenId, 0);
  } finally {
    await cleanup();
  }
});

test('a directory without tokenizer files, or a broken tokenizer.json, is a one-line user error', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await assert.rejects(loadTokenizer(dir), {
      code: 'FILE_NOT_FOUND',
      message: /^no tokenizer\.json, vocab\.txt, or vocab\.json \+ merges\.txt in /,
    });
    await assert.rejects(loadTokenizer(join(dir, 'nope')), { code: 'FILE_NOT_FOUND' });
    await writeFile(join(dir, 'tokenizer.json'), '{"not": "a tokenizer"}');
    await assert.rejects(loadTokenizer(dir), { code: 'BAD_FORMAT', message: /tokenizer\.json/ });
  } finally {
    await cleanup();
  }
});
