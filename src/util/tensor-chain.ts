/** Chains of element-wise tensor steps that keep one full-size temporary alive at a time. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `f(t)` (inside a tidy, so the scalar operands `f` creates are freed at once), then `t` disposed: one step of a
 * chain, e.g. `[tf.erf, (t) => tf.add(t, 1)].reduce(replace, x0)`. `f` must return a new tensor, never `t`.
 */
export function replace(t: tf.Tensor, f: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  const next = tf.tidy(() => f(t));
  t.dispose();
  return next;
}
