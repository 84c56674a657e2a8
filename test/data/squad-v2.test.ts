// SQuAD 2.0 through the readers: unanswerable rows are valid data with --version-2-with-negative (JSON with
// is_impossible/plausible_answers, the hub's squad_v2 Parquet, Arrow, JSON Lines), refused in one line without it;
// a row whose is_impossible flag contradicts its answers is an error naming its id.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rowsToTable, tableToBytes } from '../../src/data/arrow.js';
import { readSquad } from '../../src/data/read.js';
import type { SquadRow } from '../../src/records.js';
import { makeTempDir } from '../helpers/cli.js';

const parquet = new URL('./fixtures/squad-v2-sample.parquet', import.meta.url).pathname;
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir();
});
after(() => tmp.cleanup());

const write = async (name: string, data: string | Uint8Array): Promise<string> => {
  const path = join(tmp.dir, name);
  await writeFile(path, data);
  return path;
};

const context = 'The cat sat on the mat.';
function v2Json(qas: Record<string, unknown>[]): string {
  return JSON.stringify({ version: 'v2.0', data: [{ title: 'Cats', paragraphs: [{ context, qas }] }] });
}
const answerable = {
  id: 'a',
  question: 'Where did the cat sit?',
  answers: [{ text: 'the mat', answer_start: 15 }],
  is_impossible: false,
};
const impossible = {
  id: 'u',
  question: 'Where did the dog sit?',
  answers: [],
  is_impossible: true,
  plausible_answers: [{ text: 'the mat', answer_start: 15 }],
};

test('SQuAD 2.0 JSON: an is_impossible question is a row with empty answers; plausible_answers are dropped', async () => {
  const path = await write('v2.json', v2Json([answerable, impossible]));
  const { rows } = await readSquad(path, { versionTwoWithNegative: true });
  assert.deepEqual(rows, [
    {
      id: 'a',
      title: 'Cats',
      context,
      question: 'Where did the cat sit?',
      answers: { text: ['the mat'], answer_start: [15] },
    },
    { id: 'u', title: 'Cats', context, question: 'Where did the dog sit?', answers: { text: [], answer_start: [] } },
  ]);
});

test('the hub squad_v2 Parquet layout (empty answers lists) reads with its unanswerable rows', async () => {
  const { rows, format } = await readSquad(parquet, { versionTwoWithNegative: true });
  assert.equal(format, 'parquet');
  assert.deepEqual(
    rows.map((r) => [r.id, r.answers.text, r.answers.answer_start]),
    [
      ['a1', ['France'], [24]],
      ['u1', [], []],
      ['a2', ['the 10th century', '10th century'], [69, 73]],
      ['u2', [], []],
    ],
  );
});

test('Arrow (the datasets cache) and JSON Lines keep unanswerable rows', async () => {
  const rows: SquadRow[] = (await readSquad(parquet, { versionTwoWithNegative: true })).rows;
  const arrow = await write('v2.arrow', tableToBytes(rowsToTable(rows)));
  assert.deepEqual((await readSquad(arrow, { versionTwoWithNegative: true })).rows, rows);
  const jsonl = await write('v2.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
  assert.deepEqual((await readSquad(jsonl, { versionTwoWithNegative: true })).rows, rows);
});

test('unanswerable rows without versionTwoWithNegative: one line naming the count, the first id and the option field', async () => {
  await assert.rejects(readSquad(parquet), {
    code: 'BAD_DATA',
    message:
      /squad-v2-sample\.parquet: 2 of 4 rows have no answer \(SQuAD 2\.0 unanswerable questions; first: row 1, id u1\); pass versionTwoWithNegative/,
  });
  const path = await write('v2-refused.json', v2Json([answerable, impossible]));
  await assert.rejects(readSquad(path), { message: /1 of 2 rows have no answer .*first: row 1, id u\)/ });
  // a slice with answerable rows only is v1 data
  const { parseSplit } = await import('../../src/data/split.js');
  assert.equal((await readSquad(parquet, { split: parseSplit('train[:1]') })).rows.length, 1);
});

test('is_impossible contradicting the answers is a one-line error naming the id', async () => {
  const withAnswers = await write(
    'imp-answers.json',
    v2Json([answerable, { ...impossible, answers: [{ text: 'the mat', answer_start: 15 }] }]),
  );
  await assert.rejects(readSquad(withAnswers, { versionTwoWithNegative: true }), {
    code: 'BAD_DATA',
    message: /imp-answers\.json: row 1 \(id u\) is marked is_impossible but has 1 answer$/,
  });
  const noAnswers = await write('ans-none.json', v2Json([{ ...answerable, answers: [] }]));
  await assert.rejects(readSquad(noAnswers, { versionTwoWithNegative: true }), {
    code: 'BAD_DATA',
    message: /ans-none\.json: row 0 \(id a\) is answerable \(is_impossible false\) but has no answers$/,
  });
  const typo = await write(
    'imp-str.jsonl',
    JSON.stringify({ id: 'x', context, question: 'q?', answers: { text: [], answer_start: [] }, is_impossible: 'yes' }),
  );
  await assert.rejects(readSquad(typo, { versionTwoWithNegative: true }), {
    message: /line 1: field 'is_impossible' must be true or false, got string "yes"/,
  });
});

test('an empty context is still reported as such, not as an unanswerable row', async () => {
  const path = await write(
    'empty-ctx.jsonl',
    JSON.stringify({ id: 'e', context: ' ', question: 'q?', answers: { text: [], answer_start: [] } }),
  );
  await assert.rejects(readSquad(path), { message: /context is empty/ });
});
