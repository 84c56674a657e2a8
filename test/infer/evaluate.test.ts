import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { join } from 'node:path';
import type { SquadRow } from '../../src/records.js';
import { QaFtError } from '../../src/errors.js';
import { evaluateModel, evaluationMetricNames } from '../../src/infer/evaluate.js';
import { prepareFeatures } from '../../src/tokenize/features.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import type { Feature } from '../../src/records.js';
import { sharedDir } from '../helpers/cli.js';
import { fakeModel } from './fake-model.js';

let tokenizer: QaTokenizer;
let zebra: number;
let lion: number;
before(async () => {
  tokenizer = await loadTokenizer(join(sharedDir, 'models', 'distilbert-base-uncased'));
  zebra = (await tokenizer.encodeText('zebra')).ids[0]!;
  lion = (await tokenizer.encodeText('lion')).ids[0]!;
});

function row(id: string, context: string, answer: string): SquadRow {
  return {
    id,
    title: 't',
    context,
    question: 'Who met whom?',
    answers: { text: [answer], answer_start: [context.indexOf(answer)] },
  };
}

test('predictions, n-best and EM/F1 of the best spans against the gold answers', async () => {
  const rows = [
    row('a', 'Yesterday a zebra met a lion at noon.', 'zebra met a lion'),
    row('b', 'A zebra ran to the lake lion.', 'the lake'),
  ];
  const { features } = await prepareFeatures(rows, tokenizer, { maxLength: 384, docStride: 128 });
  const { model } = fakeModel({ startById: new Map([[zebra, 6]]), endById: new Map([[lion, 6]]), loss: () => 1 });
  const r = await evaluateModel(model, rows, features, { batchSize: 4 });
  assert.deepEqual(r.predictions, { a: 'zebra met a lion', b: 'zebra ran to the lake lion' });
  // a: EM 1. b: pred tokens [zebra, ran, to, lake, lion] vs gold [lake]: P 1/5, R 1 → F1 1/3
  assert.equal(r.count, 2);
  assert.equal(r.exactMatch, 50);
  assert.ok(Math.abs(r.f1 - (100 * (1 + 1 / 3)) / 2) < 1e-9);
  const top = r.nbest.a![0]!;
  assert.equal(top.text, 'zebra met a lion');
  assert.equal(top.start_logit + top.end_logit, 12);
  assert.equal(top.start, 12);
  assert.ok(r.nbest.a!.length > 1 && r.nbest.a!.length <= 20);
  assert.ok(Math.abs(r.nbest.a!.reduce((s, e) => s + e.probability, 0) - 1) < 1e-9);
});

test('eval loss is the sample-weighted mean of batch losses (HF Trainer), not the mean of batch means', async () => {
  const rows = [row('a', 'a zebra met a lion', 'lion')];
  // five labelled features of one example with start positions 1, 2, 3, 4, 10
  const base = { exampleId: 'a', inputIds: [101, 102], offsets: [null, null], endPosition: 0 };
  const features: Feature[] = [1, 2, 3, 4, 10].map((startPosition) => ({ ...base, startPosition }));
  // the fake batch loss is the mean start position of the batch: 1.5, 3.5, 10 for batches of 2, 2, 1
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const { model } = fakeModel({ loss: (b) => mean(b.startPositions!) });
  const r = await evaluateModel(model, rows, features, { batchSize: 2 });
  assert.equal(r.evalLoss, 4); // (2·1.5 + 2·3.5 + 1·10) / 5; the mean of batch means would be 5
});

test('an example without any valid span gets HF\'s "empty" placeholder and scores 0', async () => {
  const rows = [row('a', 'a zebra met a lion', 'zebra'), row('gone', 'skipped entirely', 'skipped')];
  const { features } = await prepareFeatures([rows[0]!], tokenizer, { maxLength: 384, docStride: 128 });
  const { model } = fakeModel({ startById: new Map([[zebra, 6]]), endById: new Map([[zebra, 6]]) });
  const r = await evaluateModel(model, rows, features, {});
  assert.equal(r.predictions.gone, 'empty');
  assert.deepEqual(r.nbest.gone, [{ start_logit: 0, end_logit: 0, text: 'empty', probability: 1 }]);
  assert.equal(r.exactMatch, 50);
  assert.ok(Number.isNaN(r.evalLoss), 'a model that reports no loss gives NaN, not a made-up number');
});

test('progress is reported per batch', async () => {
  const rows = [row('a', 'a zebra met a lion', 'zebra')];
  const { features } = await prepareFeatures(rows, tokenizer, { maxLength: 384, docStride: 128 });
  const { model } = fakeModel({ loss: () => 0 });
  const seen: [number, number][] = [];
  await evaluateModel(model, rows, features, { onProgress: (d, t) => seen.push([d, t]) });
  assert.deepEqual(seen, [
    [0, 1],
    [1, 1],
  ]);
});

test('a feature of an example not among the rows is a one-line error', async () => {
  const rows = [row('a', 'a zebra met a lion', 'zebra')];
  const feature: Feature = {
    exampleId: 'ghost',
    inputIds: [101, 102],
    offsets: [null, null],
    startPosition: 0,
    endPosition: 0,
  };
  const { model } = fakeModel({});
  await assert.rejects(
    evaluateModel(model, rows, [feature]),
    (e: unknown) => e instanceof QaFtError && /'ghost'/.test(e.message),
  );
});

test('SQuAD 2.0: the null answer wins where [CLS] outscores every span; null odds and the 2.0 figures are returned', async () => {
  const unanswerable = (id: string, context: string): SquadRow => ({
    id,
    title: 't',
    context,
    question: 'Who met whom?',
    answers: { text: [], answer_start: [] },
  });
  const rows = [
    row('a', 'Yesterday a zebra met a lion at noon.', 'zebra met a lion'),
    unanswerable('u', 'Sun rose over quiet hills.'),
    unanswerable('v', 'A zebra saw a lion.'),
  ];
  const { features } = await prepareFeatures(rows, tokenizer, { maxLength: 384, docStride: 128 });
  // [CLS] start 4 + end 4 = null 8; the zebra…lion span scores 12; a context without them only spans of 0
  const cls = tokenizer.clsTokenId;
  const { model } = fakeModel({
    startById: new Map([
      [zebra, 6],
      [cls, 4],
    ]),
    endById: new Map([
      [lion, 6],
      [cls, 4],
    ]),
    loss: () => 1,
  });
  const r = await evaluateModel(model, rows, features, { versionTwoWithNegative: true });
  assert.deepEqual(r.predictions, { a: 'zebra met a lion', u: '', v: 'zebra saw a lion' });
  assert.deepEqual(r.nullOdds, { a: 8 - 12, u: 8, v: 8 - 12 });
  assert.ok(r.nbest.u!.some((e) => e.text === '' && e.start_logit === 4 && e.end_logit === 4 && e.start === undefined));
  // a right (HasAns 100), u right, v wrong (NoAns 50): exact 2/3
  assert.equal(r.count, 3);
  assert.ok(Math.abs(r.exactMatch - 200 / 3) < 1e-9);
  assert.equal(r.squadV2?.HasAns_exact, 100);
  assert.equal(r.squadV2?.NoAns_exact, 50);
  assert.deepEqual(Object.keys(r.extraMetrics ?? {}).sort(), [
    'HasAns_exact',
    'HasAns_f1',
    'HasAns_total',
    'NoAns_exact',
    'NoAns_f1',
    'NoAns_total',
    'best_exact',
    'best_exact_thresh',
    'best_f1',
    'best_f1_thresh',
  ]);
  // what a training run checks --metric-for-best-model against, before evaluating: the same names
  const logged = (x: { extraMetrics?: Readonly<Record<string, number>> }) =>
    ['eval_loss', 'eval_exact_match', 'eval_f1', ...Object.keys(x.extraMetrics ?? {}).map((k) => `eval_${k}`)].sort();
  assert.deepEqual(evaluationMetricNames(rows, { versionTwoWithNegative: true }).sort(), logged(r));
  assert.deepEqual(evaluationMetricNames(rows).sort(), logged(r));
  const onlyA = rows.slice(0, 1),
    featuresA = features.filter((f) => f.exampleId === 'a');
  assert.deepEqual(evaluationMetricNames(onlyA), ['eval_loss', 'eval_exact_match', 'eval_f1']);
  assert.deepEqual(
    evaluationMetricNames(onlyA, { versionTwoWithNegative: true }).sort(),
    logged(await evaluateModel(model, onlyA, featuresA, { versionTwoWithNegative: true })),
  );
  // rows without an answer make it SQuAD 2.0 by default; answerable rows alone stay v1.1
  assert.deepEqual((await evaluateModel(model, rows, features)).predictions, r.predictions);
  assert.equal(
    (
      await evaluateModel(
        model,
        rows.slice(0, 1),
        features.filter((f) => f.exampleId === 'a'),
      )
    ).squadV2,
    undefined,
  );
  // a threshold above the null's lead lets the best span of u answer
  const lenient = await evaluateModel(model, rows, features, {
    versionTwoWithNegative: true,
    nullScoreDiffThreshold: 9,
  });
  assert.notEqual(lenient.predictions.u, '');
  assert.equal(lenient.squadV2?.NoAns_exact, 0);
});
