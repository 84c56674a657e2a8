// Float32 kernels behind the TF.js `native` backend: BLAS for matmuls, threaded loops for the rest.
#include "kernels.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "dropout-rule.h"
#include "parallel.h"
#include "vector-math.h"

#ifdef QAFT_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace qaft {

namespace {
int g_threads = 0;

void SetBlasThreads(int n) {
#ifndef QAFT_ACCELERATE
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

constexpr int64_t kGrain = 1 << 15;  // elements per thread below which threading does not pay
}  // namespace

int NumThreads() {
  if (g_threads <= 0) {
    unsigned hc = std::thread::hardware_concurrency();
    g_threads = hc == 0 ? 1 : static_cast<int>(hc);
  }
  return g_threads;
}

void SetNumThreads(int n) {
  g_threads = n > 0 ? n : 0;
  SetBlasThreads(NumThreads());
  SetDnnlThreads(NumThreads());
}

// ---- matmul ----------------------------------------------------------------------------------------------

static void Epilogue(float* c, int64_t m, int64_t n, Activation act) {
  if (act == Activation::kRelu) {
    for (int64_t i = 0; i < m * n; ++i) c[i] = c[i] > 0.f ? c[i] : 0.f;
  }
}

static void OneGemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool transA,
                    bool transB, const float* bias, Activation act) {
  float beta = 0.f;
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * n, bias, sizeof(float) * n);
    beta = 1.f;
  }
  if (k == 0) {
    if (bias == nullptr) std::memset(c, 0, sizeof(float) * m * n);
  } else {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.f, a,
                static_cast<int>(transA ? m : k), b, static_cast<int>(transB ? k : n), beta, c, static_cast<int>(n));
  }
  Epilogue(c, m, n, act);
}

void BatchMatMul(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                 const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                 const float* bias, Activation act) {
  if (batch == 0 || m == 0 || n == 0) return;
  const int64_t aSize = m * k, bSize = k * n, cSize = m * n;
  const int threads = NumThreads();
  // Small matrices (attention heads) scale better one-per-thread than with BLAS threading inside each gemm.
  const bool perThread = batch >= threads && threads > 1 && m * n * k < (int64_t{1} << 27);
  if (!perThread) {
    // A gemm this small (the QA head's [N, 2] products: k or m is 2) costs microseconds on one thread, but
    // milliseconds when OpenBLAS splits it over threads (measured: 12 ms for [2, 3072]·[3072, 128] on 2 threads).
    const bool tiny = batch * m * n * k < (int64_t{1} << 22);
    if (tiny) SetBlasThreads(1);
    for (int64_t i = 0; i < batch; ++i)
      OneGemm(a + aIndex[i] * aSize, b + bIndex[i] * bSize, c + i * cSize, m, n, k, transA, transB, bias, act);
    if (tiny) SetBlasThreads(threads);
    return;
  }
  SetBlasThreads(1);
  ParallelFor(batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      OneGemm(a + aIndex[i] * aSize, b + bIndex[i] * bSize, c + i * cSize, m, n, k, transA, transB, bias, act);
  });
  SetBlasThreads(threads);
}

// ---- elementwise -----------------------------------------------------------------------------------------

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
static void MapBinary(const float* a, const float* b, float* out, int rank, const int64_t* shape,
                      const int64_t* as, const int64_t* bs, F f) {
  const int64_t inner = rank > 0 ? shape[rank - 1] : 1;
  const int64_t sa = rank > 0 ? as[rank - 1] : 0, sb = rank > 0 ? bs[rank - 1] : 0;
  int64_t rows = 1;
  for (int d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
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

void BinaryOp(Binary op, const float* a, const float* b, float* out, int rank, const int64_t* shape,
              const int64_t* as, const int64_t* bs) {
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

// ---- reductions, softmax ---------------------------------------------------------------------------------

void ReduceInner(Reduce op, const float* x, float* out, int64_t outer, int64_t inner) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
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
          if (std::isnan(v)) { best = v; break; }
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
  ParallelFor(pre * blocks, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, red * kBlock)), [&](int64_t lo, int64_t hi) {
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

void Fill(float* out, float value, int64_t size) {
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) { std::fill(out + lo, out + hi, value); });
}

void SoftmaxInner(const float* x, float* out, int64_t outer, int64_t inner) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
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

// ---- data movement -----------------------------------------------------------------------------------------

void Transpose(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int32_t* perm) {
  std::vector<int64_t> inStride(rank, 1), outShape(rank), srcStride(rank);
  for (int d = rank - 2; d >= 0; --d) inStride[d] = inStride[d + 1] * shape[d + 1];
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    outShape[d] = shape[perm[d]];
    srcStride[d] = inStride[perm[d]];
    total *= outShape[d];
  }
  if (total == 0) return;
  const int64_t inner = outShape[rank - 1], innerStride = srcStride[rank - 1];
  const int64_t rows = total / inner;
  if (rank == 2 && innerStride != 1) {
    // Plain 2-D transpose: cache-blocked.
    const int64_t R = outShape[0], C = outShape[1];
    constexpr int64_t kB = 32;
    ParallelFor((R + kB - 1) / kB, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t bi = lo; bi < hi; ++bi)
        for (int64_t j0 = 0; j0 < C; j0 += kB)
          for (int64_t i = bi * kB; i < std::min(R, bi * kB + kB); ++i)
            for (int64_t j = j0; j < std::min(C, j0 + kB); ++j) out[i * C + j] = x[j * R + i];
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kGrain / inner);
  ParallelFor(rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t src = 0, rem = r;
      for (int d = rank - 2; d >= 0; --d) {
        src += (rem % outShape[d]) * srcStride[d];
        rem /= outShape[d];
      }
      uint32_t* o = out + r * inner;
      if (innerStride == 1) {
        std::memcpy(o, x + src, sizeof(uint32_t) * inner);
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i] = x[src + i * innerStride];
      }
    }
  });
}

int64_t Gather(const uint32_t* x, const int32_t* indices, uint32_t* out, int64_t outer, int64_t axisDim, int64_t n,
               int64_t inner) {
  for (int64_t j = 0; j < n; ++j)
    if (indices[j] < 0 || indices[j] >= axisDim) return j;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
  ParallelFor(outer * n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t o = r / n, j = r % n;
      std::memcpy(out + r * inner, x + (o * axisDim + indices[j]) * inner, sizeof(uint32_t) * inner);
    }
  });
  return -1;
}

void UnsortedSegmentSum(const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner, int64_t numSegments) {
  // Threads own disjoint column ranges, so the scatter-add needs no atomics.
  ParallelFor(inner, std::max<int64_t>(16, kGrain / std::max<int64_t>(1, n)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = 0; r < n; ++r) {
      const int32_t s = ids[r];
      if (s < 0 || s >= numSegments) continue;
      const float* src = x + r * inner;
      float* dst = out + static_cast<int64_t>(s) * inner;
      for (int64_t i = lo; i < hi; ++i) dst[i] += src[i];
    }
  });
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

void Tile(const uint8_t* x, uint8_t* out, int elemSize, int rank, const int64_t* shape, const int64_t* reps) {
  std::vector<int64_t> outShape(rank), inStride(rank, 1);
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    outShape[d] = shape[d] * reps[d];
    total *= outShape[d];
  }
  if (total == 0) return;
  for (int d = rank - 2; d >= 0; --d) inStride[d] = inStride[d + 1] * shape[d + 1];
  const int64_t innerIn = shape[rank - 1], innerOut = outShape[rank - 1];
  const int64_t rows = total / innerOut;
  const size_t rowBytes = static_cast<size_t>(innerIn) * elemSize;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, innerOut));
  ParallelFor(rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t src = 0, rem = r;
      for (int d = rank - 2; d >= 0; --d) {
        src += (rem % outShape[d]) % shape[d] * inStride[d];
        rem /= outShape[d];
      }
      const uint8_t* in = x + src * elemSize;
      uint8_t* o = out + r * innerOut * elemSize;
      if (innerIn == 1 && elemSize == 1) {
        std::memset(o, *in, static_cast<size_t>(innerOut));
      } else if (innerIn == 1 && elemSize == 4) {
        uint32_t v;
        std::memcpy(&v, in, 4);
        uint32_t* o4 = reinterpret_cast<uint32_t*>(o);
        for (int64_t i = 0; i < innerOut; ++i) o4[i] = v;
      } else {
        for (int64_t k = 0; k < reps[rank - 1]; ++k) std::memcpy(o + k * rowBytes, in, rowBytes);
      }
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
    for (int64_t b = lo; b < hi; b += kBf16Block) {
      const int64_t e = std::min(hi, b + kBf16Block);
      for (int64_t i = b; i < e; ++i) out[i] = x[i] * Normal(x[i]).cdf;
      if (bf16 != nullptr) ToBf16Block(out + b, bf16 + b, e - b);
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

// ---- optimizer -----------------------------------------------------------------------------------------------

void AdamW(float* param, const float* grad, float* m, float* v, int64_t size, double lr, double beta1, double beta2,
           double eps, double weightDecay, int64_t step, double gradScale) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float stepSize = static_cast<float>(lr / bc1);
  const float invSqrtBc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = static_cast<float>(1.0 - lr * weightDecay);
  // The complements come from the double betas: 1 - float(0.999) would be off by 1e-5 relative.
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2), e = static_cast<float>(eps);
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  const float gs = static_cast<float>(gradScale);
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    // locals: read through the captured references, the arrays could alias the scalars, which kept the loop scalar
    float *p = param, *mo = m, *vo = v;
    const float* gr = grad;
    const float b1l = b1, b2l = b2, c1l = c1, c2l = c2, gsl = gs, decayl = decay, stepl = stepSize, bc2l = invSqrtBc2, el = e;
    for (int64_t i = lo; i < hi; ++i) {
      const float g = gr[i] * gsl;
      const float mi = b1l * mo[i] + c1l * g;
      const float vi = b2l * vo[i] + c2l * g * g;
      mo[i] = mi;
      vo[i] = vi;
      p[i] = p[i] * decayl - stepl * mi / (std::sqrt(vi) * bc2l + el);
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
