/**
 * Every tokenizer family against Python: WordPiece (distilbert-base-uncased), byte-level BPE with RoBERTa's template
 * (tiny-roberta-bpe) and SentencePiece Unigram with ALBERT's (tiny-albert-unigram), on real SQuAD rows. The expected
 * windows (ids, offsets, sequence ids, token type ids) and run_qa.py labels come from transformers 5.18's fast
 * tokenizers: test/tokenize/fixtures/make_tokenizer_fixtures.py wrote fixtures/tokenizer-parity.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSquad } from '../../src/data/read.js';
import type { SquadRow } from '../../src/records.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

interface PyWindow {
  input_ids: number[];
  offsets: [number, number][];
  sequence_ids: (number | null)[];
  token_type_ids: number[];
  labels: [number, number];
}
interface Fixture {
  maxLength: number;
  stride: number;
  tokenizers: Record<
    string,
    { clsTokenId: number; padTokenId: number; rows: { id: string; windows: PyWindow[]; tutorial: number[] }[] }
  >;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/tokenizer-parity.json', import.meta.url), 'utf8'),
) as Fixture;
const modelsDir = join(sharedDir, 'models');
const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');
let rowsById: Map<string, SquadRow> | undefined;
async function squadRow(id: string): Promise<SquadRow> {
  rowsById ??= new Map((await readSquad(parquet)).rows.map((r) => [r.id, r]));
  const row = rowsById.get(id);
  if (row === undefined) throw new Error(`row ${id} is not in ${parquet}`);
  return row;
}

/** Sequence ids of one of our windows, from where its question and context lie. */
function sequenceIds(
  tok: QaTokenizer,
  w: { inputIds: readonly number[]; offsets: readonly unknown[] },
  contextStart: number,
  contextEnd: number,
): (number | null)[] {
  const t = tok.pairTemplate;
  const questionEnd = contextStart - t.middle.length; // exclusive
  return w.inputIds.map((_, i) =>
    i >= t.prefix.length && i < questionEnd ? 0 : i >= contextStart && i <= contextEnd ? 1 : null,
  );
}

for (const [name, expected] of Object.entries(fixture.tokenizers)) {
  test(`${name}: windows, offsets, sequence ids, token type ids and run_qa labels equal Python's on ${expected.rows.length} SQuAD rows`, async () => {
    const tok = await loadTokenizer(join(modelsDir, name));
    assert.equal(tok.clsTokenId, expected.clsTokenId);
    assert.equal(tok.padTokenId, expected.padTokenId);
    let windows = 0;
    let labelled = 0;
    for (const { id, windows: py, tutorial } of expected.rows) {
      const row = await squadRow(id);
      const { features } = await prepareFeatures([row], tok, {
        maxLength: fixture.maxLength,
        docStride: fixture.stride,
      });
      assert.equal(features.length, py.length, `${id}: number of windows`);
      for (const [k, f] of features.entries()) {
        const p = py[k]!;
        const where = `${name} ${id} window ${k}`;
        assert.deepEqual(f.inputIds, p.input_ids, `${where}: input ids`);
        const contextStart = p.sequence_ids.indexOf(1);
        const contextEnd = p.sequence_ids.lastIndexOf(1);
        assert.deepEqual(sequenceIds(tok, f, contextStart, contextEnd), p.sequence_ids, `${where}: sequence ids`);
        // run_qa keeps the offsets of context tokens only (None elsewhere), as our features do
        assert.deepEqual(
          f.offsets,
          p.offsets.map((o, i) => (p.sequence_ids[i] === 1 ? o : null)),
          `${where}: offsets`,
        );
        // token type ids: ours are absent exactly when Python's are all 0 (RoBERTa's processor)
        assert.deepEqual(f.tokenTypeIds ?? p.input_ids.map(() => 0), p.token_type_ids, `${where}: token type ids`);
        assert.deepEqual([f.startPosition, f.endPosition], p.labels, `${where}: labels`);
        windows++;
        if (p.labels[0] !== expected.clsTokenId || p.labels[1] !== 0) labelled++;
      }
      // without a stride: the tutorial's preprocess_function (question.strip(), Python's own only_second truncation)
      const [single] = (await prepareFeatures([row], tok, { maxLength: fixture.maxLength })).features;
      assert.deepEqual(single?.inputIds, tutorial, `${id}: the one window without a stride`);
    }
    assert.ok(windows > expected.rows.length, 'rows are cut into several windows');
    assert.ok(labelled >= expected.rows.length, 'every row has a window holding its answer');
  });
}

test('tokenizer directories without config.json: RoBERTa BPE and ALBERT Unigram templates, special ids and type ids', async () => {
  const roberta = await loadTokenizer(join(modelsDir, 'tiny-roberta-bpe'));
  // <s> A </s></s> B </s>, every token of type 0: no type ids
  assert.deepEqual(roberta.pairTemplate, { prefix: [0], middle: [2, 2], suffix: [2] });
  assert.deepEqual([roberta.clsTokenId, roberta.padTokenId, roberta.sepTokenId], [0, 1, 2]);
  assert.equal(roberta.modelMaxLength, 512);
  const albert = await loadTokenizer(join(modelsDir, 'tiny-albert-unigram'));
  assert.deepEqual(albert.pairTemplate, {
    prefix: [2],
    middle: [3],
    suffix: [3],
    typeIds: { prefix: [0], question: 0, middle: [0], context: 1, suffix: [1] },
  });
  assert.deepEqual([albert.clsTokenId, albert.padTokenId, albert.sepTokenId], [2, 0, 3]);
  // RoBERTa offsets are trimmed of the space the byte-level pre-tokenizer folds into a token: " Paris" is (7, 12)
  const e = await roberta.encodeText('I love Paris');
  assert.deepEqual(e.offsets.at(-1), [7, 12]);
});

/** vocab.json + merges.txt of a byte-level BPE tokenizer.json (its model's vocab and merges, as the hub stores them). */
async function bpeFiles(dir: string, config: Record<string, unknown>): Promise<void> {
  const json = JSON.parse(await readFile(join(modelsDir, 'tiny-roberta-bpe', 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
  };
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(json.model.vocab));
  const merges = json.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  await writeFile(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
}

test('a byte-level BPE tokenizer built from vocab.json + merges.txt encodes like its tokenizer.json', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await bpeFiles(dir, {
      cls_token: '<s>',
      sep_token: '</s>',
      pad_token: '<pad>',
      unk_token: '<unk>',
      mask_token: '<mask>',
      model_max_length: 512,
    });
    const built = await loadTokenizer(dir);
    const reference = await loadTokenizer(join(modelsDir, 'tiny-roberta-bpe'));
    const rows = await Promise.all(fixture.tokenizers['tiny-roberta-bpe']!.rows.slice(0, 8).map((r) => squadRow(r.id)));
    for (const r of rows)
      assert.deepEqual(
        await built.encodePair(r.question, r.context),
        await reference.encodePair(r.question, r.context),
        r.id,
      );
    assert.deepEqual(built.pairTemplate, reference.pairTemplate);
    assert.deepEqual(
      [built.clsTokenId, built.padTokenId, built.sepTokenId, built.vocabSize],
      [reference.clsTokenId, reference.padTokenId, reference.sepTokenId, reference.vocabSize],
    );
    assert.equal(
      await built.decode((await built.encodePair('Who?', 'Saint Bernadette')).ids),
      await reference.decode((await reference.encodePair('Who?', 'Saint Bernadette')).ids),
    );
    // add_prefix_space from tokenizer_config.json: the first word gets its "Ġ" token as after a space
    await bpeFiles(dir, { add_prefix_space: true });
    const spaced = await loadTokenizer(dir);
    assert.notDeepEqual((await spaced.encodeText('Paris')).ids, (await built.encodeText('Paris')).ids);
    assert.deepEqual((await spaced.encodeText('Paris')).ids, (await built.encodeText(' Paris')).ids);
    assert.deepEqual((await spaced.encodeText('Paris')).offsets, [[0, 5]]);
  } finally {
    await cleanup();
  }
});

test('half a BPE tokenizer, or a tokenizer that pads on the left, is a one-line error naming what is wrong', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeFile(join(dir, 'vocab.json'), '{"a": 0}');
    await assert.rejects(loadTokenizer(dir), { code: 'FILE_NOT_FOUND', message: /vocab\.json without merges\.txt/ });
    await writeFile(join(dir, 'merges.txt'), '#version: 0.2\na b c\n');
    await assert.rejects(loadTokenizer(dir), { code: 'BAD_FORMAT', message: /merges\.txt: merge 1 is not two tokens/ });
    const left = join(dir, 'left');
    await mkdir(left);
    await writeFile(
      join(left, 'tokenizer.json'),
      await readFile(join(modelsDir, 'tiny-albert-unigram', 'tokenizer.json')),
    );
    await writeFile(join(left, 'tokenizer_config.json'), '{"padding_side": "left"}');
    await assert.rejects(loadTokenizer(left), {
      code: 'BAD_CONFIG',
      message: /padding_side is "left", expected "right"/,
    });
  } finally {
    await cleanup();
  }
});

test('truncation and padding saved in tokenizer.json are ignored, as Python does for a call that asks for neither', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const json = JSON.parse(await readFile(join(modelsDir, 'tiny-roberta-bpe', 'tokenizer.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    json.truncation = { direction: 'Right', max_length: 8, strategy: 'LongestFirst', stride: 0 };
    json.padding = {
      strategy: { Fixed: 64 },
      direction: 'Right',
      pad_to_multiple_of: null,
      pad_id: 1,
      pad_type_id: 0,
      pad_token: '<pad>',
    };
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const saved = await loadTokenizer(dir);
    const plain = await loadTokenizer(join(modelsDir, 'tiny-roberta-bpe'));
    const context = (await squadRow(fixture.tokenizers['tiny-roberta-bpe']!.rows[0]!.id)).context;
    const e = await saved.encodeText(context);
    assert.ok(e.ids.length > 64);
    assert.deepEqual(e, await plain.encodeText(context));
    assert.deepEqual(
      await saved.encodePair('Who?', 'Saint Bernadette.'),
      await plain.encodePair('Who?', 'Saint Bernadette.'),
    );
  } finally {
    await cleanup();
  }
});
