/**
 * bf16 training on the native backend: the tiny DistilBERT fixture's 4 trainer steps (as in
 * trainer-native.test.ts) with bf16 matmuls give the losses PyTorch gives under torch.autocast('cpu', bfloat16)
 * (fixtures/bf16-losses.json, made by fixtures/make_bf16_losses.py) within 1e-3 relative (the issue asks 1e-2);
 * master weights and AdamW stay float32. On oneDNN where it runs; elsewhere on an emulation (the same rounding with
 * float32 products, through oneDNN's path where it is linked, else on the sgemm), saying so.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { skipReason } from './compare.js';
import { activePrecision, bf16Support, nativeAddon, setNativePrecision } from '../../src/engine/index.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { createTrainer } from '../../src/train/trainer.js';
import { at } from '../../src/util/checked-index.js';
import { fixtureDir, readFixtureJson } from '../model/tiny-fixture.js';

const FIXTURE = fixtureDir('distilbert');
const REFERENCE = join(import.meta.dirname, 'fixtures', 'bf16-losses.json');

test('bf16: 4 trainer steps on the tiny fixture give PyTorch autocast losses within 1e-3 relative', {
  skip: skipReason ?? false,
}, async (t) => {
  const fixture = readFixtureJson(FIXTURE, 'distilbert');
  const reference = JSON.parse(await readFile(REFERENCE, 'utf8')) as { bf16_losses: number[] };
  const support = bf16Support();

  const model = await loadQaModel(FIXTURE, {
    backend: 'native',
    ...(support.ok ? { precision: 'bf16' as const } : {}),
  });
  // without bf16 kernels: the oneDNN path on rounded float32 where oneDNN is linked, else the sgemm
  const emulate = nativeAddon()?.bf16Support().linked === true ? 'onednn' : 'sgemm';
  if (!support.ok) {
    setNativePrecision('bf16', { emulate });
    t.diagnostic(`oneDNN bf16 unavailable (${support.reason}): bf16 emulated (${emulate})`);
  }
  try {
    assert.equal(activePrecision(), 'bf16');
    if (support.ok) assert.equal(model.precision, 'bf16');
    const o = fixture.train;
    const trainer = createTrainer(model, {
      learningRate: o.lr,
      weightDecay: o.weight_decay,
      maxGradNorm: o.max_grad_norm,
      totalSteps: o.steps,
    });
    let offFp32 = 0,
      offTorch = 0;
    for (const [k, b] of fixture.batches.entries()) {
      const r = await trainer.step({
        inputIds: b.input_ids,
        attentionMask: b.attention_mask,
        startPositions: b.start_positions,
        endPositions: b.end_positions,
      });
      const want = at(reference.bf16_losses, k);
      assert.ok(Math.abs(r.loss - want) <= 1e-3 * want, `loss ${k}: ${r.loss} vs PyTorch autocast ${want}`);
      offFp32 = Math.max(offFp32, Math.abs(r.loss - at(o.losses, k)));
      offTorch = Math.max(offTorch, Math.abs(r.loss - want) / want);
    }
    t.diagnostic(
      `largest relative gap to PyTorch autocast ${offTorch.toExponential(2)}; largest gap to fp32 ${offFp32.toExponential(2)}`,
    );
    // The fp32 run matches the fixture to ~1e-6 (trainer-native.test.ts): a visible gap shows bf16 really ran.
    assert.ok(offFp32 > 1e-5, `bf16 losses equal the fp32 ones (largest gap ${offFp32})`);
    trainer.dispose();
  } finally {
    setNativePrecision('fp32');
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, 0);
});

describe('loadQaModel precision', { skip: skipReason ?? false }, () => {
  test("fp32 by default; bf16 with precision: 'bf16' where it runs, else a one-line error saying why", async () => {
    const fp32 = await loadQaModel(FIXTURE, { backend: 'native' });
    assert.equal(fp32.precision, 'fp32');
    fp32.dispose();
    const support = bf16Support();
    for (const backend of ['native', 'auto'] as const) {
      const load = loadQaModel(FIXTURE, { backend, precision: 'bf16' });
      if (support.ok) {
        const model = await load;
        assert.deepEqual([model.backend, model.precision], ['native', 'bf16']);
        model.dispose();
      } else {
        await assert.rejects(
          load,
          (e: Error) => /^bf16 is not available: /.test(e.message) && !e.message.includes('\n'),
        );
      }
    }
    const cpu = loadQaModel(FIXTURE, { backend: 'cpu', precision: 'bf16' });
    await assert.rejects(cpu, /bf16 needs the native backend \(active: cpu\)/);
    setNativePrecision('fp32');
    assert.equal(tf.memory().numTensors, 0);
  });
});
