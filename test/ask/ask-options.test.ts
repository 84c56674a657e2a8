// The option and stdin parsing of `qa-ft ask`, in-process (the CLI tests spawn the real command for the rest).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { QaFtError } from '../../src/errors.js';
import { defaultDocStride } from '../../src/infer/answer.js';
import { askCommand, parseAskOptions, parseJsonl, textFrom, type RawAskOptions } from '../../src/commands/ask.js';
import { repoRoot } from '../helpers/cli.js';

const RAW: RawAskOptions = {
  model: './qa-ft-model',
  topK: '1',
  maxAnswerLength: '30',
  docStride: '128',
  strategy: 'best',
  batchSize: '16',
  backend: 'auto',
};

const userError = (pattern: RegExp) => (e: unknown): boolean =>
  e instanceof QaFtError && pattern.test(e.message) && !e.message.includes('\n');

test('defaults: model ./qa-ft-model, top-k 1, max answer length 30, doc stride from the window size, strategy best', () => {
  const defaults = Object.fromEntries(askCommand().options.map((o) => [o.long, o.defaultValue as unknown]));
  assert.equal(defaults['--model'], './qa-ft-model');
  assert.equal(defaults['--top-k'], '1');
  assert.equal(defaults['--max-answer-length'], '30');
  assert.equal(defaults['--doc-stride'], undefined);
  assert.equal(defaultDocStride(384), 128); // the HF pipeline's min(128, max_length / 2)
  assert.equal(defaultDocStride(64), 32);
  assert.equal(parseAskOptions({ ...RAW, docStride: undefined }).docStride, undefined);
  assert.equal(defaults['--strategy'], 'best');
  assert.deepEqual(parseAskOptions(RAW), {
    model: './qa-ft-model', topK: 1, maxAnswerLength: 30, docStride: 128, strategy: 'best', batchSize: 16, backend: 'auto', json: false, hub: {},
  });
});

test('malformed options are one-line errors naming the flag', () => {
  assert.throws(() => parseAskOptions({ ...RAW, strategy: 'greedy' }), userError(/unknown --strategy 'greedy'/));
  assert.throws(() => parseAskOptions({ ...RAW, topK: '0' }), userError(/--top-k must be an integer ≥ 1, got '0'/));
  assert.throws(() => parseAskOptions({ ...RAW, docStride: '-1' }), userError(/--doc-stride must be an integer ≥ 0/));
  assert.throws(() => parseAskOptions({ ...RAW, maxAnswerLength: '2.5' }), userError(/--max-answer-length/));
});

test('--context-file is read; a missing file or both forms at once are errors', async () => {
  assert.match((await textFrom('context', undefined, join(repoRoot, 'package.json')))!, /"name": "qa-ft"/);
  assert.equal(await textFrom('context', 'inline', undefined), 'inline');
  await assert.rejects(textFrom('context', undefined, join(repoRoot, 'absent.txt')), userError(/--context-file .*absent\.txt does not exist/));
  await assert.rejects(textFrom('context', 'a', 'b'), userError(/either --context or --context-file/));
});

test('JSONL on stdin: blank lines skipped, each bad line named by its number', () => {
  assert.deepEqual(parseJsonl('{"question":"q1","context":"c1"}\n\n{"question":"q2","context":"c2","id":7}\n'), [
    { question: 'q1', context: 'c1' },
    { question: 'q2', context: 'c2' },
  ]);
  assert.throws(() => parseJsonl('{"question":"q","context":"c"}\nnot json\n'), userError(/stdin line 2: not valid JSON/));
  assert.throws(() => parseJsonl('{"question":"q"}'), userError(/stdin line 1: "context" must be a string, got nothing/));
  assert.throws(() => parseJsonl('["q","c"]'), userError(/stdin line 1: expected a JSON object/));
});
