// POST / against transformers 4.57's pipeline("question-answering") on the same model: fixtures/pipeline-outputs.json
// (made by fixtures/make_pipeline_fixture.py) — single, list, top_k, max_answer_len, align_to_words, contexts of
// several windows, handle_impossible_answer — one request at a time and all at once (batched together).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { BatchingAnswerer } from '../../src/infer/batching.js';
import type { QaServer } from '../../src/serve/server.js';
import { assertSameAnswers, fixtureServer, type PipelineCase } from './helpers.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/pipeline-outputs.json', import.meta.url), 'utf8')) as {
  transformers: string;
  cases: PipelineCase[];
};

let server: QaServer;
let answerer: BatchingAnswerer;
const batches: number[] = [];
before(async () => {
  ({ server, answerer } = await fixtureServer({}, { maxBatchSize: 64, maxWaitMs: 20 }));
  answerer.onBatch((windows) => batches.push(windows));
});
after(async () => {
  await server.drain();
  await answerer.close();
});

const ask = (body: unknown) => server.app.inject({ method: 'POST', url: '/', payload: body as object });

test('the fixture covers the cases the contract names', () => {
  assert.ok(fixture.transformers.startsWith('4.57'), fixture.transformers);
  const names = fixture.cases.map((c) => c.name).join(' ');
  for (const part of [
    'single',
    'list',
    'top_k',
    'long-small-windows',
    'impossible-wins',
    'impossible-second',
    'align_to_words-false',
    'max_answer_len',
  ]) {
    assert.ok(names.includes(part), part);
  }
});

test('each request answers exactly as the pipeline does (answer, start, end; score within 1e-4)', async () => {
  for (const c of fixture.cases) {
    const r = await ask(c.body);
    assert.equal(r.statusCode, 200, `${c.name}: ${r.body}`);
    assertSameAnswers(r.json(), c.expected, c.name);
  }
});

test('all the cases sent at once are batched together and still answer as the pipeline does', async () => {
  batches.length = 0;
  const tensors = tf.memory().numTensors;
  const replies = await Promise.all(fixture.cases.map((c) => ask(c.body)));
  assert.equal(tf.memory().numTensors, tensors, 'tensors left behind by inference');
  replies.forEach((r, i) => {
    assert.equal(r.statusCode, 200, r.body);
    assertSameAnswers(r.json(), fixture.cases[i]!.expected, `${fixture.cases[i]!.name} (concurrent)`);
  });
  assert.ok(Math.max(...batches) > 1, `forward passes of ${batches.join(', ')} windows: nothing was batched`);
});

test('the library answerer gives the pipeline answers without HTTP', async () => {
  const c = fixture.cases.find((x) => x.name === 'top_k-3')!;
  const inputs = c.body.inputs as { question: string; context: string };
  const answers = await answerer.answer(inputs, { topK: 3 });
  assertSameAnswers(answers, c.expected, 'answerer.answer');
});

test('a long context is cut into several windows', async () => {
  const c = fixture.cases.find((x) => x.name === 'long-small-windows')!;
  const { pipelineWindows } = await import('../../src/infer/pipeline-qa.js');
  const inputs = c.body.inputs as { question: string; context: string };
  const windows = await pipelineWindows(
    answerer.tokenizer,
    inputs.question,
    inputs.context,
    { maxSeqLen: 64, docStride: 16 },
    512,
  );
  assert.ok(windows.length >= 5, `${windows.length} windows`);
});
