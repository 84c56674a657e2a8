// Fused attention probabilities (see attention.h): one threaded pass over rows of the [B, H, Tq, Tk] scores each
// way, a row at a time (a row of Tk floats stays in L1 between its max, exp and scale loops), no allocations.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dropout-rule.h"
#include "kernels.h"
#include "parallel.h"
#include "vector-math.h"

namespace qaft {

namespace {

// Below this, float exp is exactly 0 (e^-104 is under half the smallest subnormal, 2^-150): masked keys (scores
// near the float32 minimum) get exactly 0, where ExpApprox would give its clamp value.
constexpr float kExpIsZeroBelow = -104.f;
constexpr int kLanes = 16;  // independent partial sums, so the exp-and-sum loop vectorizes

// softmax of one row s (written to o, which may alias s): max, exp, sum in double lanes (so each loop vectorizes),
// multiply by the reciprocal. Within 1e-6 of TF.js's softmax (the tests); not bit-identical to it (a different exp).
inline void SoftmaxRow(const float* s, float* o, int64_t n) {
  float maxes[kLanes];
  std::fill(maxes, maxes + kLanes, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) maxes[l] = s[i + l] > maxes[l] ? s[i + l] : maxes[l];
  for (; i < n; ++i) maxes[0] = s[i] > maxes[0] ? s[i] : maxes[0];
  const float mx = *std::max_element(maxes, maxes + kLanes);
  double lanes[kLanes] = {};
  i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float d = s[i + l] - mx;
      o[i + l] = d < kExpIsZeroBelow ? 0.f : ExpApprox(d);
      lanes[l] += o[i + l];
    }
  }
  for (; i < n; ++i) {
    const float d = s[i] - mx;
    o[i] = d < kExpIsZeroBelow ? 0.f : ExpApprox(d);
    lanes[0] += o[i];
  }
  double sum = 0;
  for (double l : lanes) sum += l;
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) o[j] *= inv;
}

}  // namespace

void AttentionProbs(const float* scores, const float* maskBias, float* probs, float* y, uint8_t* mask, int64_t batch,
                    int64_t heads, int64_t tq, int64_t tk, int64_t maskRows, double rate, uint64_t seed, float scale,
                    uint16_t* bf16) {
  const int64_t rows = batch * heads * tq;
  const bool drop = mask != nullptr;
  const DropoutRule shared(rate, seed);  // Dropout's (elementwise.cc), so the same mask for the same seed
  ParallelFor(rows, RowGrain(tk), [&](int64_t lo, int64_t hi) {
    const DropoutRule rule = shared;
    std::vector<float> row(drop && y == nullptr ? tk : 0);  // the dropped row when only its bf16 copy is kept
    for (int64_t r = lo; r < hi; ++r) {
      const float* x = scores + r * tk;
      float* p = probs + r * tk;
      if (maskBias != nullptr) {
        const int64_t b = r / (heads * tq), i = r % tq;
        const float* m = maskBias + (b * maskRows + (maskRows == 1 ? 0 : i)) * tk;
        for (int64_t j = 0; j < tk; ++j) p[j] = x[j] + m[j];
        SoftmaxRow(p, p, tk);
      } else {
        SoftmaxRow(x, p, tk);
      }
      if (!drop) {
        if (bf16 != nullptr) ToBf16Block(p, bf16 + r * tk, tk);
        continue;
      }
      float* yr = y != nullptr ? y + r * tk : row.data();
      uint8_t* mr = mask + r * tk;
      const uint64_t base = static_cast<uint64_t>(r * tk);
      // locals, and p read unconditionally: the byte stores below could alias captured values, and a conditional
      // load, each of which kept this loop scalar
      const int64_t n = tk;
      const float s = scale;
      for (int64_t j = 0; j < n; ++j) {
        const bool keep = rule.Keep(base + static_cast<uint64_t>(j));
        const float v = p[j] * s;
        mr[j] = keep ? 1 : 0;
        yr[j] = keep ? v : 0.f;
      }
      if (bf16 != nullptr) ToBf16Block(yr, bf16 + r * tk, tk);
    }
  });
}

void AttentionProbsGrad(const float* dw, const float* probs, const uint8_t* mask, float* ds, int64_t rows, int64_t tk,
                        float scale, uint16_t* bf16) {
  ParallelFor(rows, RowGrain(tk), [&](int64_t lo, int64_t hi) {
    std::vector<float> row(ds == nullptr ? tk : 0);  // the row of ds when only its bf16 copy is kept
    for (int64_t r = lo; r < hi; ++r) {
      const float* d = dw + r * tk;
      const float* p = probs + r * tk;
      float* o = ds != nullptr ? ds + r * tk : row.data();
      // g (the dropout gradient) goes to o first, then o is rewritten in place
      if (mask != nullptr) {
        const uint8_t* m = mask + r * tk;
        for (int64_t j = 0; j < tk; ++j) o[j] = m[j] ? d[j] * scale : 0.f;
        d = o;
      }
      // kLanes partial sums in double: one chain of additions would wait on each one's latency
      double lanes[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= tk; j += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] += d[j + l] * p[j + l];
      for (; j < tk; ++j) lanes[0] += d[j] * p[j];
      double acc = 0;
      for (double l : lanes) acc += l;
      const float dot = static_cast<float>(acc);
      for (int64_t j = 0; j < tk; ++j) o[j] = p[j] * (d[j] - dot);
      if (bf16 != nullptr) ToBf16Block(o, bf16 + r * tk, tk);
    }
  });
}

}  // namespace qaft
