// The tutorial's argmax decode and evaluation on the PyTorch fixture model (/work/shared/fixtures/tiny-distilbert-qa).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { tutorialDecode } from '../../src/infer/answer.js';
import { evaluateModel } from '../../src/infer/evaluate.js';
import { argmaxSpan } from '../../src/infer/postprocess.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import type { QaModel } from '../../src/model/types.js';
import { loadTokenizer, type QaTokenizer } from '../../src/tokenize/tokenizer.js';
import type { Feature } from '../../src/records.js';
import { makeTempDir } from '../helpers/cli.js';
import { fixtureDir, readFixtureJson, type FixtureJson as Fixture } from '../model/tiny-fixture.js';

const FIXTURE_DIR = fixtureDir('distilbert');

let fixture: Fixture;
let tokenizer: QaTokenizer;
let model: QaModel;
let tmp: { dir: string; cleanup: () => Promise<void> };

/**
 * A 120-token WordPiece vocabulary for the fixture's ids. The ids the fixture's argmax spans cover get words
 * chosen to exercise the decode: a continuation piece (##s), punctuation clean-up, the cross-token "it ' s" join
 * and a special token inside the span.
 */
const WORDS: Record<number, string> = {
  0: '[PAD]',
  1: '[UNK]',
  2: '[CLS]',
  3: '[MASK]',
  5: '[SEP]',
  80: 'it',
  95: "'",
  90: 's',
  18: 'a',
  104: 'cat',
  78: '##s',
  105: 'new',
  58: 'york',
  111: ',',
  68: '.',
};

before(async () => {
  fixture = readFixtureJson(FIXTURE_DIR, 'distilbert');
  tmp = await makeTempDir('qa-ft-fixture-tok-');
  const vocab = Array.from({ length: 120 }, (_, i) => WORDS[i] ?? `w${i}`);
  await writeFile(join(tmp.dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  await writeFile(join(tmp.dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  tokenizer = await loadTokenizer(tmp.dir);
  model = await loadQaModel(FIXTURE_DIR, { backend: 'cpu' });
});
after(async () => {
  model.dispose();
  await tmp.cleanup();
});

// Expected strings from the Python `tokenizers` 0.23.2 WordPiece decoder over this vocabulary, followed by
// transformers' clean_up_tokenization (what `tokenizer.decode(ids)` does in the tutorial).
const EXPECTED = ["it's a cats [SEP] new york,.", '', '', ''];

function rowsOf(batch: Fixture['batches'][number]): { ids: number[]; n: number }[] {
  return batch.input_ids.map((ids, b) => {
    const n = batch.attention_mask[b]!.reduce((s, m) => s + m, 0);
    return { ids: ids.slice(0, n), n };
  });
}

test('argmax on the PyTorch fixture logits decodes as the tutorial does (one span, three reversed → "")', async () => {
  const rows = rowsOf(fixture.batches[0]!);
  const decoded: string[] = [];
  for (const [b, { ids, n }] of rows.entries()) {
    const span = argmaxSpan(ids, {
      offsets: new Array<null>(n).fill(null),
      startLogits: fixture.forward.start_logits[b]!,
      endLogits: fixture.forward.end_logits[b]!,
    });
    decoded.push(await tutorialDecode(tokenizer, span.ids));
  }
  assert.deepEqual(decoded, EXPECTED);
});

test('argmax on the TF.js fixture model picks the same tokens as PyTorch and decodes the same', async () => {
  const batch = fixture.batches[0]!;
  const out = await model.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask });
  const rows = rowsOf(batch);
  const decoded: string[] = [];
  for (const [b, { ids, n }] of rows.entries()) {
    const ours = argmaxSpan(ids, {
      offsets: new Array<null>(n).fill(null),
      startLogits: out.startLogits[b]!,
      endLogits: out.endLogits[b]!,
    });
    const torch = argmaxSpan(ids, {
      offsets: new Array<null>(n).fill(null),
      startLogits: fixture.forward.start_logits[b]!,
      endLogits: fixture.forward.end_logits[b]!,
    });
    assert.deepEqual([ours.startToken, ours.endToken], [torch.startToken, torch.endToken], `row ${b}`);
    decoded.push(await tutorialDecode(tokenizer, ours.ids));
  }
  assert.deepEqual(decoded, EXPECTED);
});

test("evaluateModel on the fixture model: eval loss equals PyTorch's on batch 0, and no tensor is left behind", async () => {
  const batch = fixture.batches[0]!;
  // features = the fixture's rows with their labels; offsets mark tokens 1.. as context of a dummy text
  const features: Feature[] = rowsOf(batch).map(({ ids, n }, b) => ({
    exampleId: `e${b}`,
    inputIds: ids,
    offsets: Array.from({ length: n }, (_, t) => (t === 0 ? null : ([t - 1, t] as [number, number]))),
    startPosition: batch.start_positions[b]!,
    endPosition: batch.end_positions[b]!,
  }));
  const rows = features.map((f) => ({
    id: f.exampleId,
    title: '',
    context: 'x'.repeat(30),
    question: 'q',
    answers: { text: ['x'], answer_start: [0] },
  }));
  const before = tf.memory().numTensors;
  // one batch of 4 padded to 24, exactly as the fixture ran it; positions past T are ignored by the loss
  const first = await evaluateModel(model, rows, features, { batchSize: 4 });
  const afterFirst = tf.memory().numTensors;
  await evaluateModel(model, rows, features, { batchSize: 2 });
  assert.equal(afterFirst, before, 'first run leaves no tensors');
  assert.equal(tf.memory().numTensors, before, 'second run leaves no tensors');
  assert.ok(
    Math.abs(first.evalLoss - fixture.forward.loss) < 1e-4,
    `${first.evalLoss} vs PyTorch ${fixture.forward.loss}`,
  );
  assert.equal(first.count, 4);
});
