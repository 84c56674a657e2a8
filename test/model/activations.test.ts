/** The FFN activations beside erf-GELU (src/model/fused-ops.ts): values and gradients against PyTorch's ACT2FN. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/model/backend-select.js';
import { geluTanh, relu } from '../../src/model/fused-ops.js';

const X = [-3, -1, -0.25, 0, 0.5, 2];

// transformers 5.18 ACT2FN[name](x) and d/dx of its sum, computed with torch 2.13 (float32)
const TORCH = {
  gelu_new: {
    y: [-0.0036374330520629883, -0.15880799293518066, -0.10032464563846588, 0, 0.3457140028476715, 1.9545977115631104],
    dy: [-0.011584296822547913, -0.08296409249305725, 0.3046458959579468, 0.5, 0.8673698902130127, 1.0860992670059204],
  },
  relu: { y: [0, 0, 0, 0, 0.5, 2], dy: [0, 0, 0, 0, 1, 1] },
};

for (const [name, op] of [
  ['gelu_new', geluTanh],
  ['relu', relu],
] as const) {
  test(`${name}: values and gradients equal PyTorch's within 1e-6`, async () => {
    await selectBackend('cpu');
    const before = tf.memory().numTensors;
    const x = tf.tensor1d(X);
    const y = op(x);
    const dy = tf.grad((t: tf.Tensor) => tf.sum(op(t)))(x);
    const close = (got: ArrayLike<number>, want: number[], what: string): void =>
      want.forEach((w, i) => assert.ok(Math.abs((got[i] ?? NaN) - w) <= 1e-6, `${what}[${i}]: ${got[i]} vs ${w}`));
    close(y.dataSync(), TORCH[name].y, 'y');
    close(dy.dataSync(), TORCH[name].dy, 'dy');
    tf.dispose([x, y, dy]);
    assert.equal(tf.memory().numTensors, before);
  });
}
