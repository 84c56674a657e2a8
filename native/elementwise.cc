// Elementwise float32 kernels: unary maps, binary ops over broadcast strides, Fill, Select, and the two
// elementwise maps of training: inverted dropout (with its mask-and-scale gradient) and erf-GELU (with its gradient).
#include "kernels.h"

#include <algorithm>
#include <cmath>

#include "dropout-rule.h"
#include "parallel.h"
#include "vector-math.h"

namespace qaft {

template <typename F>
static void MapUnary(const float* x, float* out, int64_t size, F f) {
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = f(x[i]);
  });
}

void UnaryOp(Unary op, const float* x, float* out, int64_t size) {
  switch (op) {
    case Unary::kExp: return MapUnary(x, out, size, [](float v) { return std::exp(v); });
    case Unary::kErf: return MapUnary(x, out, size, [](float v) { return std::erf(v); });
    case Unary::kTanh: return MapUnary(x, out, size, [](float v) { return std::tanh(v); });
    case Unary::kSqrt: return MapUnary(x, out, size, [](float v) { return std::sqrt(v); });
    case Unary::kRsqrt: return MapUnary(x, out, size, [](float v) { return 1.f / std::sqrt(v); });
    case Unary::kSquare: return MapUnary(x, out, size, [](float v) { return v * v; });
    case Unary::kNeg: return MapUnary(x, out, size, [](float v) { return -v; });
    case Unary::kRelu: return MapUnary(x, out, size, [](float v) { return v < 0.f ? 0.f : v; });
    case Unary::kSigmoid: return MapUnary(x, out, size, [](float v) { return 1.f / (1.f + std::exp(-v)); });
    case Unary::kLog: return MapUnary(x, out, size, [](float v) { return std::log(v); });
    case Unary::kAbs: return MapUnary(x, out, size, [](float v) { return std::fabs(v); });
    case Unary::kReciprocal: return MapUnary(x, out, size, [](float v) { return 1.f / v; });
    case Unary::kFloor: return MapUnary(x, out, size, [](float v) { return std::floor(v); });
  }
}

template <typename F>
static void MapBinary(const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* as,
                      const int64_t* bs, F f) {
  const int64_t inner = rank > 0 ? shape[rank - 1] : 1;
  const int64_t sa = rank > 0 ? as[rank - 1] : 0, sb = rank > 0 ? bs[rank - 1] : 0;
  int64_t rows = 1;
  for (int d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const int64_t grain = RowGrain(inner);
  ParallelFor(rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t oa = 0, ob = 0, rem = r;
      for (int d = rank - 2; d >= 0; --d) {
        int64_t idx = rem % shape[d];
        rem /= shape[d];
        oa += idx * as[d];
        ob += idx * bs[d];
      }
      const float* pa = a + oa;
      const float* pb = b + ob;
      float* po = out + r * inner;
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {
        const float vb = *pb;
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb);
      } else if (sa == 0 && sb == 1) {
        const float va = *pa;
        for (int64_t i = 0; i < inner; ++i) po[i] = f(va, pb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i * sa], pb[i * sb]);
      }
    }
  });
}

void BinaryOp(Binary op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* as,
              const int64_t* bs) {
  switch (op) {
    case Binary::kAdd: return MapBinary(a, b, out, rank, shape, as, bs, [](float x, float y) { return x + y; });
    case Binary::kSub: return MapBinary(a, b, out, rank, shape, as, bs, [](float x, float y) { return x - y; });
    case Binary::kMul: return MapBinary(a, b, out, rank, shape, as, bs, [](float x, float y) { return x * y; });
    case Binary::kDiv: return MapBinary(a, b, out, rank, shape, as, bs, [](float x, float y) { return x / y; });
    case Binary::kSquaredDiff:
      return MapBinary(a, b, out, rank, shape, as, bs, [](float x, float y) { return (x - y) * (x - y); });
    case Binary::kMax:
      return MapBinary(a, b, out, rank, shape, as, bs,
                       [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : (x > y ? x : y); });
    case Binary::kMin:
      return MapBinary(a, b, out, rank, shape, as, bs,
                       [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : (x < y ? x : y); });
  }
}

void Fill(float* out, float value, int64_t size) {
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) { std::fill(out + lo, out + hi, value); });
}

void Select(const uint8_t* cond, const uint32_t* t, const uint32_t* e, uint32_t* out, int64_t size) {
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    const uint8_t* c = cond;  // locals: through the captures the byte loads could alias them, keeping the loop scalar
    const uint32_t *tv = t, *ev = e;
    uint32_t* o = out;
    for (int64_t i = lo; i < hi; ++i) {
      const uint32_t a = tv[i], b = ev[i];
      o[i] = c[i] ? a : b;
    }
  });
}

void Dropout(const float* x, float* out, uint8_t* mask, int64_t size, double rate, uint64_t seed, float scale) {
  const DropoutRule shared(rate, seed);
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    // locals: through the captured references the mask's byte stores could alias them, which kept the loop scalar
    const DropoutRule rule = shared;
    const float* in = x;
    float* o = out;
    uint8_t* m = mask;
    const float s = scale;
    for (int64_t i = lo; i < hi; ++i) {
      const bool keep = rule.Keep(static_cast<uint64_t>(i));
      m[i] = keep ? 1 : 0;
      o[i] = keep ? in[i] * s : 0.f;
    }
  });
}

void MaskedScale(const float* x, const uint8_t* mask, float* out, int64_t size, float scale) {
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    // locals and an unconditional product: a conditional load, or captures the byte loads could alias, kept it scalar
    const uint8_t* m = mask;
    const float* in = x;
    float* o = out;
    const float s = scale;
    for (int64_t i = lo; i < hi; ++i) {
      const float v = in[i] * s;
      o[i] = m[i] ? v : 0.f;
    }
  });
}

// The standard normal CDF Φ(x) = erfc(-x/√2)/2, and exp(-x²/2) for the density, vectorizable. erfc(z), z >= 0, is
// t·exp(-z² + P(t)) with t = 1/(1 + z/2) and Numerical Recipes' Chebyshev-fitted P (fractional error < 1.2e-7
// over all z), so Φ keeps its relative precision in the lower tail too (1 + erf(x/√2) cancels there).
struct NormalTerms {
  float cdf;       // Φ(x)
  float gaussian;  // exp(-x²/2)
};
static inline NormalTerms Normal(float x) {
  const float z = std::fabs(x) * 0.70710678118654752f;
  const float t = 1.f / (1.f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  // exp(-x²/2) with x² split exactly into sq + err (Veltkamp), so the argument's rounding (up to 1e-6 of exp's
  // value at |x| = 5) does not reach the result: exp(-sq/2 - err/2) = exp(-sq/2)·(1 - err/2) to float precision
  const float c = 4097.f * x, xh = c - (c - x), xl = x - xh;
  const float sq = x * x, err = ((xh * xh - sq) + 2.f * xh * xl) + xl * xl;
  const float gaussian = ExpApprox(-0.5f * sq) * (1.f - 0.5f * err);
  const float halfErfc = 0.5f * t * gaussian * ExpApprox(p);  // Φ(-|x|)
  return {x >= 0.f ? 1.f - halfErfc : halfErfc, gaussian};
}

constexpr int64_t kBf16Block = 4096;  // elements rounded to bf16 while still in L1

void GeluErf(const float* x, float* out, int64_t size, uint16_t* bf16) {
  ParallelFor(size, kGrain / 4, [&](int64_t lo, int64_t hi) {
    float block[kBf16Block];  // the block's values when only the bf16 copy is kept (out null)
    for (int64_t b = lo; b < hi; b += kBf16Block) {
      const int64_t e = std::min(hi, b + kBf16Block);
      float* o = out != nullptr ? out + b : block;
      for (int64_t i = b; i < e; ++i) o[i - b] = x[i] * Normal(x[i]).cdf;
      if (bf16 != nullptr) ToBf16Block(o, bf16 + b, e - b);
    }
  });
}

void GeluErfGrad(const float* x, const float* dy, float* out, int64_t size, uint16_t* bf16) {
  const float invSqrt2Pi = static_cast<float>(1.0 / std::sqrt(2.0 * M_PI));
  ParallelFor(size, kGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; b += kBf16Block) {
      const int64_t e = std::min(hi, b + kBf16Block);
      for (int64_t i = b; i < e; ++i) {
        const NormalTerms n = Normal(x[i]);
        out[i] = dy[i] * (n.cdf + x[i] * (n.gaussian * invSqrt2Pi));
      }
      if (bf16 != nullptr) ToBf16Block(out + b, bf16 + b, e - b);
    }
  });
}

}  // namespace qaft
