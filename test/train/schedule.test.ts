import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  learningRateAt,
  linearScheduleFactor,
  scheduleFactor,
  validateSchedule,
  warmupStepsFromRatio,
} from '../../src/train/schedule.js';
import { isQaFtError } from '../../src/errors.js';

test('no warm-up: lr_k = lr·(K−k)/K, the rates of the PyTorch fixture (0.005 over 4 steps)', () => {
  const rates = [0, 1, 2, 3].map((k) => learningRateAt(k, { learningRate: 0.005, totalSteps: 4 }));
  assert.deepEqual(rates, [0.005, 0.00375, 0.0025, 0.00125]);
});

test('warm-up of 2 over 6 steps: 0, ½, then 1 decaying to 0 over the remaining 4', () => {
  const factors = [0, 1, 2, 3, 4, 5, 6].map((k) => linearScheduleFactor(k, 6, 2));
  assert.deepEqual(factors, [0, 0.5, 1, 0.75, 0.5, 0.25, 0]);
});

test('steps past the end stay at 0, never negative', () => {
  assert.equal(linearScheduleFactor(9, 6, 0), 0);
});

test('warm-up ratio rounds up like HF get_warmup_steps (ceil(0.1·95) = 10)', () => {
  assert.equal(warmupStepsFromRatio(0.1, 95), 10);
  assert.equal(warmupStepsFromRatio(0, 95), 0);
});

test('warm-up ratio outside [0, 1] → BAD_ARGUMENT', () => {
  assert.throws(
    () => warmupStepsFromRatio(1.5, 10),
    (e) => isQaFtError(e) && e.code === 'BAD_ARGUMENT',
  );
});

test('cosine, warm-up 2 over 6 steps: 0, ½, then ½(1 + cos(π·p)) for p = 0, ¼, ½, ¾, 1 (HF get_cosine_schedule_with_warmup)', () => {
  const factors = [0, 1, 2, 3, 4, 5, 6].map((k) => scheduleFactor('cosine', k, 6, 2));
  const expected = [0, 0.5, 1, 0.8535533905932737, 0.5, 0.14644660940672627, 0];
  factors.forEach((f, i) => assert.ok(Math.abs(f - (expected[i] as number)) < 1e-12, `step ${i}: ${f}`));
});

test('constant ignores warm-up (HF get_constant_schedule); constant_with_warmup ramps then holds', () => {
  assert.deepEqual(
    [0, 1, 5].map((k) => scheduleFactor('constant', k, 6, 2)),
    [1, 1, 1],
  );
  assert.deepEqual(
    [0, 1, 2, 5, 6].map((k) => scheduleFactor('constant_with_warmup', k, 6, 2)),
    [0, 0.5, 1, 1, 1],
  );
});

test('an unknown scheduler type → BAD_ARGUMENT naming the option field lrSchedulerType', () => {
  assert.throws(
    () => validateSchedule({ learningRate: 1, totalSteps: 2, lrSchedulerType: 'poly' as 'linear' }),
    (e) => isQaFtError(e) && e.code === 'BAD_ARGUMENT' && e.message.startsWith('lrSchedulerType must be one of'),
  );
});
