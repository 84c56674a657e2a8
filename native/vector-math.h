// Float math written so that loops calling it vectorize (no library calls, no branches): std::exp and std::erf are
// scalar library calls, which kept GELU and softmax to one element at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace qaft {

// exp(x): x = n·ln2 + r with |r| <= ln2/2,
// exp(r) by its degree-7 Taylor polynomial (truncation < 6e-9 relative), 2^n built in the exponent bits. Relative
// error ~2e-7 (float rounding); x is clamped to [-87, 88] (exp(-87) ~ 1.6e-38 stands in for smaller results).
inline float ExpApprox(float x) {
  x = std::min(std::max(x, -87.f), 88.f);
  const float kRound = 12582912.f;  // 1.5·2^23: adding and subtracting it rounds to the nearest integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;  // ln2 split hi + lo
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace qaft
