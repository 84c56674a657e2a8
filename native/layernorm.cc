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

#include "kernels.h"
#include "parallel.h"

// y = normed·w + b rounds twice, as the two kernels of the op-by-op form do: binding.gyp builds without fused
// multiply-adds (-ffp-contract=off).

namespace qaft {

namespace {

// Rows whose means are summed together: each row's double sum is a chain of dependent adds (latency-bound), so
// several rows' chains run interleaved; each keeps its own order, so every mean is exactly the one-row result.
constexpr int64_t kGroup = 4;

// The means of rows j < k (k ≤ kGroup) of value(j, i), i < d, as the Mean kernel computes a row's: a sequential
// double sum of the float values, divided in double, rounded to float.
template <typename F>
void GroupMeans(int64_t k, int64_t d, F value, float* out) {
  double s[kGroup] = {};
  if (k == kGroup) {
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < kGroup; ++j) s[j] += value(j, i);
  } else {
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < d; ++i) s[j] += value(j, i);
  }
  for (int64_t j = 0; j < k; ++j) out[j] = static_cast<float>(s[j] / static_cast<double>(d));
}

// Rows per block of dw/db partial sums: fixed, so the sums do not depend on the thread count.
constexpr int64_t kRowBlock = 64;

}  // namespace

void AddLayerNorm(const float* x, const float* r, int64_t rRows, const float* w, const float* b, float eps,
                  int64_t rows, int64_t d, float* y, float* normed, float* std, uint16_t* yBf16) {
  ParallelFor(rows, RowGrain(d), [&](int64_t lo, int64_t hi) {
    for (int64_t first = lo; first < hi; first += kGroup) {
      const int64_t k = std::min(kGroup, hi - first);
      float* pn = normed + first * d;  // the group's k rows, contiguous
      float* py = y + first * d;
      // s = x + r, kept in normed's rows (then centred there, then normalised there)
      for (int64_t j = 0; j < k; ++j) {
        const float* px = x + (first + j) * d;
        float* out = pn + j * d;
        if (r != nullptr) {
          const float* pr = r + ((first + j) % rRows) * d;
          for (int64_t i = 0; i < d; ++i) out[i] = px[i] + pr[i];
        } else {
          std::copy(px, px + d, out);
        }
      }
      float mean[kGroup], variance[kGroup];
      GroupMeans(
          k, d, [&](int64_t j, int64_t i) { return pn[j * d + i]; }, mean);
      // centred values; their squares in y's rows (overwritten below): float products, then their double means
      for (int64_t j = 0; j < k; ++j) {
        float* c = pn + j * d;
        float* sq = py + j * d;
        for (int64_t i = 0; i < d; ++i) c[i] = c[i] - mean[j];
        for (int64_t i = 0; i < d; ++i) sq[i] = c[i] * c[i];
      }
      GroupMeans(
          k, d, [&](int64_t j, int64_t i) { return py[j * d + i]; }, variance);
      for (int64_t j = 0; j < k; ++j) {
        const float sd = std::sqrt(variance[j] + eps);
        std[first + j] = sd;
        float* n = pn + j * d;
        float* out = py + j * d;
        for (int64_t i = 0; i < d; ++i) {
          n[i] = n[i] / sd;
          const float scaled = n[i] * w[i];
          out[i] = scaled + b[i];
        }
      }
      if (yBf16 != nullptr) ToBf16Block(py, yBf16 + first * d, k * d);
    }
  });
}

void AddLayerNormGrad(const float* dy, const float* normed, const float* std, const float* w, int64_t rows, int64_t d,
                      float* dx, float* dw, float* db, uint16_t* dxBf16) {
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  // per block: d partial sums of dy·normed, then d of dy
  std::vector<double> partial(static_cast<size_t>(blocks * 2 * d), 0.0);
  const int64_t blockGrain = std::max<int64_t>(1, RowGrain(d) / kRowBlock);
  ParallelFor(blocks, blockGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t blk = lo; blk < hi; ++blk) {
      double* accW = partial.data() + blk * 2 * d;
      double* accB = accW + d;
      const int64_t end = std::min(rows, (blk + 1) * kRowBlock);
      for (int64_t first = blk * kRowBlock; first < end; first += kGroup) {
        const int64_t k = std::min(kGroup, end - first);
        const float* pdy = dy + first * d;  // the group's k rows, contiguous
        const float* pn = normed + first * d;
        float* pdx = dx + first * d;
        // g = dy·w in dx's rows and its means; the means of g·normed, of the float products
        for (int64_t j = 0; j < k; ++j)
          for (int64_t i = 0; i < d; ++i) pdx[j * d + i] = pdy[j * d + i] * w[i];
        float gMean[kGroup], gnMean[kGroup];
        GroupMeans(
            k, d, [&](int64_t j, int64_t i) { return pdx[j * d + i]; }, gMean);
        GroupMeans(
            k, d,
            [&](int64_t j, int64_t i) {
              const float gn = pdx[j * d + i] * pn[j * d + i];
              return gn;
            },
            gnMean);
        for (int64_t j = 0; j < k; ++j) {
          const float sd = std[first + j];
          const float* n = pn + j * d;
          const float* grad = pdy + j * d;
          float* out = pdx + j * d;
          for (int64_t i = 0; i < d; ++i) {
            const float centred = out[i] - gMean[j];
            const float along = n[i] * gnMean[j];
            out[i] = (centred - along) / sd;
          }
          for (int64_t i = 0; i < d; ++i) {
            const float dn = grad[i] * n[i];
            accW[i] += dn;
            accB[i] += grad[i];
          }
        }
        if (dxBf16 != nullptr) ToBf16Block(pdx, dxBf16 + first * d, k * d);
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
