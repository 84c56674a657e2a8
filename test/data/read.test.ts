import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Field, Int32, Int64, List, Struct, Table, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import { QaFtError } from '../../src/errors.js';
import { readSquad } from '../../src/data/read.js';
import { parseSplit } from '../../src/data/split.js';
import type { SquadRow } from '../../src/records.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');
let tmp: { dir: string; cleanup: () => Promise<void> };
let rows: SquadRow[];

before(async () => {
  tmp = await makeTempDir();
  rows = (await readSquad(parquet, { split: parseSplit('train[:300]') })).rows;
});
after(() => tmp.cleanup());

/** An Arrow table built here with apache-arrow's generic builders, answer_start as int64 like some writers do. */
function arrowTable(rs: readonly SquadRow[], startType: Int32 | Int64 = new Int64()): Table {
  const answers = new Struct([
    new Field('text', new List(new Field('item', new Utf8(), true)), true),
    new Field('answer_start', new List(new Field('item', startType, true)), true),
  ]);
  const big = startType instanceof Int64;
  return new Table({
    id: vectorFromArray(
      rs.map((r) => r.id),
      new Utf8(),
    ),
    title: vectorFromArray(
      rs.map((r) => r.title),
      new Utf8(),
    ),
    context: vectorFromArray(
      rs.map((r) => r.context),
      new Utf8(),
    ),
    question: vectorFromArray(
      rs.map((r) => r.question),
      new Utf8(),
    ),
    answers: vectorFromArray(
      rs.map((r) => ({
        text: [...r.answers.text],
        answer_start: r.answers.answer_start.map((s) => (big ? BigInt(s) : s)),
      })),
      answers,
    ),
  });
}

/** SQuAD v1.1 JSON: rows grouped into articles and paragraphs, in order. */
function squadJson(rs: readonly SquadRow[]): string {
  const data: { title: string; paragraphs: { context: string; qas: unknown[] }[] }[] = [];
  for (const r of rs) {
    let article = data[data.length - 1];
    if (!article || article.title !== r.title) data.push((article = { title: r.title, paragraphs: [] }));
    let p = article.paragraphs[article.paragraphs.length - 1];
    if (!p || p.context !== r.context) article.paragraphs.push((p = { context: r.context, qas: [] }));
    p.qas.push({
      id: r.id,
      question: r.question,
      answers: r.answers.text.map((text, k) => ({ text, answer_start: r.answers.answer_start[k] })),
    });
  }
  return JSON.stringify({ version: '1.1', data });
}

async function write(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, content);
  return path;
}

test('the shared Parquet slice reads as SQuAD rows with nested answers', async () => {
  assert.equal(rows.length, 300);
  assert.equal(rows[0]?.title, 'University_of_Notre_Dame');
  assert.equal(rows[0]?.question, 'To whom did the Virgin Mary allegedly appear in 1858 in Lourdes France?');
  const full = await readSquad(parquet);
  assert.equal(full.totalRows, 5000);
  assert.equal(full.format, 'parquet');
});

test('Parquet, Arrow IPC (file and stream) and SQuAD JSON / JSON Lines of the same rows give identical rows and features', async () => {
  const sources = {
    'arrow-stream': await write('rows.arrow', tableToIPC(arrowTable(rows), 'stream')),
    'arrow-file': await write('rows-file.arrow', tableToIPC(arrowTable(rows, new Int32()), 'file')),
    json: await write('rows.json', squadJson(rows)),
    jsonl: await write('rows.jsonl', rows.map((r) => JSON.stringify(r)).join('\n')),
  };
  const tok = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  const reference = await prepareFeatures(rows, tok, { maxLength: 256, docStride: 64 });
  assert.ok(reference.features.length > rows.length, 'the stride makes extra windows');
  for (const [kind, path] of Object.entries(sources)) {
    const got = await readSquad(path);
    assert.equal(got.format, kind === 'json' ? 'squad-json' : kind, path);
    assert.deepEqual(got.rows, rows, kind);
    assert.deepEqual(await prepareFeatures(got.rows, tok, { maxLength: 256, docStride: 64 }), reference, kind);
  }
});

test('a split slices before the content checks and counts rows from the file start', async () => {
  const bad = rows
    .slice(0, 5)
    .map((r, i) => (i === 3 ? { ...r, answers: { text: ['nowhere'], answer_start: [0] } } : r));
  const path = await write('slice.jsonl', bad.map((r) => JSON.stringify(r)).join('\n'));
  assert.equal((await readSquad(path, { split: parseSplit('train[:3]') })).rows.length, 3);
  await assert.rejects(readSquad(path, { split: parseSplit('train[2:]') }), {
    message: /first: line 4 \(id \w+\): answer "nowhere" does not occur in the context/,
  });
});

test('missing file → FILE_NOT_FOUND naming it', async () => {
  await assert.rejects(readSquad(join(tmp.dir, 'nope.parquet')), { code: 'FILE_NOT_FOUND', message: /nope\.parquet/ });
});

test('a file of no format qa-ft reads → BAD_FORMAT naming the formats and the format option', async () => {
  const path = await write('rows.txt', 'id context\n1 abc\n');
  await assert.rejects(
    readSquad(path),
    (e: unknown) =>
      e instanceof QaFtError &&
      e.code === 'BAD_FORMAT' &&
      /rows\.txt is not JSON Lines, .*CSV, TSV, Parquet or Arrow/.test(e.message) &&
      /pass format jsonl\|json\|squad-json\|csv\|tsv\|parquet\|arrow/.test(e.hint ?? ''),
  );
});

test('a directory as input → "is a directory", not "does not exist"', async () => {
  await assert.rejects(readSquad(tmp.dir), {
    code: 'BAD_ARGUMENT',
    message: /input file .* is a directory, expected a data file \(JSON Lines, .*Parquet or Arrow\)$/,
  });
});

test('a truncated Parquet file → "damaged Parquet file", whether cut before the footer or in the middle', async () => {
  const whole = await readFile(parquet);
  const cut = await write('cut.parquet', whole.subarray(0, 100_000));
  await assert.rejects(readSquad(cut), {
    code: 'BAD_FORMAT',
    message: /cut\.parquet: damaged Parquet file \(100000 bytes, no closing 'PAR1' magic: truncated\?\)$/,
  });
  // the footer kept but the middle of the data gone: a column chunk runs past the data
  const metadataLength = whole.readUInt32LE(whole.length - 8);
  const middle = await write(
    'middle.parquet',
    Buffer.concat([whole.subarray(0, 300_000), whole.subarray(whole.length - 8 - metadataLength)]),
  );
  await assert.rejects(readSquad(middle), {
    code: 'BAD_FORMAT',
    message: /middle\.parquet: damaged Parquet file \(column '\w+' of row group 0 spans bytes/,
  });
  const badLength = Buffer.from(whole);
  badLength.writeUInt32LE(whole.length, whole.length - 8);
  await assert.rejects(readSquad(await write('badlen.parquet', badLength)), {
    message: /damaged Parquet file \(the footer gives \d+ bytes of metadata/,
  });
  await assert.rejects(readSquad(await write('magic-only.parquet', 'PAR1')), {
    message: /magic-only\.parquet: damaged Parquet file/,
  });
});

test('a truncated Arrow IPC file → "damaged Arrow IPC file"', async () => {
  const whole = tableToIPC(arrowTable(rows.slice(0, 3)), 'file');
  for (const n of [200, whole.length - 1]) {
    await assert.rejects(readSquad(await write(`cut-${n}.arrow`, whole.slice(0, n))), {
      code: 'BAD_FORMAT',
      message: new RegExp(
        `cut-${n}\\.arrow: damaged Arrow IPC file \\(${n} bytes, no closing 'ARROW1' magic: truncated\\?\\)`,
      ),
    });
  }
});

test('SQuAD JSON that is not UTF-8 (Latin-1) → BAD_FORMAT naming the byte offset and line, not U+FFFD in the rows', async () => {
  const text = squadJson([
    { ...rows[0]!, context: `Caf\xe9. ${rows[0]!.context}`, answers: { text: ['Caf\xe9'], answer_start: [0] } },
  ]);
  const path = await write('latin1.json', Buffer.from(text, 'latin1'));
  const offset = Buffer.from(text, 'latin1').indexOf(0xe9);
  await assert.rejects(readSquad(path), (e: unknown) => {
    assert.ok(e instanceof QaFtError);
    assert.equal(e.code, 'BAD_FORMAT');
    assert.equal(e.message, `${path}: invalid UTF-8 at byte ${offset} (line 1, 0xe9: invalid continuation byte)`);
    assert.match(e.hint ?? '', /must be UTF-8.*iconv -f latin1 -t utf-8/);
    return true;
  });
  // JSON Lines: the line of the bad byte is named
  const lines = Buffer.concat([
    Buffer.from(`${JSON.stringify(rows[0])}\n{"id": "x`),
    Buffer.from([0xff]),
    Buffer.from('"}\n'),
  ]);
  await assert.rejects(readSquad(await write('bad.jsonl', lines)), {
    message: /bad\.jsonl: invalid UTF-8 at byte \d+ \(line 2, 0xff: invalid start byte\)/,
  });
});

test('SQuAD JSON with a UTF-8 BOM reads; UTF-16 JSON is refused with a hint to convert it', async () => {
  const text = squadJson(rows.slice(0, 5));
  const bom = await write('bom.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
  assert.deepEqual((await readSquad(bom)).rows, rows.slice(0, 5));
  const utf16 = await write('utf16.json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  await assert.rejects(
    readSquad(utf16),
    (e: unknown) =>
      e instanceof QaFtError &&
      /utf16\.json is not JSON Lines/.test(e.message) &&
      /UTF-16 .*iconv -f utf-16 -t utf-8/.test(e.hint ?? ''),
  );
});

test('a missing column is named, in Arrow and in JSON Lines', async () => {
  const t = arrowTable(rows.slice(0, 2));
  const noQuestion = new Table({
    id: t.getChild('id')!,
    context: t.getChild('context')!,
    answers: t.getChild('answers')!,
  });
  await assert.rejects(readSquad(await write('noq.arrow', tableToIPC(noQuestion, 'stream'))), {
    code: 'BAD_FORMAT',
    message: /noq\.arrow: missing column 'question' \(found: id, context, answers\)/,
  });
  const line = JSON.stringify({ id: 'a', question: 'q?', answers: { text: [], answer_start: [] } });
  await assert.rejects(readSquad(await write('noctx.jsonl', line)), {
    code: 'BAD_FORMAT',
    message: /missing column 'context'/,
  });
});

test('a mistyped field names the row and the field', async () => {
  const t = arrowTable(rows.slice(0, 2));
  const intContext = new Table({
    id: t.getChild('id')!,
    title: t.getChild('title')!,
    context: vectorFromArray([1, 2], new Int32()),
    question: t.getChild('question')!,
    answers: t.getChild('answers')!,
  });
  await assert.rejects(readSquad(await write('intctx.arrow', tableToIPC(intContext, 'file'))), {
    code: 'BAD_DATA',
    message: /intctx\.arrow: row 0 \(id \w+\): field 'context' must be a string, got number 1/,
  });
  const lines = [rows[0], { ...rows[1], answers: { text: ['x'], answer_start: ['7'] } }]
    .map((r) => JSON.stringify(r))
    .join('\n');
  await assert.rejects(readSquad(await write('strstart.jsonl', lines)), {
    code: 'BAD_DATA',
    message: /line 2 \(id \w+\): field 'answers.answer_start\[0\]' must be an integer/,
  });
});

test('answer_start not matching the text: the count is reported; skipInvalid drops and counts them', async () => {
  const shifted = rows
    .slice(0, 10)
    .map((r, i) =>
      i % 4 === 1
        ? { ...r, answers: { text: r.answers.text, answer_start: r.answers.answer_start.map((s) => s + 1) } }
        : r,
    );
  const path = await write('shifted.json', squadJson(shifted));
  await assert.rejects(readSquad(path), {
    code: 'BAD_DATA',
    message:
      /shifted\.json: 3 rows have an answer_start that does not match answers\.text in the context; first: row 1/,
  });
  const skipped = await readSquad(path, { skipInvalid: true });
  assert.equal(skipped.skippedInvalid, 3);
  assert.deepEqual(
    skipped.rows,
    shifted.filter((_, i) => i % 4 !== 1),
  );
});

test('answer_start counts code points: an answer after an emoji matches', async () => {
  const row: SquadRow = {
    id: 'e',
    title: 't',
    context: 'I 😀 Paris.',
    question: 'Where?',
    answers: { text: ['Paris'], answer_start: [4] },
  };
  const got = await readSquad(await write('emoji.jsonl', JSON.stringify(row)));
  assert.deepEqual(got.rows, [row]);
});

test('an empty context or question is an error naming the row', async () => {
  const empty = [rows[0], { ...rows[1], question: '  ' }].map((r) => JSON.stringify(r)).join('\n');
  await assert.rejects(readSquad(await write('emptyq.jsonl', empty)), {
    code: 'BAD_DATA',
    message: /1 row has an empty context or question; first: line 2 .*question is empty/,
  });
  const emptyCtx = JSON.stringify({ ...rows[0], context: '', answers: { text: [], answer_start: [] } });
  await assert.rejects(readSquad(await write('emptyc.jsonl', emptyCtx)), { message: /context is empty/ });
});
