/**
 * A held-out check on real SQuAD rows no other test reads (rows 4900-4999 of the shared slice): written in four
 * shapes a user may have — datasets' JSON Lines, a CSV with other column names and flat answer columns, JSON Lines
 * with plain-text answers, and as a --validation-file — each must give exactly the source rows and run_qa.py's labels
 * (max length 384, doc stride 128; fixtures/own-data-labels.json `heldOut`, made by
 * fixtures/make_own_data_fixtures.py from `load_dataset("json")` of `Dataset.to_json`), and a row whose answer is
 * not in its context must be named by its line. Skipped when ../shared is absent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSquad } from '../../src/data/read.js';
import { QaFtError } from '../../src/errors.js';
import type { Feature, SquadRow } from '../../src/records.js';
import { prepareDataset } from '../../src/tokenize/pipeline.js';
import { readPrepared } from '../../src/tokenize/prepared.js';
import { makeTempDir, repoRoot, sharedDir } from '../helpers/cli.js';

const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');
const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
const skip = existsSync(parquet) ? false : `${parquet} is absent (the shared data beside the clone)`;
const fixture = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'data', 'fixtures', 'own-data-labels.json'), 'utf8'),
) as {
  heldOut: {
    rows: [number, number];
    ids: string[];
    features: { example_id: string; input_ids_sha1: string; start_positions: number; end_positions: number }[];
  };
};

let tmp: { dir: string; cleanup: () => Promise<void> };
let source: SquadRow[];
before(async () => {
  tmp = await makeTempDir('qa-ft-held-out-');
  if (skip) return;
  source = (await readSquad(parquet)).rows.slice(...fixture.heldOut.rows);
});
after(() => tmp.cleanup());

const sha1 = (ids: readonly number[]): string => createHash('sha1').update(ids.join(',')).digest('hex');
const ours = (features: readonly Feature[]) =>
  features.map((f) => [f.exampleId, sha1(f.inputIds), f.startPosition, f.endPosition]);
const python = () =>
  fixture.heldOut.features.map((f) => [f.example_id, f.input_ids_sha1, f.start_positions, f.end_positions]);

/** RFC 4180: every field quoted, quotes doubled. */
const csvField = (v: string | number): string => `"${String(v).replace(/"/g, '""')}"`;

const shapes = {
  /** `Dataset.to_json`: one row a line in the hub's columns. */
  datasetsJsonl: (rows: readonly SquadRow[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`,
  /** Other column names, one answer in flat columns. */
  csv: (rows: readonly SquadRow[]) =>
    [
      'qid,query,passage,answer,answer_start',
      ...rows.map((r) =>
        [r.id, r.question, r.context, r.answers.text[0] ?? '', r.answers.answer_start[0] ?? ''].map(csvField).join(','),
      ),
    ].join('\r\n'),
  /** Plain-text answers, no starts. */
  textJsonl: (rows: readonly SquadRow[]) =>
    rows
      .map((r) => JSON.stringify({ id: r.id, question: r.question, context: r.context, answer: r.answers.text[0] }))
      .join('\n'),
};
const CSV_COLUMNS = { id: 'qid', question: 'query', context: 'passage', answer: 'answer', answerStart: 'answer_start' };

async function prepared(
  name: string,
  inputs: string[],
  read: Parameters<typeof prepareDataset>[0]['read'],
  validation?: string[],
) {
  const out = join(tmp.dir, name);
  await prepareDataset({
    inputs,
    split: 'train',
    read,
    testSize: 0,
    seed: 42,
    maxLength: 384,
    docStride: 128,
    tokenizerDir: tokenizer,
    outDir: out,
    ...(validation ? { validationInputs: validation } : {}),
  });
  return readPrepared(out);
}

test('held-out SQuAD rows in four shapes give exactly the source rows and run_qa.py labels (doc stride 128)', {
  skip,
}, async () => {
  assert.equal(source.length, 100);
  assert.deepEqual(
    source.map((r) => r.id),
    fixture.heldOut.ids,
  );
  // every answer's first occurrence is its annotated start here, so the text-only shape must locate the same starts
  const files = {
    datasetsJsonl: join(tmp.dir, 'held-out.jsonl'),
    csv: join(tmp.dir, 'held-out.csv'),
    textJsonl: join(tmp.dir, 'held-out-text.jsonl'),
  };
  for (const [k, path] of Object.entries(files)) await writeFile(path, shapes[k as keyof typeof shapes](source));

  const runs = {
    datasetsJsonl: await prepared('a', [files.datasetsJsonl], {}),
    csv: await prepared('b', [files.csv], { columns: CSV_COLUMNS }),
    textJsonl: await prepared('c', [files.textJsonl], { columns: { answer: 'answer' } }),
  };
  for (const [k, data] of Object.entries(runs)) {
    const strip = (rows: readonly SquadRow[]) => rows.map(({ title: _t, ...r }) => r);
    assert.deepEqual(strip(data.train.rows), strip(source), `${k}: the source rows`);
    assert.deepEqual(ours(data.train.features), python(), `${k}: run_qa.py's labels`);
    assert.ok(data.train.features.length > source.length, 'some contexts need several windows');
  }
  assert.equal(runs.textJsonl.manifest.counts.locatedAnswers, 100);

  // --validation-file: the test split is the file as it is (train: the first 10 rows, any will do)
  const train = join(tmp.dir, 'train.jsonl');
  await writeFile(train, shapes.datasetsJsonl(source.slice(0, 10)));
  // the column options apply to both files: the train JSON Lines has no column query
  await assert.rejects(prepared('d', [train], { columns: CSV_COLUMNS }, [files.csv]), {
    message: /train\.jsonl: missing column 'query'/,
  });
  const withValidation = await prepared('e', [train], {}, [files.datasetsJsonl]);
  assert.deepEqual(
    withValidation.test.rows.map((r) => r.id),
    fixture.heldOut.ids,
  );
  assert.deepEqual(ours(withValidation.test.features), python());
});

test('a held-out row whose answer is not in its context is named by its line', { skip }, async () => {
  const k = 37;
  const broken = source.map((r, i) =>
    i === k
      ? { ...r, answers: { text: ['zzq not in this context'], answer_start: [r.answers.answer_start[0] ?? 0] } }
      : r,
  );
  const id = source[k]?.id;
  const cases: [string, string, Parameters<typeof readSquad>[1], number][] = [
    ['broken.jsonl', shapes.datasetsJsonl(broken), {}, k + 1],
    ['broken.csv', shapes.csv(broken), { columns: CSV_COLUMNS }, k + 2], // after the header; no context holds a newline
    ['broken-text.jsonl', shapes.textJsonl(broken), { columns: { answer: 'answer' } }, k + 1],
  ];
  assert.ok(source.every((r) => !r.context.includes('\n')));
  for (const [name, content, options, line] of cases) {
    const path = join(tmp.dir, name);
    await writeFile(path, content);
    const e = await readSquad(path, options).then(
      () => assert.fail(`${name}: expected an error`),
      (err: unknown) => err,
    );
    assert.ok(e instanceof QaFtError, name);
    assert.match(
      e.message,
      new RegExp(
        `${name.replace('.', '\\.')}: 1 row has an answer that does not occur in its context; first: line ${line} \\(id ${id}\\): answer "zzq not in this context" does not occur`,
      ),
      name,
    );
  }
});
