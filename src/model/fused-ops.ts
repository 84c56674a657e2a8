/**
 * The encoders' building blocks as fused TF.js ops with hand-written gradients, written for memory. TF.js's tape
 * keeps what every kernel saves, and every output's gradient, until backward ends; each op here is one tape node
 * that saves only what its backward needs and frees it, and its `dy`, as soon as its backward has run (as
 * PyTorch's autograd does: safe since TF.js reads an output's gradient once, at the node that made it, and no op
 * here returns `dy` or a saved tensor). Off `native` the forward runs the op-by-op kernels in the same order
 * (bit-identical); on `native`, fused GELU and attention kernels compute the same formulas within 1e-6.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  nativeAddLayerNorm,
  nativeAddLayerNormBackward,
  nativeAttentionProbs,
  nativeAttentionProbsGrad,
  nativeDropoutBackward,
  nativeDropoutForward,
  nativeGelu,
} from '../engine/ops.js';
import { at } from '../util/checked-index.js';
import { replace } from '../util/tensor-chain.js';
import { matMul, matMulTransposedBias, unbroadcast } from './gradients.js';
import { dropoutMask } from './random.js';

type Args = (tf.Tensor | tf.GradSaveFunc)[];

/** torch.finfo(torch.float32).min: the additive attention mask's value for a masked score (inputs.ts builds it). */
export const FLOAT32_MIN = -3.4028234663852886e38;

/** Runs a gradient body in a tidy, then frees the op's output gradient and saved tensors (see the file comment). */
function backward(dy: tf.Tensor, saved: readonly tf.Tensor[], body: () => tf.Tensor[]): tf.Tensor[] {
  const grads = tf.tidy(body);
  tf.dispose([dy, ...saved]);
  return grads;
}

/**
 * Inverted dropout's output and mask: the engine's dropout kernel and its 1-byte mask where the backend has one
 * (`native`); elsewhere the seeded JS mask of `dropoutMask` (float32 multipliers, 0 or 1/(1 − rate)). Both are pure
 * functions of (seed, index), but not the same random stream.
 */
function dropoutForward(x: tf.Tensor, rate: number, seed: number): { y: tf.Tensor; mask: tf.Tensor } {
  const native = nativeDropoutForward(x, rate, seed);
  if (native !== undefined) return native;
  const mask = tf.tensor(dropoutMask(x.size, rate, seed), x.shape); // x's shape: 0 or 1/(1-rate)
  return { y: tf.mul(x, mask), mask };
}

function dropoutBackward(dy: tf.Tensor, mask: tf.Tensor, rate: number): tf.Tensor {
  return mask.dtype === 'bool' ? nativeDropoutBackward(dy, mask, rate) : tf.mul(dy, mask);
}

/** Dropout with seed `seed` (`rate` in (0, 1)); its gradient keeps only the mask. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  const f = tf.customGrad((...args: Args) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const { y, mask } = dropoutForward(xi, rate, seed);
    save([mask]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => [dropoutBackward(dy, at(saved, 0), rate)]),
    };
  });
  return f(x) as T;
}

/**
 * Rows `ids` of `table` [V, D], reshaped to `shape` (its last axis D). The gradient is a scatter-add (the stock
 * gather gradient needs UnsortedSegmentSum, which wasm lacks); `rowMask` [N, 1] zeroes the gradient of chosen
 * look-ups (nn.Embedding's padding_idx). Saves nothing: ids and mask are captured, not taped.
 */
export function embedding(
  table: tf.Tensor2D,
  ids: tf.Tensor1D,
  rowMask: tf.Tensor2D | null,
  shape: number[],
): tf.Tensor {
  const f = tf.customGrad((...args: Args) => {
    const [t] = args as [tf.Tensor2D, tf.GradSaveFunc]; // [V, D]
    return {
      value: tf.reshape(tf.gather(t, ids), shape), // [..., D]
      gradFunc: (dy: tf.Tensor) =>
        backward(dy, [], () => {
          const rows = tf.reshape(dy, [ids.size, t.shape[1]]); // [N, D]
          const g = rowMask === null ? rows : tf.mul(rows, rowMask); // [N, D]
          return [tf.scatterND(tf.reshape(ids, [-1, 1]), g, t.shape)]; // [V, D], duplicates summed
        }),
    };
  });
  return f(table);
}

/**
 * torch.nn.Linear over the last axis: x [..., in], W [out, in] (torch layout), b [out] → [..., out]. Saves x and W.
 * dx = dy·W, dW = dyᵀ·x, db = Σ dy: no weight-sized transpose is recorded (on wasm the flagged matMuls become
 * explicit transposes, see gradients.ts `matMul`).
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor {
  const inDim = x.shape.at(-1);
  if (inDim === undefined) throw new Error('linear: x is a scalar; expected [..., in]');
  const outDim = w.shape[0];
  const outShape = [...x.shape.slice(0, -1), outDim];
  const f = tf.customGrad((...args: Args) => {
    const [xi, wi, bi, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const x2 = tf.reshape(xi, [-1, inDim]); // [N, in]
    save([x2, wi]);
    return {
      value: tf.reshape(matMulTransposedBias(x2, wi, bi), outShape), // [..., out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => {
          const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
          const dy2 = tf.reshape(dy, [-1, outDim]); // [N, out]
          return [tf.reshape(matMul(dy2, sw), xi.shape), matMul(dy2, sx, true, false), tf.sum(dy2, 0)]; // [..., in], [out, in], [out]
        }),
    };
  });
  return f(x, w, b);
}

/**
 * LayerNorm(x + r) over the last axis (biased variance, `eps` inside the square root, as torch), with `r` optional
 * and broadcast over leading axes (position embeddings [T, D] under words [B, T, D]). Saves the normalised values
 * and the standard deviation: dx = (g − mean(g) − n·mean(g·n)) / std with g = dy·w, n the normalised values.
 */
export function addLayerNorm(
  x: tf.Tensor3D,
  r: tf.Tensor | null,
  w: tf.Tensor1D,
  b: tf.Tensor1D,
  eps: number,
): tf.Tensor3D {
  const f = tf.customGrad((...args: Args) => {
    const [xi, ri, wi, bi, save] = (r === null ? [...args.slice(0, 1), null, ...args.slice(1)] : args) as [
      tf.Tensor3D,
      tf.Tensor | null,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.GradSaveFunc,
    ];
    // native: one fused pass each way, the same float32 operations as the op-by-op form below (src/engine/layernorm.ts)
    const fused = nativeAddLayerNorm(xi, ri, wi, bi, eps);
    if (fused !== undefined) {
      save([fused.normed, fused.std, wi]);
      return {
        value: fused.y, // [B, T, D]
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          backward(dy, saved, () => {
            const { dx, dw, db } = nativeAddLayerNormBackward(dy, at(saved, 0), at(saved, 1), at(saved, 2)); // [B, T, D], [D], [D]
            return ri === null ? [dx, dw, db] : [dx, unbroadcast(dx, ri.shape), dw, db];
          }),
      };
    }
    const s = ri === null ? xi : tf.add(xi, ri); // [B, T, D]
    const mean = tf.mean(s, -1, true); // [B, T, 1]
    const centered = tf.sub(s, mean); // [B, T, D]
    const variance = tf.mean(tf.mul(centered, centered), -1, true); // [B, T, 1], biased as torch
    const std = tf.sqrt(tf.add(variance, eps)); // [B, T, 1]
    const normed = tf.div(centered, std); // [B, T, D]
    save([normed, std, wi]);
    return {
      value: tf.add(tf.mul(normed, wi), bi), // [B, T, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => {
          const [n, sd, sw] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor1D];
          const g = tf.mul(dy, sw); // [B, T, D]
          const gMean = tf.mean(g, -1, true); // [B, T, 1]
          const gnMean = tf.mean(tf.mul(g, n), -1, true); // [B, T, 1]
          const dx = tf.div(tf.sub(tf.sub(g, gMean), tf.mul(n, gnMean)), sd); // [B, T, D]
          const dw = tf.sum(tf.mul(dy, n), [0, 1]); // [D]
          const db = tf.sum(dy, [0, 1]); // [D]
          return ri === null ? [dx, dw, db] : [dx, unbroadcast(dx, ri.shape), dw, db];
        }),
    };
  });
  return (r === null ? f(x, w, b) : f(x, r, w, b)) as tf.Tensor3D;
}

/** GELU, erf form (x/2·(1 + erf(x/√2))); saves x. */
export function gelu<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Args) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xi]);
    // native: one fused pass each way, within 1e-6 of the op-by-op form below (src/engine/gelu.ts)
    const fused = nativeGelu(xi);
    if (fused !== undefined) {
      return {
        value: fused.forward(), // x's shape
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          backward(dy, saved, () => [nativeGelu(at(saved, 0))!.backward(dy)]),
      };
    }
    // x·(Φ(x)) with Φ(x) = (1 + erf(x/√2))·0.5, one [B, T, F] temporary alive at a time (the halving is exact,
    // so this equals (x·0.5)·(1 + erf(x/√2)) bit for bit)
    const cdf = [tf.erf, (t: tf.Tensor) => tf.add(t, 1), (t: tf.Tensor) => tf.mul(t, 0.5)].reduce(
      replace,
      tf.div(xi, Math.SQRT2),
    );
    return {
      value: replace(cdf, (c) => tf.mul(xi, c)), // x's shape
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => {
          // dy · (Φ(x) + x·φ(x)), Φ(x) = (1 + erf(x/√2))/2, φ(x) = exp(−x²/2)/√(2π); each temporary freed once used
          const sx = at(saved, 0);
          const pdf = [
            (t: tf.Tensor) => tf.mul(t, -0.5),
            tf.exp,
            (t: tf.Tensor) => tf.mul(t, 1 / Math.sqrt(2 * Math.PI)),
            (t: tf.Tensor) => tf.mul(sx, t),
          ].reduce(replace, tf.square(sx)); // x·φ(x)
          const cdf = [tf.erf, (t: tf.Tensor) => tf.add(t, 1), (t: tf.Tensor) => tf.mul(t, 0.5)].reduce(
            replace,
            tf.div(sx, Math.SQRT2),
          ); // Φ(x)
          const sum = tf.add(cdf, pdf);
          tf.dispose([cdf, pdf]);
          const d = replace(sum, (t) => tf.mul(dy, t));
          return [d];
        }),
    };
  });
  return f(x) as T;
}

const GELU_TANH_K = Math.sqrt(2 / Math.PI);
const GELU_TANH_A = 0.044715;

/**
 * GELU, tanh approximation (transformers' `gelu_new`: x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))); saves x and
 * recomputes the tanh in backward.
 */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  const inner = (t: tf.Tensor): tf.Tensor =>
    tf.mul(tf.add(t, tf.mul(tf.mul(tf.mul(t, t), t), GELU_TANH_A)), GELU_TANH_K); // √(2/π)(x + a·x³)
  const f = tf.customGrad((...args: Args) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xi]);
    return {
      value: tf.tidy(() => tf.mul(tf.mul(xi, 0.5), tf.add(tf.tanh(inner(xi)), 1))), // x's shape
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => {
          // dy · (½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3a·x²)), t = tanh(√(2/π)(x + a·x³))
          const sx = at(saved, 0);
          const t = tf.tanh(inner(sx));
          const dInner = tf.mul(tf.add(tf.mul(tf.mul(sx, sx), 3 * GELU_TANH_A), 1), GELU_TANH_K);
          const d = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(sx, 0.5), tf.sub(1, tf.mul(t, t))), dInner));
          return [tf.mul(dy, d)];
        }),
    };
  });
  return f(x) as T;
}

/** ReLU; saves x (the gradient passes where x > 0). */
export function relu<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Args) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xi]);
    return {
      value: tf.relu(xi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy, saved, () => [tf.mul(dy, tf.step(at(saved, 0)))]),
    };
  });
  return f(x) as T;
}

/**
 * The skew of relative-position scores: g [B, H, T, 2T − 1] → [B, H, T, T] with out[…, x, y] = g[…, x, T − 1 − x + y]
 * (row x of the result starts T − 1 − x columns in). One gather of T² columns of each flattened [T·(2T − 1)] row
 * (TF.js's generic strided Slice is a per-element loop, ~100× slower); the columns are distinct, so the gradient
 * is the inverse gather, with a zero column for the entries no output reads. Saves nothing.
 */
export function skewRelative(g: tf.Tensor4D): tf.Tensor4D {
  const [b, h, t, w] = g.shape;
  if (w !== 2 * t - 1) throw new Error(`skewRelative: expected [B, H, T, 2T - 1], got [${g.shape.join(', ')}]`);
  const cols = (): Int32Array => {
    const c = new Int32Array(t * t);
    for (let x = 0; x < t; x++) for (let y = 0; y < t; y++) c[x * t + y] = x * w + t - 1 - x + y;
    return c;
  };
  const f = tf.customGrad((...args: Args) => {
    const [gi] = args as [tf.Tensor4D, tf.GradSaveFunc];
    const value = tf.tidy(() =>
      tf.reshape(tf.gather(tf.reshape(gi, [b * h, t * w]), tf.tensor1d(cols(), 'int32'), 1), [b, h, t, t]),
    ); // [B, H, T, T]
    return {
      value,
      gradFunc: (dy: tf.Tensor) =>
        backward(dy, [], () => {
          const inverse = new Int32Array(t * w).fill(t * t); // column t² of the padded gradient is 0
          cols().forEach((c, k) => (inverse[c] = k));
          const padded = tf.concat([tf.reshape(dy, [b * h, t * t]), tf.zeros([b * h, 1])], 1); // [B·H, T² + 1]
          return [tf.reshape(tf.gather(padded, tf.tensor1d(inverse, 'int32'), 1), [b, h, t, w])]; // [B, H, T, 2T − 1]
        }),
    };
  });
  return f(g) as tf.Tensor4D;
}

interface AttentionOptions {
  readonly heads: number;
  /** [B, 1, 1, T]: 0 for a real key, the float32 minimum for padding (added to the scores, as masked_fill). */
  readonly maskBias: tf.Tensor;
  /** Dropout of the attention weights in training; null otherwise. */
  readonly dropout: { readonly rate: number; readonly seed: number } | null;
  /** The scores' divisor (default √dh; DeBERTa's √(dh·3) with both relative terms). */
  readonly scale?: number;
  /** [B, H, T, T] scores added before the mask (DeBERTa's relative-position terms); differentiable. */
  readonly bias?: tf.Tensor4D;
  /**
   * Masked scores are replaced (torch's masked_fill), so no gradient reaches them. Only matters where a whole query
   * row is masked (DeBERTa's query × key mask): its softmax is uniform and its gradient would otherwise flow.
   */
  readonly maskedFill?: boolean;
}

/**
 * Attention's weights op by op (backends without the fused kernel): p = softmax(raw + maskBias) and, with `drop`,
 * its dropout `y` and mask. Frees `raw` once used.
 */
function softmaxForward(
  raw: tf.Tensor,
  maskBias: tf.Tensor,
  drop: { rate: number; seed: number } | null,
): { probs: tf.Tensor; dropped: { y: tf.Tensor; mask: tf.Tensor } | null } {
  const probs = [(r: tf.Tensor) => tf.add(r, maskBias), (s: tf.Tensor) => tf.softmax(s, -1)].reduce(replace, raw); // [B, H, T, T]
  return { probs, dropped: drop === null ? null : dropoutForward(probs, drop.rate, drop.seed) }; // y [B, H, T, T]
}

/**
 * The gradient of attention's scores, op by op (backends without the fused kernel): g = dw through the dropout
 * `mask` when given, then softmax's ds = p ⊙ (g − Σ g ⊙ p). Frees dw and g as soon as they are used.
 */
function softmaxBackward(dw: tf.Tensor, p: tf.Tensor, dropMask: { mask: tf.Tensor; rate: number } | null): tf.Tensor {
  const g = dropMask === null ? dw : replace(dw, (t) => dropoutBackward(t, dropMask.mask, dropMask.rate)); // [B, H, T, T]
  const prod = tf.mul(g, p); // [B, H, T, T]
  const dot = replace(prod, (t) => tf.sum(t, -1, true)); // [B, H, T, 1]
  const diff = tf.sub(g, dot); // [B, H, T, T]
  tf.dispose([g, dot]);
  return replace(diff, (t) => tf.mul(p, t)); // [B, H, T, T]
}

/**
 * Multi-head scaled dot-product attention over projected q, k, v [B, T, D] → context [B, T, D]:
 * softmax(q·kᵀ/√dh [+ bias] + mask) (dropped out) · v, heads split and merged inside. Saves the three head
 * tensors [B, H, T, dh], the probabilities and, in training, the dropped-out weights and the mask.
 */
export function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, o: AttentionOptions): tf.Tensor3D {
  const [b, t, d] = q.shape;
  const h = o.heads;
  const dh = d / h;
  const split = (y: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(y, [b, t, h, dh]), [0, 2, 1, 3]); // [B, H, T, dh]
  const merge = (y: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b, t, d]); // [B, T, D]
  const drop = o.dropout;
  const scale = o.scale ?? Math.sqrt(dh);
  const bias = o.bias;
  const f = tf.customGrad((...args: Args) => {
    const [qi, ki, vi, bi, save] = (bias === undefined ? [...args.slice(0, 3), null, args[3]] : args) as [
      tf.Tensor3D,
      tf.Tensor3D,
      tf.Tensor3D,
      tf.Tensor4D | null,
      tf.GradSaveFunc,
    ];
    const qs = tf.div(split(qi), scale); // [B, H, T, dh]
    const kh = split(ki); // [B, H, T, dh]
    const vh = split(vi); // [B, H, T, dh]
    let raw = tf.matMul(qs, kh, false, true); // [B, H, T, T]
    if (bi !== null) raw = replace(raw, (r) => tf.add(r, bi)); // [B, H, T, T]
    // native: mask add, softmax and dropout in one pass each way (src/engine/attention-softmax.ts), within 1e-6 of
    // the kernels below, the same dropout mask
    const fused = nativeAttentionProbs(raw, o.maskBias, drop);
    if (fused !== undefined) raw.dispose();
    const { probs, dropped } = fused ?? softmaxForward(raw, o.maskBias, drop); // [B, H, T, T] each
    save(dropped === null ? [qs, kh, vh, probs] : [qs, kh, vh, probs, dropped.y, dropped.mask]);
    return {
      value: merge(tf.matMul(dropped?.y ?? probs, vh)), // [B, T, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved, () => {
          const [sq, sk, sv, sp, sy, sm] = saved as [
            tf.Tensor4D,
            tf.Tensor4D,
            tf.Tensor4D,
            tf.Tensor4D,
            tf.Tensor4D?,
            tf.Tensor4D?,
          ];
          const dctx = split(dy); // [B, H, T, dh]
          const dv = merge(matMul(sy ?? sp, dctx, true, false)); // [B, T, D]
          sy?.dispose();
          const dw = matMul(dctx, sv, false, true); // [B, H, T, T], gradient of the (dropped-out) weights
          dctx.dispose();
          const dropMask = sm !== undefined && drop !== null ? { mask: sm, rate: drop.rate } : null;
          let ds =
            fused === undefined
              ? softmaxBackward(dw, sp, dropMask)
              : replace(dw, (g) => nativeAttentionProbsGrad(g, sp, dropMask, bias === undefined && !o.maskedFill)); // [B, H, T, T]
          tf.dispose([sp, sm]);
          // none through masked scores: keep = 1 − bias/min is 1 where attended, 0 where masked (arithmetic, not a
          // bool cast: the native engine's Multiply misreads a float32 tensor cast from bool)
          if (o.maskedFill === true)
            ds = replace(ds, (g) => tf.mul(g, tf.sub(1, tf.div(o.maskBias, FLOAT32_MIN)))) as tf.Tensor4D;
          const dq = merge(tf.div(matMul(ds, sk), scale)); // [B, T, D]
          const dk = merge(matMul(ds, sq, true, false)); // [B, T, D]
          return bias === undefined ? [dq, dk, dv] : [dq, dk, dv, ds];
        }),
    };
  });
  return (bias === undefined ? f(q, k, v) : f(q, k, v, bias)) as tf.Tensor3D;
}
