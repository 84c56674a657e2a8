/**
 * The fused attention-probability kernels (src/engine/attention-softmax.ts) against the op-by-op path they replace:
 * the same dropout mask as the native Dropout kernel (and its rule), exactly 0 for masked keys, and within 1e-6 of
 * TF.js's cpu kernels (values) and of tf.grad through them (gradients); then the model's `attention` on native
 * (fused) against it on cpu (op by op).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAttentionProbs, nativeAttentionProbsGrad, nativeDropoutForward } from '../../src/engine/ops.js';
import { registerGradients } from '../../src/model/gradients.js';
import { attention, FLOAT32_MIN } from '../../src/model/fused-ops.js';
import { at } from '../../src/util/checked-index.js';
import { randomValues, skipReason } from './compare.js';

registerGradients(); // tfjs-core's Node bundle ships no gradients (Softmax, Add)

interface Case {
  readonly name: string;
  readonly shape: [number, number, number, number]; // [B, H, Tq, Tk]
  readonly mask: 'keys' | 'pairs' | 'none';
}

// odd row lengths (threads split mid-tensor), a masked-out key in each batch row, a fully masked query row (pairs)
const CASES: readonly Case[] = [
  { name: 'B=2, H=3, T=7, key mask', shape: [2, 3, 7, 7], mask: 'keys' },
  { name: 'B=2, H=3, T=33, key mask', shape: [2, 3, 33, 33], mask: 'keys' },
  { name: 'B=2, H=3, T=33, query × key mask', shape: [2, 3, 33, 33], mask: 'pairs' },
  { name: 'B=2, H=3, T=7, no mask', shape: [2, 3, 7, 7], mask: 'none' },
];
const RATE = 0.25;
const SEED = 1234;

/** Padded positions per batch row: batch 0 masks its last key, batch 1 its last three. */
function padded(b: number, j: number, t: number): boolean {
  return j >= t - (b === 0 ? 1 : 3);
}

function maskValues(c: Case): { values: Float32Array; shape: number[] } | null {
  const [b, , t] = c.shape;
  if (c.mask === 'none') return null;
  if (c.mask === 'keys') {
    const values = new Float32Array(b * t);
    for (let r = 0; r < b; r++) for (let j = 0; j < t; j++) values[r * t + j] = padded(r, j, t) ? FLOAT32_MIN : 0;
    return { values, shape: [b, 1, 1, t] };
  }
  const values = new Float32Array(b * t * t);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++)
      for (let j = 0; j < t; j++) values[(r * t + i) * t + j] = padded(r, i, t) || padded(r, j, t) ? FLOAT32_MIN : 0;
  }
  return { values, shape: [b, 1, t, t] };
}

function inputs(c: Case): { scores: tf.Tensor4D; mask: tf.Tensor | null; dy: tf.Tensor4D } {
  const n = c.shape.reduce((a, d) => a * d, 1);
  const m = maskValues(c);
  return {
    scores: tf.tensor4d(randomValues(n, 11, -8, 8), c.shape),
    mask: m === null ? null : tf.tensor(m.values, m.shape),
    dy: tf.tensor4d(randomValues(n, 12, -1, 1), c.shape),
  };
}

interface Result {
  probs: Float32Array;
  y: Float32Array;
  keep: Uint8Array;
  ds: Float32Array;
  dsDropped: Float32Array;
}

const data = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

/** The fused kernels on native: probs, y and keep (with dropout), ds without and with dropout. */
async function fused(c: Case): Promise<Result> {
  await tf.setBackend('native');
  const { scores, mask, dy } = inputs(c);
  const before = tf.memory().numTensors;
  const plain = nativeAttentionProbs(scores, mask, null);
  const dropped = nativeAttentionProbs(scores, mask, { rate: RATE, seed: SEED });
  assert.ok(plain !== undefined && dropped !== undefined, 'nativeAttentionProbs is undefined on native');
  assert.equal(plain.dropped, null);
  assert.ok(dropped.dropped !== null, 'no dropout outputs');
  const ds = nativeAttentionProbsGrad(dy, plain.probs, null);
  const dsDropped = nativeAttentionProbsGrad(dy, dropped.probs, { mask: dropped.dropped.mask, rate: RATE });
  const all = [plain.probs, dropped.probs, dropped.dropped.y, dropped.dropped.mask, ds, dsDropped];
  assert.equal(tf.memory().numTensors, before + all.length);
  for (const t of all) assert.deepEqual(t.shape, c.shape);
  assert.equal(dropped.dropped.mask.dtype, 'bool');
  assert.deepEqual(data(dropped.probs), data(plain.probs), 'dropout changed the probabilities');
  const out = {
    probs: data(plain.probs),
    y: data(dropped.dropped.y),
    keep: new Uint8Array(dropped.dropped.mask.dataSync()),
    ds: data(ds),
    dsDropped: data(dsDropped),
  };
  tf.dispose([scores, dy, ...(mask === null ? [] : [mask]), ...all]);
  assert.equal(tf.memory().numTensors, before - (mask === null ? 2 : 3));
  return out;
}

/** The op-by-op forward of src/model/fused-ops.ts's attention, kernel by kernel on native: probs and the Dropout kernel's mask. */
async function opByOpNative(c: Case): Promise<Pick<Result, 'probs' | 'keep'>> {
  await tf.setBackend('native');
  return tf.tidy(() => {
    const { scores, mask } = inputs(c);
    const p = tf.softmax(mask === null ? scores : tf.add(scores, mask), -1);
    return { probs: data(p), keep: new Uint8Array(nativeDropoutForward(p, RATE, SEED)!.mask.dataSync()) };
  });
}

/**
 * TF.js's cpu kernels: p = softmax(scores + mask), y = p·keep/(1 − rate) for a given keep mask, and the gradients
 * of Σ p·dy and Σ y·dy with respect to the scores by tf.grad.
 */
async function cpuReference(c: Case, keep: Uint8Array): Promise<Omit<Result, 'keep'>> {
  await tf.setBackend('cpu');
  return tf.tidy(() => {
    const { scores, mask, dy } = inputs(c);
    const keepScaled = tf.tensor(
      Float32Array.from(keep, (k) => (k === 1 ? 1 / (1 - RATE) : 0)),
      c.shape,
    );
    const probsOf = (s: tf.Tensor): tf.Tensor => tf.softmax(mask === null ? s : tf.add(s, mask), -1);
    const droppedOf = (s: tf.Tensor): tf.Tensor => tf.mul(probsOf(s), keepScaled);
    return {
      probs: data(probsOf(scores)),
      y: data(droppedOf(scores)),
      ds: data(tf.grad(probsOf)(scores, dy)),
      dsDropped: data(tf.grad(droppedOf)(scores, dy)),
    };
  });
}

/** splitmix64 in BigInt: a reference for the native dropout rule (native/dropout-rule.h), written from its definition. */
function splitMix64(z: bigint): bigint {
  const M = (1n << 64n) - 1n;
  z = (z + 0x9e3779b97f4a7c15n) & M;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
  return z ^ (z >> 31n);
}

/** Element i is kept when the top 24 bits of splitmix64(splitmix64(seed) ^ i) are ≥ ceil(rate·2^24). */
function keepReference(size: number, rate: number, seed: number): Uint8Array {
  const key = splitMix64(BigInt(seed));
  const threshold = BigInt(Math.ceil(rate * 2 ** 24));
  return Uint8Array.from({ length: size }, (_, i) => (splitMix64(key ^ BigInt(i)) >> 40n >= threshold ? 1 : 0));
}

/** The largest |got − want| / max(|want|, floor) and where. */
function worst(got: Float32Array, want: Float32Array, floor: number): { rel: number; i: number } {
  assert.equal(got.length, want.length);
  let w = { rel: 0, i: -1 };
  for (let i = 0; i < got.length; i++) {
    const rel = Math.abs(at(got, i) - at(want, i)) / Math.max(Math.abs(at(want, i)), floor);
    if (!(rel <= w.rel)) w = { rel, i };
  }
  return w;
}

describe('fused attention probabilities', { skip: skipReason ?? false }, () => {
  for (const c of CASES) {
    test(`${c.name}: the native Dropout kernel's mask, y = p·scale where kept and 0 elsewhere, masked keys exactly 0`, async () => {
      const [want, got] = [await opByOpNative(c), await fused(c)];
      assert.deepEqual(Array.from(got.keep), Array.from(want.keep), "the Dropout kernel's mask");
      assert.deepEqual(
        Array.from(got.keep),
        Array.from(keepReference(got.keep.length, RATE, SEED)),
        'the dropout rule',
      );
      const scale = Math.fround(1 / (1 - RATE));
      for (let i = 0; i < got.y.length; i++) {
        assert.equal(at(got.y, i), at(got.keep, i) === 1 ? Math.fround(at(got.probs, i) * scale) : 0, `y[${i}]`);
        if (at(want.probs, i) === 0) assert.equal(at(got.probs, i), 0, `masked key ${i}`);
      }
    });

    test(`${c.name}: values within 1e-6 of TF.js cpu's softmax, gradients within 1e-6 of tf.grad on cpu`, async () => {
      const got = await fused(c);
      const want = await cpuReference(c, got.keep);
      for (const k of ['probs', 'y'] as const) {
        const e = worst(got[k], want[k], 1e-30);
        assert.ok(e.rel <= 1e-6, `${k}: element ${e.i}: ${at(got[k], e.i)} vs cpu ${at(want[k], e.i)}`);
      }
      // ds = p·g − p·Σ g·p (cpu's order) cancels: compared relative to its terms' scale, |g|·p ≤ 1/(1 − rate) here
      for (const k of ['ds', 'dsDropped'] as const) {
        const e = worst(got[k], want[k], 1);
        assert.ok(e.rel <= 1e-6, `${k}: element ${e.i}: ${at(got[k], e.i)} vs cpu ${at(want[k], e.i)}`);
      }
      // masked keys get probability 0 and no gradient; a fully masked query row is uniform (softmax of equal scores)
      const [b, h, t] = c.shape;
      for (let r = 0; r < b * h * t; r++) {
        const batch = Math.floor(r / (h * t)),
          i = r % t;
        for (let j = 0; j < t; j++) {
          const e = r * t + j;
          if (c.mask === 'pairs' && padded(batch, i, t))
            assert.ok(Math.abs(at(got.probs, e) - 1 / t) < 1e-6, `row ${r} uniform`);
          else if (c.mask !== 'none' && padded(batch, j, t))
            assert.ok(at(got.probs, e) === 0 && at(got.ds, e) === 0, `element ${e} masked`);
        }
      }
    });
  }

  test('hand-worked: softmax([0, ln 3, masked]) = [1/4, 3/4, 0]; its gradient for dy = [1, 0, 0] is [3/16, −3/16, 0]', async () => {
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const scores = tf.tensor4d([0, Math.log(3), 5], [1, 1, 1, 3]),
      mask = tf.tensor4d([0, 0, FLOAT32_MIN], [1, 1, 1, 3]);
    const dy = tf.tensor4d([1, 0, 0], [1, 1, 1, 3]);
    const { probs } = nativeAttentionProbs(scores, mask, null)!;
    const ds = nativeAttentionProbsGrad(dy, probs, null);
    const [p, d] = [Array.from(probs.dataSync()), Array.from(ds.dataSync())];
    [0.25, 0.75, 0].forEach((v, i) => assert.ok(Math.abs(at(p, i) - v) < 1e-7, `p ${p.join(', ')}`));
    [3 / 16, -3 / 16, 0].forEach((v, i) => assert.ok(Math.abs(at(d, i) - v) < 1e-7, `ds ${d.join(', ')}`));
    tf.dispose([scores, mask, dy, probs, ds]);
    assert.equal(tf.memory().numTensors, before);
  });

  test('another mask shape, a rate outside (0, 1) or int32 scores: undefined (attention keeps its op-by-op path)', async () => {
    await tf.setBackend('native');
    const scores = tf.zeros([2, 3, 4, 4]) as tf.Tensor4D;
    const wrongMask = tf.zeros([2, 4]),
      intScores = tf.zeros([2, 3, 4, 4], 'int32') as tf.Tensor4D;
    assert.equal(nativeAttentionProbs(scores, wrongMask, null), undefined);
    assert.equal(nativeAttentionProbs(scores, null, { rate: 0, seed: 1 }), undefined);
    assert.equal(nativeAttentionProbs(intScores, null, null), undefined);
    tf.dispose([scores, wrongMask, intScores]);
  });
});

describe("the model's attention with the fused kernels", { skip: skipReason ?? false }, () => {
  const [B, T, D, H] = [2, 9, 12, 3];
  const qkv = [21, 22, 23].map((s) => randomValues(B * T * D, s, -2, 2));
  const dyValues = randomValues(B * T * D, 24);
  const biasValues = randomValues(B * H * T * T, 25);

  /** context and the gradients of Σ context·dy for q, k, v (and the DeBERTa-style score bias) on the active backend. */
  function run(deberta: boolean): Float32Array[] {
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const [q, k, v] = qkv.map((x) => tf.tensor3d(x, [B, T, D])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const keys = new Float32Array(B * T).map((_, e) => (padded(Math.floor(e / T), e % T, T) ? FLOAT32_MIN : 0));
      const maskBias = tf.tensor4d(keys, [B, 1, 1, T]);
      const bias = tf.tensor4d(biasValues, [B, H, T, T]);
      const f = (qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor, bi?: tf.Tensor): tf.Tensor =>
        attention(qi as tf.Tensor3D, ki as tf.Tensor3D, vi as tf.Tensor3D, {
          heads: H,
          maskBias,
          dropout: null,
          ...(deberta ? { bias: bi as tf.Tensor4D, maskedFill: true, scale: Math.sqrt((3 * D) / H) } : {}),
        });
      const { value, grads } = tf.valueAndGrads(f)(
        deberta ? [q, k, v, bias] : [q, k, v],
        tf.tensor3d(dyValues, [B, T, D]),
      );
      return [value, ...grads].map(data);
    });
    assert.equal(tf.memory().numTensors, before);
    return out;
  }

  for (const deberta of [false, true]) {
    test(`on native (fused) within 1e-5 of cpu (op by op), values and gradients${deberta ? ', with a score bias and masked_fill' : ''}`, async () => {
      await tf.setBackend('native');
      const profile = await tf.profile(() => void run(deberta));
      const kernels = profile.kernels.map((k) => k.name);
      assert.equal(kernels.filter((n) => n === 'QaftAttentionProbs').length, 1, kernels.join(', '));
      assert.equal(kernels.filter((n) => n === 'QaftAttentionProbsGrad').length, 1, kernels.join(', '));
      assert.ok(!kernels.includes('Softmax'), kernels.join(', '));
      const got = run(deberta);
      await tf.setBackend('cpu');
      const want = run(deberta);
      ['context', 'dq', 'dk', 'dv', 'dbias'].slice(0, got.length).forEach((name, n) => {
        const e = worst(got[n]!, want[n]!, 1);
        assert.ok(e.rel <= 1e-5, `${name}: element ${e.i}: ${at(got[n]!, e.i)} vs cpu ${at(want[n]!, e.i)}`);
      });
    });
  }

  test('other backends: no fused kernel (undefined)', async () => {
    await tf.setBackend('cpu');
    const scores = tf.zeros([1, 1, 2, 2]) as tf.Tensor4D;
    assert.equal(nativeAttentionProbs(scores, null, null), undefined);
    scores.dispose();
  });
});
