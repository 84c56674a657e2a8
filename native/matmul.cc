// Float32 matmul (BatchMatMul) on BLAS sgemm, and the thread policy of the matmul libraries: how many threads
// OpenBLAS runs a gemm on, and oneDNN's (SetEngineThreads).
#include "kernels.h"

#include <cstring>

#include "parallel.h"

#ifdef QAFT_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace qaft {

namespace {

// OpenBLAS's thread count as last set here (0: not yet). openblas_set_num_threads is called only when the count a
// call wants differs from it, not around every gemm.
int g_blasThreads = 0;

void UseBlasThreads(int n) {
#ifndef QAFT_ACCELERATE
  if (n == g_blasThreads) return;
  openblas_set_num_threads(n);
  g_blasThreads = n;
#else
  (void)n;
#endif
}

void Epilogue(float* c, int64_t m, int64_t n, Activation act) {
  if (act == Activation::kRelu) {
    for (int64_t i = 0; i < m * n; ++i) c[i] = c[i] > 0.f ? c[i] : 0.f;
  }
}

void OneGemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
             const float* bias, Activation act) {
  float beta = 0.f;
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * n, bias, sizeof(float) * n);
    beta = 1.f;
  }
  if (k == 0) {
    if (bias == nullptr) std::memset(c, 0, sizeof(float) * m * n);
  } else {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.f, a, static_cast<int>(transA ? m : k),
                b, static_cast<int>(transB ? k : n), beta, c, static_cast<int>(n));
  }
  Epilogue(c, m, n, act);
}

}  // namespace

void SetEngineThreads(int n) {
  SetNumThreads(n);
  SetDnnlThreads(NumThreads());  // OpenBLAS's count follows NumThreads() at the next BatchMatMul
}

void BatchMatMul(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex, const int32_t* bIndex,
                 int64_t m, int64_t n, int64_t k, bool transA, bool transB, const float* bias, Activation act) {
  if (batch == 0 || m == 0 || n == 0) return;
  const int64_t aSize = m * k, bSize = k * n, cSize = m * n;
  const int threads = NumThreads();
  // Small matrices (attention heads) scale better one-per-thread than with BLAS threading inside each gemm.
  const bool perThread = batch >= threads && threads > 1 && m * n * k < (int64_t{1} << 27);
  // A gemm this small (the QA head's [N, 2] products: k or m is 2) costs microseconds on one thread, but
  // milliseconds when OpenBLAS splits it over threads (measured: 12 ms for [2, 3072]·[3072, 128] on 2 threads).
  const bool tiny = batch * m * n * k < (int64_t{1} << 22);
  UseBlasThreads(perThread || tiny ? 1 : threads);
  if (!perThread) {
    for (int64_t i = 0; i < batch; ++i)
      OneGemm(a + aIndex[i] * aSize, b + bIndex[i] * bSize, c + i * cSize, m, n, k, transA, transB, bias, act);
    return;
  }
  ParallelFor(batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      OneGemm(a + aIndex[i] * aSize, b + bIndex[i] * bSize, c + i * cSize, m, n, k, transA, transB, bias, act);
  });
}

}  // namespace qaft
