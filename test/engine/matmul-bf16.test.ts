/**
 * bf16 matmuls of the native backend (torch.autocast(cpu, bfloat16) semantics) against a hand-rounded reference:
 * inputs rounded to bf16 (round to nearest even) here in JS, products summed in float64. bf16 × bf16 products are
 * exact in float32, so the only error left is float32 summation: |got − ref| ≤ (k+1)·2⁻²⁴·Σ|a·b| per element,
 * whatever order the kernel sums in. Runs three times: on oneDNN's bf16 kernels (skipped, with the reason, without
 * oneDNN or AVX512_BF16), through the same oneDNN path with a float32 primitive on the rounded inputs (wherever
 * oneDNN is linked: its primitives, cache and data handles), and on the fp32 sgemm (wherever the addon is built).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { activePrecision, bf16Support, nativeAddon, setNativePrecision } from '../../src/engine/index.js';
import { registerGradients } from '../../src/model/gradients.js';
import { linear } from '../../src/model/fused-ops.js';
import { adamwUpdate } from '../../src/engine/adamw.js';
import { nativeGelu } from '../../src/engine/gelu.js';
import { nativeAddLayerNorm, nativeAddLayerNormBackward } from '../../src/engine/layernorm.js';
import { nativeAttentionProbs, nativeAttentionProbsGrad } from '../../src/engine/attention-softmax.js';
import { randomValues, skipReason } from './compare.js';
import { at } from '../../src/util/checked-index.js';
import { skipUnlessRequired } from '../helpers/required.js';

registerGradients(); // the model's BatchMatMul gradient (tfjs-core's Node bundle ships none)
const support = skipReason === undefined ? bf16Support() : { ok: false as const, reason: skipReason };
skipUnlessRequired('bf16', support.ok ? undefined : support.reason);
const linked = nativeAddon()?.bf16Support().linked === true;
const MODES = [
  {
    name: 'oneDNN',
    emulate: undefined,
    skip: skipReason ?? (support.ok ? false : `oneDNN bf16 unavailable: ${support.reason}`),
  },
  {
    name: 'the oneDNN path with a float32 primitive',
    emulate: 'onednn',
    skip: skipReason ?? (linked ? false : 'built without oneDNN'),
  },
  { name: 'emulated on sgemm', emulate: 'sgemm', skip: skipReason ?? false },
] as const;

const bits = new Uint32Array(1);
const float = new Float32Array(bits.buffer);
/** float32 → the nearest bfloat16 (ties to even), as a number. */
function bf16(x: number): number {
  float[0] = x;
  bits[0] = ((bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) & 0xffff0000) >>> 0;
  return float[0]!;
}

/** Row-major [rows, cols] matrix `i` of a batch, read as stored (transposed when `trans`). */
function entry(v: Float32Array, i: number, rows: number, cols: number, trans: boolean, r: number, c: number): number {
  return at(v, i * rows * cols + (trans ? c * rows + r : r * cols + c));
}

interface Reference {
  rounded: Float64Array; // Σ bf16(a)·bf16(b), float64
  exact: Float64Array; // Σ a·b without rounding (to show the rounding is visible)
  tol: Float64Array; // (k+1)·2⁻²⁴·Σ|bf16(a)·bf16(b)|
}

/** C[i] = op(A[ai(i)]) × op(B[bi(i)]) for `batch` outputs; A matrices [m,k], B [k,n] before the transposes. */
function reference(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  ai: (i: number) => number,
  bi: (i: number) => number,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
): Reference {
  const size = batch * m * n;
  const out = { rounded: new Float64Array(size), exact: new Float64Array(size), tol: new Float64Array(size) };
  for (let i = 0; i < batch; i++) {
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = 0,
          e = 0,
          abs = 0;
        for (let j = 0; j < k; j++) {
          const x = entry(a, ai(i), m, k, ta, r, j),
            y = entry(b, bi(i), k, n, tb, j, c);
          s += bf16(x) * bf16(y);
          abs += Math.abs(bf16(x) * bf16(y));
          e += x * y;
        }
        const o = (i * m + r) * n + c;
        out.rounded[o] = s;
        out.exact[o] = e;
        out.tol[o] = (k + 1) * 2 ** -24 * abs + 1e-30;
      }
    }
  }
  return out;
}

/** Counts the addon's float32 → bf16 roundings (its `toBf16` calls) until `restore()`. */
function countBf16Roundings(): { readonly count: number; reset(): void; restore(): void } {
  const addon = nativeAddon()!;
  const convert = addon.toBf16;
  let count = 0;
  addon.toBf16 = (src, dst) => {
    count++;
    convert(src, dst);
  };
  return {
    get count() {
      return count;
    },
    reset: () => (count = 0),
    restore: () => (addon.toBf16 = convert),
  };
}

/** `got` is within tolerance of the rounded reference, and (unless `exactToo`) visibly off the unrounded one. */
function expectRounded(got: ArrayLike<number>, want: Reference, what: string, exactToo = false): void {
  assert.equal(got.length, want.rounded.length, `${what}: size`);
  let worst = 0,
    seen = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(at(got, i) - at(want.rounded, i)) / at(want.tol, i);
    if (err > worst) worst = err;
    seen = Math.max(seen, Math.abs(at(got, i) - at(want.exact, i)) / at(want.tol, i));
  }
  assert.ok(worst <= 1, `${what}: error ${worst.toFixed(2)}× the float32 summation bound`);
  if (!exactToo) assert.ok(seen > 1, `${what}: indistinguishable from an unrounded fp32 matmul`);
}

const OUTER: [number[], number[]][] = [
  [[], []],
  [[3], [3]],
  [[3], []],
  [[], [3]],
  [[1], [4]],
];

for (const mode of MODES) {
  describe(`bf16 matmul, ${mode.name}, against hand-rounded references`, { skip: mode.skip }, () => {
    before(async () => {
      await tf.setBackend('native');
      setNativePrecision('bf16', mode.emulate === undefined ? {} : { emulate: mode.emulate });
    });
    after(() => setNativePrecision('fp32'));

    test('inputs round to nearest, ties to even (A × identity returns bf16(A) exactly)', () => {
      const a = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20, 3 + 2 ** -7, 65504.5, -0.1];
      const want = [1, 1 + 2 ** -6, -1, 1 + 2 ** -7, 3, 65536, bf16(-0.1)];
      assert.equal(bf16(-0.1), -0.10009765625); // the JS rounding itself, by hand: 0x3DCD (up from ...CCCD)
      const k = a.length;
      const eye = tf.eye(k);
      const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [1, k]), eye));
      assert.deepEqual(
        Array.from(got.dataSync()),
        want.map((v) => Math.fround(v)),
      );
      tf.dispose([got, eye]);
    });

    let seed = 100;
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      for (const [oa, ob] of OUTER) {
        test(`BatchMatMul transposeA=${ta} transposeB=${tb}, batch ${JSON.stringify(oa)} × ${JSON.stringify(ob)}`, () => {
          const [m, k, n] = [7, 37, 5];
          const ba = oa[0] ?? 1,
            bb = ob[0] ?? 1,
            batch = Math.max(ba, bb);
          const av = randomValues(ba * m * k, seed++),
            bv = randomValues(bb * k * n, seed++);
          const before = tf.memory().numTensors;
          const got = tf.tidy(() =>
            tf.matMul(
              tf.tensor(av, [...oa, ...(ta ? [k, m] : [m, k])]),
              tf.tensor(bv, [...ob, ...(tb ? [n, k] : [k, n])]),
              ta,
              tb,
            ),
          );
          const want = reference(
            av,
            bv,
            batch,
            (i) => (ba === 1 ? 0 : i),
            (i) => (bb === 1 ? 0 : i),
            m,
            n,
            k,
            ta,
            tb,
          );
          expectRounded(got.dataSync(), want, 'BatchMatMul');
          got.dispose();
          assert.equal(tf.memory().numTensors, before);
        });
      }
    }

    for (const [ta, tb] of [
      [false, false],
      [true, true],
    ] as const) {
      test(`_FusedMatMul with a float32 bias and relu, transposeA=${ta} transposeB=${tb}`, () => {
        const [m, k, n] = [9, 21, 6];
        const av = randomValues(2 * m * k, seed++),
          bv = randomValues(2 * k * n, seed++),
          bias = randomValues(n, seed++);
        const got = tf.tidy(() =>
          tf.fused.matMul({
            a: tf.tensor(av, [2, ...(ta ? [k, m] : [m, k])]),
            b: tf.tensor(bv, [2, ...(tb ? [n, k] : [k, n])]),
            transposeA: ta,
            transposeB: tb,
            bias: tf.tensor1d(bias),
            activation: 'relu',
          }),
        );
        const want = reference(
          av,
          bv,
          2,
          (i) => i,
          (i) => i,
          m,
          n,
          k,
          ta,
          tb,
        );
        for (let i = 0; i < want.rounded.length; i++) {
          want.rounded[i] = Math.max(0, at(want.rounded, i) + at(bias, i % n));
          want.exact[i] = Math.max(0, at(want.exact, i) + at(bias, i % n));
        }
        expectRounded(got.dataSync(), want, '_FusedMatMul');
        got.dispose();
      });
    }

    test("the model's linear layer over [B, T, D]: forward x·Wᵀ, dX = dy·W and dW = dyᵀ·x all rounded", () => {
      const [bt, d, f] = [2 * 11, 24, 40];
      const xv = randomValues(bt * d, seed++),
        wv = randomValues(f * d, seed++),
        gv = randomValues(bt * f, seed++);
      const x = tf.tensor(xv, [2, 11, d]),
        w = tf.tensor2d(wv, [f, d]),
        b = tf.zeros([f]) as tf.Tensor1D,
        g = tf.tensor(gv, [2, 11, f]);
      const y = tf.tidy(() => linear(x, w, b));
      const [dx, dw, db] = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
        linear(xi, wi as tf.Tensor2D, bi as tf.Tensor1D),
      )([x, w, b], g);
      const one = (): number => 0;
      expectRounded(y.dataSync(), reference(xv, wv, 1, one, one, bt, f, d, false, true), 'forward');
      expectRounded(dx!.dataSync(), reference(gv, wv, 1, one, one, bt, d, f, false, false), 'dX');
      expectRounded(dw!.dataSync(), reference(gv, xv, 1, one, one, f, d, bt, true, false), 'dW');
      tf.dispose([x, w, b, g, y, dx!, dw!, db!]);
    });

    if (mode.emulate !== 'sgemm') {
      test('each tensor is rounded once however many matmuls read it, and again after AdamW updates it in place', () => {
        const rounded = countBf16Roundings();
        try {
          const [n, d, f] = [6, 10, 4];
          const xv = randomValues(n * d, seed++),
            wv = randomValues(f * d, seed++),
            gv = randomValues(f * d, seed++);
          const x = tf.tensor2d(xv, [n, d]),
            w = tf.tidy(() => tf.variable(tf.tensor2d(wv.slice(), [f, d]))); // w alone holds its storage (updated in place)
          const m = tf.variable(tf.zerosLike(w)),
            v = tf.variable(tf.zerosLike(w)),
            g = tf.tensor2d(gv, [f, d]);
          const one = (): number => 0;
          const twice = tf.tidy(() => [
            tf.matMul(x, w, false, true),
            tf.matMul(x, w, false, true),
            tf.matMul(w, x, false, true),
          ]);
          assert.equal(rounded.count, 2, 'x and w rounded once each for three products');
          for (const t of twice.slice(0, 2))
            expectRounded(t.dataSync(), reference(xv, wv, 1, one, one, n, f, d, false, true), 'x·wᵀ');
          adamwUpdate(w, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
          const updated = w.dataSync() as Float32Array;
          assert.ok(Math.abs(at(updated, 0) - at(wv, 0)) > 0.05, 'the update moved w');
          const after = tf.tidy(() => tf.matMul(x, w, false, true));
          assert.equal(rounded.count, 3, 'only the updated w rounded again');
          expectRounded(
            after.dataSync(),
            reference(xv, updated, 1, one, one, n, f, d, false, true),
            'x·wᵀ after the update',
          );
          tf.dispose([...twice, after, x, w, m, v, g]);
        } finally {
          rounded.restore();
        }
      });
    }

    if (mode.emulate === undefined) {
      test('kernels that write a matmul input (GELU, attention weights, LayerNorm, their gradients, transposes) round it as the matmul would', () => {
        const [rows, tk] = [2 * 3 * 5, 37];
        const sv = randomValues(rows * tk, seed++, -4, 4),
          bv = randomValues(tk * 6, seed++),
          dv = randomValues(rows * tk, seed++);
        const b = tf.tensor2d(bv, [tk, 6]),
          dy = tf.tensor(dv, [2, 3, 5, tk]),
          scores = tf.tensor(sv, [2, 3, 5, tk]);
        const gelu = nativeGelu(scores)!;
        const probs = nativeAttentionProbs(scores, null, { rate: 0.2, seed: 7 })!;
        const lnW = tf.tensor1d(randomValues(tk, seed++)),
          lnB = tf.tensor1d(randomValues(tk, seed++));
        const norm = nativeAddLayerNorm(scores, null, lnW, lnB, 1e-12)!;
        const normGrad = nativeAddLayerNormBackward(dy, norm.normed, norm.std, lnW);
        const outputs = tf.tidy(() => [
          gelu.forward(),
          gelu.backward(dy),
          probs.dropped!.y,
          nativeAttentionProbsGrad(dy, probs.probs, { mask: probs.dropped!.mask, rate: 0.2 }),
        ]);
        outputs.push(norm.y, normGrad.dx);
        // attention's head split ([B, T, H, d] → [B, H, T, d]) and a plain 2-D transpose
        const heads = tf.tensor(sv, [2, 5, 3, tk]),
          flat = tf.tensor2d(sv, [tk, rows]);
        outputs.push(tf.transpose(heads, [0, 2, 1, 3]), tf.transpose(flat));
        const rounded = countBf16Roundings();
        try {
          tf.tidy(() => tf.matMul(tf.ones([1, tk]), b)); // b's copy made
          for (const [i, out] of outputs.entries()) {
            // the kernel's own bf16 copy (no rounding in the matmul), against a fresh tensor of the same values that
            // the matmul rounds itself
            rounded.reset();
            const viaKernel = tf.tidy(() => tf.matMul(tf.reshape(out, [rows, tk]), b));
            assert.equal(rounded.count, 0, `output ${i}: the matmul used the kernel's bf16 copy`);
            const viaMatmul = tf.tidy(() => tf.matMul(tf.tensor2d(out.dataSync().slice(), [rows, tk]), b));
            assert.deepEqual(viaKernel.dataSync(), viaMatmul.dataSync(), `output ${i}`);
            tf.dispose([viaKernel, viaMatmul]);
          }
        } finally {
          rounded.restore();
        }
        tf.dispose([
          ...outputs,
          heads,
          flat,
          b,
          dy,
          scores,
          probs.probs,
          probs.dropped!.y,
          probs.dropped!.mask,
          lnW,
          lnB,
          norm.normed,
          norm.std,
          normGrad.dw,
          normGrad.db,
        ]);
      });
    }

    if (mode.emulate === undefined) {
      test("outputs only matmuls read (dropped attention weights, GELU's output, a gradient marked so) are held in bf16: read elsewhere, they are the float32 values rounded", () => {
        const [rows, tk] = [2 * 3 * 5, 37];
        const scores = tf.tensor(randomValues(rows * tk, seed++, -4, 4), [2, 3, 5, tk]),
          dy = tf.tensor(randomValues(rows * tk, seed++), [2, 3, 5, tk]);
        const run = (): Float32Array[] =>
          tf.tidy(() => {
            const probs = nativeAttentionProbs(scores, null, { rate: 0.2, seed: 7 })!;
            const dropMask = { mask: probs.dropped!.mask, rate: 0.2 };
            const outs = [
              probs.dropped!.y,
              nativeGelu(scores)!.forward(),
              nativeAttentionProbsGrad(dy, probs.probs, dropMask, true),
              nativeAttentionProbsGrad(dy, probs.probs, dropMask, false),
            ];
            return outs.map((t) => t.dataSync() as Float32Array);
          });
        const held = run();
        setNativePrecision('fp32');
        const float32 = run();
        setNativePrecision('bf16');
        for (const [i, want] of float32.slice(0, 3).entries()) {
          const rounded = Float32Array.from(want, bf16);
          assert.notDeepEqual(want, rounded, `output ${i}: the rounding shows`);
          assert.deepEqual(held[i], rounded, `output ${i}`);
        }
        assert.deepEqual(held[3], float32[3], 'a gradient other ops read stays float32');
        // a bf16-only tensor still alive when the precision changes: an fp32 matmul reads its (rounded) values
        const gelu = nativeGelu(scores)!.forward();
        setNativePrecision('fp32');
        try {
          const b = tf.tensor2d(randomValues(tk * 3, seed++), [tk, 3]);
          const got = tf.tidy(() => tf.matMul(tf.reshape(gelu, [rows, tk]), b).dataSync());
          const want = tf.tidy(() => tf.matMul(tf.tensor2d(held[1]!, [rows, tk]), b).dataSync());
          assert.deepEqual(got, want);
          tf.dispose([b, gelu]);
        } finally {
          setNativePrecision('bf16');
        }
        tf.dispose([scores, dy]);
      });
    }

    test('the mode reports bf16, and fp32 comes back exact', () => {
      assert.equal(activePrecision(), 'bf16');
      setNativePrecision('fp32');
      assert.equal(activePrecision(), 'fp32');
      const got = tf.tidy(() => tf.matMul(tf.tensor2d([1 + 2 ** -8], [1, 1]), tf.tensor2d([1], [1, 1])));
      assert.equal(got.dataSync()[0], 1 + 2 ** -8);
      got.dispose();
      setNativePrecision('bf16', mode.emulate === undefined ? {} : { emulate: mode.emulate });
    });
  });
}

describe('asking for bf16 where it cannot run', { skip: skipReason ?? false }, () => {
  test('without oneDNN or AVX512_BF16: a one-line error saying why; with both: bf16 is on', async () => {
    await tf.setBackend('native');
    try {
      if (support.ok) {
        setNativePrecision('bf16');
        assert.equal(activePrecision(), 'bf16');
      } else {
        assert.throws(
          () => setNativePrecision('bf16'),
          (e: Error) => /^bf16 is not available: .*(oneDNN|AVX512_BF16)/.test(e.message) && !e.message.includes('\n'),
        );
        assert.equal(activePrecision(), 'fp32');
      }
    } finally {
      setNativePrecision('fp32');
    }
  });

  test('on another backend: bf16 needs the native backend', async () => {
    await tf.setBackend('cpu');
    assert.throws(() => setNativePrecision('bf16'), /bf16 needs the native backend \(active: cpu\)/);
    assert.equal(activePrecision(), 'fp32');
    await tf.setBackend('native');
  });
});
