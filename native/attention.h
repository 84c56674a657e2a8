// Fused attention probabilities: mask add, softmax and dropout over the [B, H, Tq, Tk] scores in one pass forward,
// and dropout's and softmax's gradients in one pass backward (src/engine/attention-softmax.ts calls these).
#pragma once

#include <cstdint>

namespace qaft {

// Rows of `tk` scores, B·H·Tq of them (batch-major, then head, then query). `maskBias` (nullable) is [B, 1, 1, Tk]
// (`maskRows` 1) or [B, 1, Tq, Tk] (`maskRows` Tq), added to every head's rows. probs = softmax(scores + maskBias)
// with a vectorized exp (within 1e-6 of the Softmax kernel). With `y` and `mask` non-null, also inverted dropout of
// probs at `rate` with Dropout's random stream (the flat element index and seed): the Dropout kernel's mask.
// `bf16` (nullable): the weights P·V reads (y with dropout, else probs) rounded to bf16 too, each row while it is in
// cache (bf16 matmuls: no separate rounding pass over the [B, H, Tq, Tk] weights). With `mask` and `bf16` non-null,
// `y` may be null: the dropped weights are then kept in bf16 only.
void AttentionProbs(const float* scores, const float* maskBias, float* probs, float* y, uint8_t* mask, int64_t batch,
                    int64_t heads, int64_t tq, int64_t tk, int64_t maskRows, double rate, uint64_t seed, float scale,
                    uint16_t* bf16 = nullptr);

// The gradient of the scores from dw, the gradient of the probabilities (after dropout when `mask` is non-null):
// g = mask ? dw·scale where kept, 0 elsewhere : dw; ds = p ⊙ (g − Σ_row g ⊙ p), with the float32 operations of
// MaskedScale, Multiply, Sum (double accumulator), Sub and Multiply. `rows` rows of `tk`. `bf16` (nullable): ds
// rounded to bf16 too, row by row (the input of the dq and dk matmuls); `ds` may then be null (bf16 only).
void AttentionProbsGrad(const float* dw, const float* probs, const uint8_t* mask, float* ds, int64_t rows, int64_t tk,
                        float scale, uint16_t* bf16 = nullptr);

}  // namespace qaft
