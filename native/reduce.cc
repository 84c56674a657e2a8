// Reductions over float32: along the contiguous last axis or a middle block of axes (sum, mean, max, min), the
// row softmax, and the sum of squares (gradient-norm clipping).
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "parallel.h"

namespace qaft {

void ReduceInner(Reduce op, const float* x, float* out, int64_t outer, int64_t inner) {
  const int64_t grain = RowGrain(inner);
  ParallelFor(outer, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* p = x + r * inner;
      if (op == Reduce::kSum || op == Reduce::kMean) {
        double s = 0;  // double, like the JS loops of the cpu backend
        for (int64_t i = 0; i < inner; ++i) s += p[i];
        out[r] = static_cast<float>(op == Reduce::kMean ? s / static_cast<double>(inner) : s);
      } else {
        float best = inner > 0 ? p[0] : 0.f;
        for (int64_t i = 1; i < inner; ++i) {
          const float v = p[i];
          if (std::isnan(v)) {
            best = v;
            break;
          }
          if (op == Reduce::kMax ? v > best : v < best) best = v;
        }
        out[r] = best;
      }
    }
  });
}

void ReduceMiddle(Reduce op, const float* x, float* out, int64_t pre, int64_t red, int64_t post) {
  if (post == 1) return ReduceInner(op, x, out, pre, red);
  // Column blocks of `post` are independent: each task accumulates one block of one `pre` slice over `red`
  // rows (in double for sums, like the cpu backend's JS loops).
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (post + kBlock - 1) / kBlock;
  ParallelFor(pre * blocks, RowGrain(red * kBlock), [&](int64_t lo, int64_t hi) {
    double acc[kBlock];
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t p = task / blocks, j0 = (task % blocks) * kBlock, len = std::min(kBlock, post - j0);
      const float* base = x + p * red * post + j0;
      float* o = out + p * post + j0;
      if (op == Reduce::kSum || op == Reduce::kMean) {
        for (int64_t j = 0; j < len; ++j) acc[j] = 0;
        for (int64_t r = 0; r < red; ++r) {
          const float* row = base + r * post;
          for (int64_t j = 0; j < len; ++j) acc[j] += row[j];
        }
        const double scale = op == Reduce::kMean ? 1.0 / static_cast<double>(red) : 1.0;
        for (int64_t j = 0; j < len; ++j) o[j] = static_cast<float>(acc[j] * scale);
      } else {
        for (int64_t j = 0; j < len; ++j) o[j] = red > 0 ? base[j] : 0.f;
        for (int64_t r = 1; r < red; ++r) {
          const float* row = base + r * post;
          for (int64_t j = 0; j < len; ++j) {
            const float v = row[j];
            if (std::isnan(o[j])) continue;
            if (std::isnan(v) || (op == Reduce::kMax ? v > o[j] : v < o[j])) o[j] = v;
          }
        }
      }
    }
  });
}

void SoftmaxInner(const float* x, float* out, int64_t outer, int64_t inner) {
  const int64_t grain = RowGrain(inner);
  ParallelFor(outer, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* p = x + r * inner;
      float* o = out + r * inner;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < inner; ++i) mx = p[i] > mx ? p[i] : mx;
      double s = 0;
      for (int64_t i = 0; i < inner; ++i) {
        o[i] = std::exp(p[i] - mx);
        s += o[i];
      }
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t i = 0; i < inner; ++i) o[i] *= inv;
    }
  });
}

double SumOfSquares(const float* x, int64_t size) {
  const int threads = NumThreads();
  std::vector<double> part(threads, 0.0);
  const int64_t chunk = (size + threads - 1) / threads;
  ParallelFor(threads, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      // 8 independent double sums, so the loop vectorizes instead of waiting on one chain of additions
      double lanes[8] = {};
      const float* in = x;
      const int64_t begin = t * chunk, end = std::min(size, (t + 1) * chunk);
      int64_t i = begin;
      for (; i + 8 <= end; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += static_cast<double>(in[i + l]) * in[i + l];
      for (; i < end; ++i) lanes[0] += static_cast<double>(in[i]) * in[i];
      double s = 0;
      for (double l : lanes) s += l;
      part[t] = s;
    }
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

}  // namespace qaft
