// Fused LayerNorm(x + r) over the last axis, forward and backward: one threaded pass over the rows each way, in
// the same float32 operations (sums in double) and order as the model's op-by-op formulation (src/model/ops.ts).
#pragma once

#include <cstdint>

namespace qaft {

// Over `rows` rows of length d: s = x + r (r null: s = x; else row i adds r's row i % rRows, so r is x's shape or
// its trailing rows, e.g. [T, D] position embeddings under [B, T, D]), mean and biased variance of s (double
// sums), std = sqrt(var + eps), normed = (s − mean) / std, y = normed·w + b. Writes y and normed [rows, d], std
// [rows]; all float32. `yBf16` (may be null): y rounded to bf16 as well, in the same pass (a bf16 matmul reads it).
void AddLayerNorm(const float* x, const float* r, int64_t rRows, const float* w, const float* b, float eps,
                  int64_t rows, int64_t d, float* y, float* normed, float* std, uint16_t* yBf16 = nullptr);

// Its gradient from dy [rows, d], the forward's normed and std, and w [d]: g = dy·w,
// dx = (g − mean(g) − normed·mean(g·normed)) / std, dw = Σ_rows dy·normed, db = Σ_rows dy (double sums over
// fixed row blocks, added in block order: the same on any thread count). `dxBf16` (may be null): dx rounded to
// bf16 as well, in the same pass (the bf16 matmuls of the previous linear's gradients read it).
void AddLayerNormGrad(const float* dy, const float* normed, const float* std, const float* w, int64_t rows, int64_t d,
                      float* dx, float* dw, float* db, uint16_t* dxBf16 = nullptr);

}  // namespace qaft
