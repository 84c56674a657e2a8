// Fused LayerNorm kernels (see layernorm.h). Each row's values stay in cache between the steps of a row, so a
// direction is one read of its inputs and one write of its outputs instead of ~10 full passes. Every float32
// operation is the op-by-op formulation's own (a float add, multiply, divide, sqrt; row means as double sums
// divided in double, as the `native` Mean kernel and the cpu backend's JS loops do), in the same order, so y,
// normed, std and dx are bit-identical to it; dw and db differ from its single sequential column sums only in the
// order the double partial sums are added.
#include "layernorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "parallel.h"

// No fused multiply-adds: y = normed·w + b must round twice, as the two kernels of the op-by-op form do (GCC in
// ISO C++ mode never contracts; clang does within an expression unless told).
#ifdef __clang__
#pragma clang fp contract(off)
#endif

namespace qaft {

namespace {

// Rows per thread below which threading does not pay: about 32k elements of work per thread.
int64_t RowGrain(int64_t d) { return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, d)); }

// The mean of a row as the Mean kernel computes it: a double sum, divided in double, rounded to float.
float RowMean(const float* p, int64_t d) {
  double s = 0;
  for (int64_t i = 0; i < d; ++i) s += p[i];
  return static_cast<float>(s / static_cast<double>(d));
}

// Rows per block of dw/db partial sums: fixed, so the sums do not depend on the thread count.
constexpr int64_t kRowBlock = 64;

}  // namespace

void AddLayerNorm(const float* x, const float* r, int64_t rRows, const float* w, const float* b, float eps,
                  int64_t rows, int64_t d, float* y, float* normed, float* std) {
  ParallelFor(rows, RowGrain(d), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const float* px = x + row * d;
      float* pn = normed + row * d;
      float* py = y + row * d;
      // s = x + r, kept in normed's row (then centred there, then normalised there)
      if (r != nullptr) {
        const float* pr = r + (row % rRows) * d;
        for (int64_t i = 0; i < d; ++i) pn[i] = px[i] + pr[i];
      } else {
        std::copy(px, px + d, pn);
      }
      const float mean = RowMean(pn, d);
      for (int64_t i = 0; i < d; ++i) pn[i] = pn[i] - mean;
      // the squares in y's row (overwritten below): float products, then their double mean
      for (int64_t i = 0; i < d; ++i) py[i] = pn[i] * pn[i];
      const float variance = RowMean(py, d);
      const float sd = std::sqrt(variance + eps);
      std[row] = sd;
      for (int64_t i = 0; i < d; ++i) {
        const float n = pn[i] / sd;
        pn[i] = n;
        const float scaled = n * w[i];
        py[i] = scaled + b[i];
      }
    }
  });
}

void AddLayerNormGrad(const float* dy, const float* normed, const float* std, const float* w, int64_t rows, int64_t d,
                      float* dx, float* dw, float* db) {
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  // per block: d partial sums of dy·normed, then d of dy
  std::vector<double> partial(static_cast<size_t>(blocks * 2 * d), 0.0);
  const int64_t blockGrain = std::max<int64_t>(1, RowGrain(d) / kRowBlock);
  ParallelFor(blocks, blockGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t blk = lo; blk < hi; ++blk) {
      double* accW = partial.data() + blk * 2 * d;
      double* accB = accW + d;
      for (int64_t row = blk * kRowBlock; row < std::min(rows, (blk + 1) * kRowBlock); ++row) {
        const float* pdy = dy + row * d;
        const float* pn = normed + row * d;
        float* pdx = dx + row * d;
        // g = dy·w in dx's row and its mean; the mean of g·normed, summed as the float products are formed
        for (int64_t i = 0; i < d; ++i) pdx[i] = pdy[i] * w[i];
        const float gMean = RowMean(pdx, d);
        double sgn = 0;
        for (int64_t i = 0; i < d; ++i) {
          const float gn = pdx[i] * pn[i];
          sgn += gn;
        }
        const float gnMean = static_cast<float>(sgn / static_cast<double>(d));
        const float sd = std[row];
        for (int64_t i = 0; i < d; ++i) {
          const float centred = pdx[i] - gMean;
          const float along = pn[i] * gnMean;
          pdx[i] = (centred - along) / sd;
        }
        for (int64_t i = 0; i < d; ++i) {
          const float dn = pdy[i] * pn[i];
          accW[i] += dn;
          accB[i] += pdy[i];
        }
      }
    }
  });
  for (int64_t i = 0; i < d; ++i) {
    double sw = 0, sb = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      sw += partial[blk * 2 * d + i];
      sb += partial[blk * 2 * d + d + i];
    }
    dw[i] = static_cast<float>(sw);
    db[i] = static_cast<float>(sb);
  }
}

}  // namespace qaft
