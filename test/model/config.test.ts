import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { configToJson, loadConfig, parseDistilBertConfig } from '../../src/model/config.js';
import { makeTempDir, sharedDir } from '../helpers/cli.js';

const baseDir = join(sharedDir, 'models', 'distilbert-base-uncased');
const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');

function rejects(json: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseDistilBertConfig(json, 'my/config.json'),
    (e: unknown) => {
      assert.ok(e instanceof QaFtError);
      assert.equal(e.code, 'BAD_CONFIG');
      assert.ok(e.message.startsWith('my/config.json: '), e.message);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('DistilBERT config', () => {
  test('distilbert-base-uncased config.json → the published sizes', async () => {
    const c = await loadConfig(baseDir);
    assert.ok(c.modelType === 'distilbert');
    assert.equal(c.vocabSize, 30522);
    assert.equal(c.dim, 768);
    assert.equal(c.nLayers, 6);
    assert.equal(c.nHeads, 12);
    assert.equal(c.hiddenDim, 3072);
    assert.equal(c.maxPositionEmbeddings, 512);
    assert.equal(c.dropout, 0.1);
    assert.equal(c.attentionDropout, 0.1);
    assert.equal(c.qaDropout, 0.1);
    assert.equal(c.padTokenId, 0);
    assert.ok(Object.isFrozen(c));
  });

  test('the tiny fixture config round-trips through configToJson', async () => {
    const json = JSON.parse(await readFile(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const c = parseDistilBertConfig(json, 'x');
    assert.deepEqual(configToJson(c), json);
  });

  const base = { model_type: 'distilbert', dim: 32, n_heads: 4, n_layers: 2, hidden_dim: 64, vocab_size: 120 };
  test('n_heads that does not divide dim → error with both values', () =>
    rejects({ ...base, n_heads: 5 }, /n_heads \(5\) does not divide dim \(32\)/));
  test('activation relu → error', () =>
    rejects({ ...base, activation: 'relu' }, /activation is "relu", expected "gelu"/));
  test('model_type bert → error', () =>
    rejects({ ...base, model_type: 'bert' }, /model_type is "bert", expected "distilbert"/));
  test('non-positive or fractional sizes → error', () => {
    rejects({ ...base, dim: 0 }, /dim is 0, expected a positive integer/);
    rejects({ ...base, n_layers: 1.5 }, /n_layers is 1.5/);
    rejects({ ...base, vocab_size: '120' }, /vocab_size is "120"/);
  });
  test('dropout outside [0, 1) → error', () => {
    rejects({ ...base, dropout: 1 }, /dropout is 1, expected a probability in \[0, 1\)/);
    rejects({ ...base, attention_dropout: -0.1 }, /attention_dropout is -0.1/);
    rejects({ ...base, qa_dropout: null }, /qa_dropout is null/);
  });
  test('sinusoidal position embeddings → error', () =>
    rejects({ ...base, sinusoidal_pos_embds: true }, /sinusoidal_pos_embds is true/));
  test('pad_token_id outside the vocabulary → error', () =>
    rejects({ ...base, pad_token_id: 120 }, /pad_token_id is 120, expected an integer in \[0, 120\)/));
  test('not an object → error', () => rejects([1, 2], /expected a JSON object, got an array/));

  test('missing or malformed config.json file → one-line errors', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      await assert.rejects(
        loadConfig(dir),
        (e: unknown) => e instanceof QaFtError && e.code === 'FILE_NOT_FOUND' && /config\.json/.test(e.message),
      );
      await writeFile(join(dir, 'config.json'), '{"dim": ');
      await assert.rejects(
        loadConfig(dir),
        (e: unknown) => e instanceof QaFtError && e.code === 'BAD_CONFIG' && /not valid JSON/.test(e.message),
      );
    } finally {
      await cleanup();
    }
  });
});
