/**
 * Gradients of the stock TF.js kernels every family's forward pass and the QA loss record on the tape (the fused
 * ops of fused-ops.ts carry their own).
 *
 * Hand-written because `@tensorflow/tfjs-core`'s Node bundle registers no gradients at all: they ship with the
 * `@tensorflow/tfjs` union package, which qa-ft does not depend on. Each gradient is registered only when none
 * is registered yet, so loading `@tensorflow/tfjs` (e.g. through `@tensorflow/tfjs-node`) keeps its own.
 * The math is the textbook one (dL/dx for each kernel, broadcast inputs reduced back to their shape);
 * test/model/parity.test.ts checks them against PyTorch (DistilBERT's every gradient; every family's training).
 */
import * as tf from '@tensorflow/tfjs-core';
import { numberOrListAttr, numbersAttr } from '../engine/ops.js';
import { zip } from '../util/checked-index.js';

type Attrs = Record<string, unknown>;
type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs) => Record<string, () => tf.Tensor>;

/**
 * Sums `dy` (the broadcast shape) down to `shape`, the shape of the input it came from. Always a new tensor
 * (without a reduction, a reshape that shares dy's storage), so the caller may dispose `dy`.
 */
export function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, shape);
}

/**
 * matMul(a, b, transposeA, transposeB), with the transposes done explicitly on the wasm backend: its fast path
 * (XNNPACK) serves only 2-D matMul without transpose flags; a flagged one falls to a scalar loop ~20× slower
 * (measured: 1.5-2.2 GFLOP/s against 32-52 with an explicit transpose). Other backends get the flags (native BLAS
 * takes them for free).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if ((transposeA || transposeB) && a.rank === 2 && b.rank === 2 && tf.getBackend() === 'wasm') {
    return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
  }
  return tf.matMul(a, b, transposeA, transposeB);
}

/**
 * a·bᵀ + bias (torch.nn.Linear's forward on [N, in] × [out, in]): on `native` one fused kernel (the bias is the
 * gemm's initial output, so no [N, out] pass adds it afterwards); elsewhere matMul then add, as before.
 */
export function matMulTransposedBias(a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'native') return tf.fused.matMul({ a, b, transposeB: true, bias });
  return tf.add(matMul(a, b, false, true), bias);
}

function at(saved: tf.Tensor[], i: number): tf.Tensor {
  const t = saved[i];
  if (t === undefined) throw new Error(`gradient: saved tensor ${i} missing`);
  return t;
}

/** The axes a reduction kernel (`Sum`, `Mean`) reduced, from its `axis` attribute (absent: all). */
function reducedAxes(attrs: Attrs, xShape: number[], kernel: string): number[] {
  return tf.util.parseAxisParam(numberOrListAttr(attrs, 'axis', kernel) ?? xShape.map((_, i) => i), xShape);
}

/** Begin and size of a `Slice` of x, as TF.js's kernels read them (one number or a short list padded out). */
function sliceParams(x: tf.Tensor, attrs: Attrs): [number[], number[]] {
  const begin = numberOrListAttr(attrs, 'begin', 'Slice');
  if (begin === undefined) throw new Error("Slice: attribute 'begin' is missing");
  const [begins, sizes] = tf.slice_util.parseSliceParams(x, begin, numberOrListAttr(attrs, 'size', 'Slice'));
  if (begins === undefined || sizes === undefined) throw new Error('Slice: parseSliceParams gave no begin or size');
  return [begins, sizes];
}

/** dy of a reduction over `axes`, broadcast back to the input's shape. */
function expandReduced(dy: tf.Tensor, xShape: number[], axes: number[]): tf.Tensor {
  const keptShape = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.mul(tf.reshape(dy, keptShape), tf.ones(xShape));
}

const GRADIENTS: { kernelName: string; inputsToSave?: string[]; outputsToSave?: boolean[]; gradFunc: GradFunc }[] = [
  {
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, s) => ({ a: () => unbroadcast(dy, at(s, 0).shape), b: () => unbroadcast(dy, at(s, 1).shape) }),
  },
  {
    kernelName: 'Sub',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, s) => ({
      a: () => unbroadcast(dy, at(s, 0).shape),
      b: () => unbroadcast(tf.neg(dy), at(s, 1).shape),
    }),
  },
  {
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, s) => ({
      a: () => unbroadcast(tf.mul(dy, at(s, 1)), at(s, 0).shape),
      b: () => unbroadcast(tf.mul(dy, at(s, 0)), at(s, 1).shape),
    }),
  },
  {
    kernelName: 'RealDiv',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, s) => {
      const a = at(s, 0);
      const b = at(s, 1);
      return {
        a: () => unbroadcast(tf.div(dy, b), a.shape),
        b: () => unbroadcast(tf.neg(tf.div(tf.mul(dy, a), tf.mul(b, b))), b.shape),
      };
    },
  },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => dy }) },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(dy) }) },
  {
    kernelName: 'Sqrt',
    outputsToSave: [true],
    gradFunc: (dy, s) => ({ x: () => tf.div(dy, tf.mul(at(s, 0), 2)) }),
  },
  {
    kernelName: 'Erf',
    inputsToSave: ['x'],
    // d erf(x)/dx = 2/sqrt(pi) · exp(-x²)
    gradFunc: (dy, s) => ({ x: () => tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(at(s, 0)))), 2 / Math.sqrt(Math.PI))) }),
  },
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, s, attrs) => {
      const shape = at(s, 0).shape;
      return { x: () => expandReduced(dy, shape, reducedAxes(attrs, shape, 'Sum')) };
    },
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, s, attrs) => {
      const shape = at(s, 0).shape;
      const axes = reducedAxes(attrs, shape, 'Mean');
      const count = shape.reduce((n, d, i) => (axes.includes(i) ? n * d : n), 1); // elements averaged
      return { x: () => tf.div(expandReduced(dy, shape, axes), count) };
    },
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, s) => ({ x: () => tf.reshape(dy, at(s, 0).shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _s, attrs) => {
      const perm = numbersAttr(attrs, 'perm', 'Transpose');
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return { x: () => tf.transpose(dy, inverse) };
    },
  },
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, s, attrs) => {
      const a = at(s, 0);
      const b = at(s, 1);
      const tA = attrs.transposeA === true;
      const tB = attrs.transposeB === true;
      if (a.rank !== b.rank || a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()) {
        throw new Error(
          `BatchMatMul gradient: batch dims of [${a.shape}] and [${b.shape}] differ (broadcast not supported)`,
        );
      }
      // C = op(A)·op(B); each case is dC pushed back through the transposes.
      if (!tA && !tB) return { a: () => matMul(dy, b, false, true), b: () => matMul(a, dy, true, false) };
      if (!tA && tB) return { a: () => matMul(dy, b, false, false), b: () => matMul(dy, a, true, false) };
      if (tA && !tB) return { a: () => matMul(b, dy, false, true), b: () => matMul(a, dy, false, false) };
      return { a: () => matMul(b, dy, true, true), b: () => matMul(dy, a, true, true) };
    },
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, s, attrs) => {
      const shape = at(s, 0).shape;
      const [begins, sizes] = sliceParams(at(s, 0), attrs);
      const paddings = zip(shape, zip(begins, sizes)).map(([d, [b, n]]): [number, number] => [b, d - b - n]);
      return { x: () => tf.pad(dy, paddings) };
    },
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, s) => {
      const y = at(s, 0); // dx = y ⊙ (dy − Σ(dy ⊙ y))
      return { logits: () => tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true))) };
    },
  },
  {
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy, s) => {
      const cond = at(s, 0);
      return {
        condition: () => tf.cast(tf.zerosLike(cond), 'float32'),
        t: () => tf.where(cond, dy, tf.zerosLike(dy)),
        e: () => tf.where(cond, tf.zerosLike(dy), dy),
      };
    },
  },
];

let registered = false;

/** Registers the gradients above for kernels that have none yet. Idempotent. */
export function registerGradients(): void {
  if (registered) return;
  registered = true;
  for (const g of GRADIENTS) {
    if (tf.getGradient(g.kernelName) !== undefined) continue;
    tf.registerGradient({
      kernelName: g.kernelName,
      inputsToSave: g.inputsToSave,
      outputsToSave: g.outputsToSave,
      gradFunc: (dy, saved, attrs) => g.gradFunc(dy as tf.Tensor, saved, attrs as Attrs),
    });
  }
}
