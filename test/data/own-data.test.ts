/**
 * Reading the user's own QA data: every format and answer shape against what `datasets.load_dataset("json"/"csv")`
 * reads from the same hand-made files and the labels run_qa.py's `prepare_train_features` gives them
 * (fixtures/own-data-labels.json, made by fixtures/make_own_data_fixtures.py); the hard cases by hand (RFC 4180
 * quoting, a BOM, `\r\n`, an answer after an emoji, an answer occurring twice); lines named as an editor shows them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Table, tableToIPC } from 'apache-arrow';
import { rowsToTable } from '../../src/data/arrow.js';
import type { ColumnOptions } from '../../src/data/columns.js';
import { readSquad, readSquadRows, type ReadOptions } from '../../src/data/read.js';
import { QaFtError } from '../../src/errors.js';
import type { Feature, SquadRow } from '../../src/records.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import { makeTempDir, repoRoot, sharedDir } from '../helpers/cli.js';

const OWN = join(repoRoot, 'test', 'data', 'fixtures', 'own-data');
interface PyFeature {
  example_id: string;
  input_ids: number[];
  start_positions: number;
  end_positions: number;
}
interface PyFile {
  rows: { id: string; question: string; context: string; answers: { text: string[]; answer_start: number[] } }[];
  features: PyFeature[];
}
const fixture = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'data', 'fixtures', 'own-data-labels.json'), 'utf8'),
) as {
  maxLength: number;
  docStride: number;
  files: Record<string, PyFile>;
};
const WINDOWS = { maxLength: fixture.maxLength, docStride: fixture.docStride };

/** How each hand-made file is read: the column options a user passes for it. */
const OTHER_NAMES: ColumnOptions = { id: 'qid', question: 'query', context: 'passage' };
const CASES: Record<string, ColumnOptions> = {
  'faq.jsonl': {}, // datasets' layout: answers {text, answer_start}
  'faq.csv': { answer: 'answer' }, // flat text answers, located
  'faq.tsv': {}, // no id column; answers as JSON text in the cell
  'faq-text.jsonl': { ...OTHER_NAMES, answer: 'answer' }, // one string or a list of strings
  'faq.parquet': OTHER_NAMES, // other column names, datasets' struct
};

let tok: QaTokenizer;
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tok = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  tmp = await makeTempDir('qa-ft-own-data-');
});
after(() => tmp.cleanup());

async function write(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, content);
  return path;
}

const comparable = (rows: readonly SquadRow[]) =>
  rows.map(({ id, question, context, answers }) => ({ id, question, context, answers }));
const labels = (features: readonly Feature[]) =>
  features.map((f) => ({ id: f.exampleId, ids: f.inputIds, start: f.startPosition, end: f.endPosition }));

describe('each format and answer shape gives the rows datasets reads and run_qa.py labels (doc stride 128)', () => {
  for (const [name, columns] of Object.entries(CASES)) {
    test(name, async () => {
      const py = fixture.files[name];
      assert.ok(py, name);
      const { rows } = await readSquad(join(OWN, name), { columns });
      assert.deepEqual(comparable(rows), py.rows);
      const { features } = await prepareFeatures(rows, tok, WINDOWS);
      assert.deepEqual(
        labels(features),
        py.features.map((f) => ({
          id: f.example_id,
          ids: f.input_ids,
          start: f.start_positions,
          end: f.end_positions,
        })),
      );
    });
  }
});

test('the hard cases, by hand: quoted comma, doubled quote and newline in a CSV field; BOM; \\r\\n; code-point starts; the first of two', async () => {
  const csv = await readSquadRows(join(OWN, 'faq.csv'), { columns: { answer: 'answer' } });
  assert.deepEqual(
    csv.rows.map((r) => r.id),
    ['q1', 'q2', 'q3', 'q4', 'q5'],
    'the BOM is not part of the first column name',
  );
  const [q1, q2, q3, q4] = csv.rows;
  assert.equal(q1?.question, 'Who wrote it, finally?');
  assert.equal(
    q1?.context,
    'The note said "call me", signed, Ana.\nBen read it twice.',
    'doubled quotes, commas and the newline kept; \\r\\n ends records only',
  );
  assert.deepEqual(csv.where, ['line 2', 'line 4', 'line 5', 'line 6', 'line 7'], 'q1 spans lines 2-3');
  // 'I 😀 love the café in ' is 21 code points (22 UTF-16 units): Python's offset
  assert.deepEqual(q2?.answers, { text: ['Paris'], answer_start: [21] });
  assert.equal(q2?.context.indexOf('Paris'), 22);
  assert.deepEqual(q3?.answers, { text: ['1920'], answer_start: [27] }, 'the first 1920 of two');
  assert.deepEqual(q4?.answers, { text: ['"yes, sure"'], answer_start: [8] });
  assert.equal(q3?.question, '  What year?', 'kept as given (run_qa.py lstrips when it tokenizes)');
  assert.deepEqual([csv.located, csv.ambiguous], [5, 2], 'Paris and 1920 occur twice');
  // a given start is kept, not re-located: faq.jsonl points q2 at the second Paris
  const jsonl = await readSquadRows(join(OWN, 'faq.jsonl'));
  assert.deepEqual(jsonl.rows[1]?.answers, { text: ['Paris'], answer_start: [28] });
  assert.deepEqual([jsonl.located, jsonl.ambiguous], [0, 0]);
});

test('labels from every format equal the labels of the same rows written as SQuAD JSON', async () => {
  const squadJson = (rows: readonly SquadRow[]) =>
    JSON.stringify({
      version: '1.1',
      data: [
        {
          title: 't',
          paragraphs: rows.map((r) => ({
            context: r.context,
            qas: [
              {
                id: r.id,
                question: r.question,
                answers: r.answers.text.map((text, k) => ({ text, answer_start: r.answers.answer_start[k] })),
              },
            ],
          })),
        },
      ],
    });
  const featuresOf = async (path: string, options: ReadOptions = {}) =>
    labels((await prepareFeatures((await readSquad(path, options)).rows, tok, WINDOWS)).features);

  // datasets' layout with given starts: JSON Lines, Parquet with other names, Arrow with other names
  const structRows = (await readSquad(join(OWN, 'faq.jsonl'))).rows;
  const structRef = await featuresOf(await write('struct.json', squadJson(structRows)));
  const t = rowsToTable(structRows);
  const renamed = new Table({
    qid: t.getChild('id')!,
    query: t.getChild('question')!,
    passage: t.getChild('context')!,
    answers: t.getChild('answers')!,
  });
  const arrow = await write('renamed.arrow', tableToIPC(renamed, 'file'));
  for (const [path, options] of [
    [join(OWN, 'faq.jsonl'), {}],
    [join(OWN, 'faq.parquet'), { columns: OTHER_NAMES }],
    [arrow, { columns: OTHER_NAMES }],
  ] as const) {
    assert.deepEqual(await featuresOf(path, options), structRef, path);
  }

  // answers as text, located: CSV, TSV (JSON cells), text JSON Lines, a JSON array of records
  const textRows = (await readSquad(join(OWN, 'faq.csv'), { columns: { answer: 'answer' } })).rows;
  const textRef = await featuresOf(await write('text.json', squadJson(textRows)));
  const array = await write(
    'array.json',
    JSON.stringify(
      textRows.map((r) => ({ id: r.id, question: r.question, context: r.context, answer: r.answers.text })),
    ),
  );
  for (const [path, options] of [
    [join(OWN, 'faq.csv'), { columns: { answer: 'answer' } }],
    [join(OWN, 'faq-text.jsonl'), { columns: { ...OTHER_NAMES, answer: 'answer' } }],
    [array, { columns: { answer: 'answer' } }],
  ] as const) {
    assert.deepEqual(await featuresOf(path, options), textRef, path);
  }
  const tsv = await featuresOf(join(OWN, 'faq.tsv'));
  assert.deepEqual(
    tsv,
    textRef.map((f, i) => ({ ...f, id: String(i) })),
    'faq.tsv has no id column: ids are row numbers',
  );
});

test('a bad row is named by the line an editor shows (a quoted newline spans lines; \\r\\n; blank lines) and its id', async () => {
  const header = 'id,question,context,answer';
  for (const eol of ['\n', '\r\n']) {
    const csv = [
      header,
      `a,Q?,"one${eol}two, ""three""",two`,
      'b,Q?,ctx b,ctx',
      '',
      'c,Where?,Nowhere here.,Paris',
      'd,Q?,x,x',
    ].join(eol);
    const path = await write(`bad${eol.length}.csv`, csv);
    const e = await readSquad(path, { columns: { answer: 'answer' } }).then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof QaFtError && e.code === 'BAD_DATA');
    assert.match(
      e.message,
      /bad\d\.csv: 1 row has an answer that does not occur in its context; first: line 6 \(id c\): answer "Paris" does not occur in the context$/,
    );
  }
  const lines = [
    '{"id":"a","question":"Q?","context":"abc","answers":"b"}',
    '',
    '{"id":"b","question":" ","context":"abc","answers":"b"}',
  ].join('\n');
  await assert.rejects(readSquad(await write('blank.jsonl', lines)), {
    message: /first: line 3 \(id b\): question is empty/,
  });
  // a start that does not point at the answer (a flat start column); an empty context
  const starts = await write(
    'starts.csv',
    'id,question,context,answer,start\nx,Q?,abc abc,abc,0\ny,Q?,abc abc,abc,2\n',
  );
  await assert.rejects(readSquad(starts, { columns: { answer: 'answer', answerStart: 'start' } }), {
    message:
      /starts\.csv: 1 row has an answer_start that does not match answers\.text in the context; first: line 3 \(id y\): answers\.text\[0\] "abc" is not at answer_start 2/,
  });
  await assert.rejects(readSquad(await write('emptyctx.tsv', 'id\tquestion\tcontext\tanswers\nz\tQ?\t\tx\n')), {
    message: /first: line 2 \(id z\): context is empty/,
  });
  // --skip-invalid keeps the rest and says why each was dropped
  const skipped = await readSquad(starts, { columns: { answer: 'answer', answerStart: 'start' }, skipInvalid: true });
  assert.deepEqual(
    skipped.rows.map((r) => r.id),
    ['x'],
  );
  assert.deepEqual(
    skipped.rejected.map((r) => [r.where, r.id]),
    [['line 3', 'y']],
  );
});

test('a missing column lists the columns the file has; a mistyped cell names the line, id and field', async () => {
  await assert.rejects(readSquad(join(OWN, 'faq.csv')), {
    code: 'BAD_FORMAT',
    message: /faq\.csv: missing column 'answers' \(found: id, question, context, answer\)$/,
  });
  await assert.rejects(readSquad(join(OWN, 'faq.csv'), { columns: { answer: 'answer', id: 'qid' } }), {
    message: /missing column 'qid' \(found: id, question, context, answer\)/,
  });
  const bad = await write(
    'badstart.jsonl',
    '{"id":"a","question":"Q?","context":"abc","answers":{"text":["b"],"answer_start":["one"]}}',
  );
  await assert.rejects(readSquad(bad), {
    code: 'BAD_DATA',
    message:
      /badstart\.jsonl: line 1 \(id a\): field 'answers\.answer_start\[0\]' must be an integer, got string "one"/,
  });
  const csvStart = await write('csvstart.csv', 'question,context,answer,start\nQ?,abc,b,one\n');
  await assert.rejects(readSquad(csvStart, { columns: { answer: 'answer', answerStart: 'start' } }), {
    message: /csvstart\.csv: line 2 \(id 0\): field 'start' must be an integer, got string "one"/,
  });
});

test('SQuAD 2.0 rows without an answer work in every format with versionTwoWithNegative, and are refused without it', async () => {
  const files = {
    'v2.csv': ['id,question,context,answer', 'a,Q?,the sky is blue,blue', 'b,Q?,no answer here,'].join('\r\n'),
    'v2.jsonl': [
      '{"id":"a","question":"Q?","context":"the sky is blue","answers":{"text":["blue"],"answer_start":[11]}}',
      '{"id":"b","question":"Q?","context":"no answer here","answers":{"text":[],"answer_start":[]}}',
    ].join('\n'),
    'v2-text.jsonl': [
      '{"id":"a","question":"Q?","context":"the sky is blue","answer":["blue"]}',
      '{"id":"b","question":"Q?","context":"no answer here","answer":[]}',
    ].join('\n'),
    'v2.json': JSON.stringify([
      { id: 'a', question: 'Q?', context: 'the sky is blue', answer: 'blue' },
      { id: 'b', question: 'Q?', context: 'no answer here', answer: '' },
    ]),
    'v2.tsv': [
      'id\tquestion\tcontext\tanswers',
      'a\tQ?\tthe sky is blue\t{"text": ["blue"], "answer_start": [11]}',
      'b\tQ?\tno answer here\t{"text": [], "answer_start": []}',
    ].join('\n'),
  };
  for (const [name, content] of Object.entries(files)) {
    const path = await write(name, content);
    const columns =
      name.endsWith('.jsonl') && !name.includes('text') ? {} : name.endsWith('.tsv') ? {} : { answer: 'answer' };
    const { rows } = await readSquad(path, { columns, versionTwoWithNegative: true });
    assert.deepEqual(
      rows.map((r) => r.answers),
      [
        { text: ['blue'], answer_start: [11] },
        { text: [], answer_start: [] },
      ],
      name,
    );
    const where = name.endsWith('.json') ? 'row 1' : name.endsWith('.jsonl') ? 'line 2' : 'line 3'; // CSV/TSV: after the header
    await assert.rejects(
      readSquad(path, { columns }),
      { message: new RegExp(`1 of 2 rows have no answer .*first: ${where}, id b\\); pass versionTwoWithNegative`) },
      name,
    );
  }
});

test('--format overrides the guess by name: a .txt of tab-separated rows, a .data of JSON Lines', async () => {
  const tsv = await write('rows.txt', 'question\tcontext\tanswers\nQ?\tthe sky is blue\tblue\n');
  assert.deepEqual((await readSquad(tsv, { format: 'tsv' })).rows[0]?.answers, { text: ['blue'], answer_start: [11] });
  const jsonl = await write('rows.data', '{"question":"Q?","context":"the sky is blue","answers":"sky"}\n');
  assert.deepEqual((await readSquad(jsonl, { format: 'jsonl' })).rows[0]?.answers, {
    text: ['sky'],
    answer_start: [4],
  });
  await assert.rejects(readSquad(jsonl, { format: 'csv' }), {
    code: 'BAD_FORMAT',
    message: /rows\.data: missing column 'question' \(found: \{"question":"Q\?"/,
  });
  await assert.rejects(readSquad(await write('open.csv', 'question,context,answers\nQ?,"never closed,x\n')), {
    code: 'BAD_FORMAT',
    message: /open\.csv: not valid CSV: Quote Not Closed/,
  });
});
