// Mixed-precision matmuls with torch.autocast(cpu, bfloat16)'s semantics: both inputs rounded to bfloat16
// (round to nearest even), products accumulated and written in float32, through oneDNN's matmul primitive (its
// AVX512_BF16 kernels run bf16 at about twice the rate of the best fp32 sgemm). oneDNN is optional (QAFT_DNNL,
// see binding.gyp); without it, or on a CPU without bf16 kernels, only the emulation (the same rounding on the
// float32 sgemm) runs, which tests use.
//
// Written against oneDNN's C API rather than dnnl.hpp: the addon builds without C++ exceptions, and dnnl.hpp
// then turns every error into a trap that would kill the Node process.
#include "kernels.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "parallel.h"

#ifdef QAFT_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

namespace qaft {

namespace {

// float32 → bfloat16, round to nearest even; a NaN stays a (quiet) NaN instead of rounding into infinity.
inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// bf16 bits, or a float32 holding the same (rounded) value.
template <typename Out>
Out Round(float f);
template <>
inline uint16_t Round<uint16_t>(float f) { return ToBf16(f); }
template <>
inline float Round<float>(float f) {
  const uint32_t u = static_cast<uint32_t>(ToBf16(f)) << 16;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

// dst[rows, cols] (row-major, rounded to bf16) = src viewed as [rows, cols] with strides (rowStride, colStride) in floats.
// Transposed reads go in 32x32 tiles so that both sides stay in cache.
template <typename Out>
void ConvertMatrix(const float* src, Out* dst, int64_t rows, int64_t cols, int64_t rowStride,
                   int64_t colStride) {
  if (colStride == 1) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = src + r * rowStride;
      Out* d = dst + r * cols;
      for (int64_t c = 0; c < cols; ++c) d[c] = Round<Out>(s[c]);
    }
    return;
  }
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[r * cols + c] = Round<Out>(src[r * rowStride + c * colStride]);
    }
  }
}

// Converts `batch` matrices, picked by `index` from `src` (each `size` floats, stored [rows, cols] or, when
// `trans`, [cols, rows]), into contiguous row-major [batch, rows, cols], rounded to bf16.
template <typename Out>
void ConvertBatch(const float* src, const int32_t* index, Out* dst, int64_t batch, int64_t rows, int64_t cols,
                  bool trans) {
  const int64_t size = rows * cols;
  // Parallel over (matrix, block of rows): one big matrix still uses every thread.
  const int64_t rowBlock = 64, blocks = (rows + rowBlock - 1) / rowBlock;
  ParallelFor(batch * blocks, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, rowBlock * cols)),
              [&](int64_t lo, int64_t hi) {
                for (int64_t t = lo; t < hi; ++t) {
                  const int64_t b = t / blocks, r0 = (t % blocks) * rowBlock, r1 = std::min(rows, r0 + rowBlock);
                  const float* s = src + index[b] * size;
                  Out* d = dst + b * size + r0 * cols;
                  if (trans) {
                    ConvertMatrix(s + r0, d, r1 - r0, cols, 1, rows);
                  } else {
                    ConvertMatrix(s + r0 * cols, d, r1 - r0, cols, cols, 1);
                  }
                }
              });
}

}  // namespace

// The same rounding with float32 products on sgemm: bf16 × bf16 products are exact in float32, so this differs
// from oneDNN's bf16 kernels only in summation order. For tests on CPUs without AVX512_BF16; no faster than fp32.
const char* BatchMatMulBf16Emulated(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                                    const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                                    const float* bias, Activation act) {
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  std::vector<float> ra(static_cast<size_t>(batch * m * k)), rb(static_cast<size_t>(batch * k * n));
  ConvertBatch(a, aIndex, ra.data(), batch, m, k, transA);
  ConvertBatch(b, bIndex, rb.data(), batch, k, n, transB);
  std::vector<int32_t> identity(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) identity[i] = static_cast<int32_t>(i);
  BatchMatMul(ra.data(), rb.data(), c, batch, identity.data(), identity.data(), m, n, k, false, false, bias, act);
  return nullptr;
}

#ifndef QAFT_DNNL

Bf16Support GetBf16Support() { return {false, false, "none"}; }

const char* BatchMatMulBf16(const float*, const float*, float*, int64_t, const int32_t*, const int32_t*, int64_t,
                            int64_t, int64_t, bool, bool, const float*, Activation, bool) {
  return "the native engine was built without oneDNN";
}

void SetDnnlThreads(int) {}

const char* Bf16ImplName(int64_t, int64_t, int64_t) { return "none"; }

#else

namespace {

struct Engine {
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  const char* error = nullptr;
};

Engine& GetEngine() {
  static Engine e = [] {
    Engine x;
    if (dnnl_engine_create(&x.engine, dnnl_cpu, 0) != dnnl_success) {
      x.error = "oneDNN could not create a CPU engine";
    } else if (dnnl_stream_create(&x.stream, x.engine, dnnl_stream_default_flags) != dnnl_success) {
      x.error = "oneDNN could not create a CPU stream";
    }
    return x;
  }();
  return e;
}

// One cached primitive per shape, with its memory objects (their data handles are set per call).
struct Gemm {
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t src = nullptr, wei = nullptr, dst = nullptr;
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int>;  // batch, m, n, k, input data type
std::map<Key, Gemm> g_cache;
constexpr size_t kMaxCached = 256;  // dynamic padding makes a few shapes per sequence length

void Destroy(Gemm& g) {
  if (g.prim) dnnl_primitive_destroy(g.prim);
  if (g.src) dnnl_memory_destroy(g.src);
  if (g.wei) dnnl_memory_destroy(g.wei);
  if (g.dst) dnnl_memory_destroy(g.dst);
  g = Gemm{};
}

// The `in` × `in` → f32 primitive for [batch, m, k] × [batch, k, n] (plain row-major), or an error. `in` is
// bf16, or f32 for the test mode that runs this path on bf16-rounded floats where bf16 kernels are missing.
const char* GetGemm(int64_t batch, int64_t m, int64_t n, int64_t k, dnnl_data_type_t in, Gemm** out) {
  Engine& e = GetEngine();
  if (e.error) return e.error;
  const Key key{batch, m, n, k, static_cast<int>(in)};
  auto it = g_cache.find(key);
  if (it != g_cache.end()) {
    *out = &it->second;
    return nullptr;
  }
  if (g_cache.size() >= kMaxCached) {
    for (auto& kv : g_cache) Destroy(kv.second);
    g_cache.clear();
  }
  dnnl_dims_t sd = {batch, m, k}, wd = {batch, k, n}, dd = {batch, m, n};
  dnnl_memory_desc_t smd, wmd, dmd;
  dnnl_memory_desc_init_by_tag(&smd, 3, sd, in, dnnl_abc);
  dnnl_memory_desc_init_by_tag(&wmd, 3, wd, in, dnnl_abc);
  dnnl_memory_desc_init_by_tag(&dmd, 3, dd, dnnl_f32, dnnl_abc);
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &smd, &wmd, nullptr, &dmd) != dnnl_success) return "oneDNN rejected a matmul shape";
  dnnl_primitive_desc_t pd = nullptr;
  if (dnnl_primitive_desc_create(&pd, &desc, nullptr, e.engine, nullptr) != dnnl_success) {
    return "oneDNN has no bf16 matmul implementation here";
  }
  Gemm g;
  const bool ok = dnnl_primitive_create(&g.prim, pd) == dnnl_success &&
                  dnnl_memory_create(&g.src, &smd, e.engine, DNNL_MEMORY_NONE) == dnnl_success &&
                  dnnl_memory_create(&g.wei, &wmd, e.engine, DNNL_MEMORY_NONE) == dnnl_success &&
                  dnnl_memory_create(&g.dst, &dmd, e.engine, DNNL_MEMORY_NONE) == dnnl_success;
  dnnl_primitive_desc_destroy(pd);
  if (!ok) {
    Destroy(g);
    return "oneDNN could not create a bf16 matmul primitive";
  }
  *out = &g_cache.emplace(key, g).first->second;
  return nullptr;
}

// Scratch for the rounded inputs, grown as needed and kept (one matmul runs at a time: calls come from JS).
template <typename T>
struct Scratch {
  static std::vector<T> a, b;
};
template <typename T>
std::vector<T> Scratch<T>::a;
template <typename T>
std::vector<T> Scratch<T>::b;

// Rounds the inputs into scratch as `In` (bf16 bits, or floats holding bf16 values) and runs the oneDNN primitive.
template <typename In>
const char* RunDnnl(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                    const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB) {
  Gemm* g = nullptr;
  const dnnl_data_type_t in = std::is_same<In, uint16_t>::value ? dnnl_bf16 : dnnl_f32;
  if (const char* err = GetGemm(batch, m, n, k, in, &g)) return err;
  std::vector<In>& sa = Scratch<In>::a;
  std::vector<In>& sb = Scratch<In>::b;
  sa.resize(static_cast<size_t>(batch * m * k));
  sb.resize(static_cast<size_t>(batch * k * n));
  ConvertBatch<In>(a, aIndex, sa.data(), batch, m, k, transA);
  ConvertBatch<In>(b, bIndex, sb.data(), batch, k, n, transB);
  dnnl_memory_set_data_handle(g->src, sa.data());
  dnnl_memory_set_data_handle(g->wei, sb.data());
  dnnl_memory_set_data_handle(g->dst, c);
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, g->src}, {DNNL_ARG_WEIGHTS, g->wei}, {DNNL_ARG_DST, g->dst}};
  Engine& e = GetEngine();
  if (dnnl_primitive_execute(g->prim, e.stream, 3, args) != dnnl_success || dnnl_stream_wait(e.stream) != dnnl_success) {
    return "oneDNN failed to run a bf16 matmul";
  }
  return nullptr;
}

std::string g_implName;

}  // namespace

void SetDnnlThreads(int n) { omp_set_num_threads(n); }

Bf16Support GetBf16Support() {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  // AVX512_BF16 as oneDNN sees it, and a bf16 primitive that really builds here
  Gemm* probe = nullptr;
  const bool hw = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16 &&
                  GetGemm(1, 16, 16, 16, dnnl_bf16, &probe) == nullptr;
  const char* name = "other";
  switch (isa) {
    case dnnl_cpu_isa_sse41: name = "sse41"; break;
    case dnnl_cpu_isa_avx: name = "avx"; break;
    case dnnl_cpu_isa_avx2: name = "avx2"; break;
    case dnnl_cpu_isa_avx512_core: name = "avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: name = "avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: name = "avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: name = "avx512_core_amx"; break;
    default: break;
  }
  return {true, hw, name};
}

const char* Bf16ImplName(int64_t m, int64_t n, int64_t k) {
  Gemm* g = nullptr;
  if (const char* err = GetGemm(1, m, n, k, dnnl_bf16, &g)) return err;
  const_dnnl_primitive_desc_t pd = nullptr;
  const char* impl = nullptr;
  if (dnnl_primitive_get_primitive_desc(g->prim, &pd) != dnnl_success ||
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || impl == nullptr) {
    return "unknown";
  }
  g_implName = impl;
  return g_implName.c_str();
}

const char* BatchMatMulBf16(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                            const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                            const float* bias, Activation act, bool f32Inputs) {
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  if (k == 0) {
    for (int64_t i = 0; i < batch * m; ++i) {
      if (bias) std::memcpy(c + i * n, bias, sizeof(float) * n);
      else std::memset(c + i * n, 0, sizeof(float) * n);
    }
  } else {
    const char* err = f32Inputs ? RunDnnl<float>(a, b, c, batch, aIndex, bIndex, m, n, k, transA, transB)
                                : RunDnnl<uint16_t>(a, b, c, batch, aIndex, bIndex, m, n, k, transA, transB);
    if (err) return err;
    if (bias) {
      // The bias is added in float32 (torch.autocast would round it to bf16 with the matmul).
      ParallelFor(batch * m, std::max<int64_t>(1, (int64_t{1} << 15) / n), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r)
          for (int64_t j = 0; j < n; ++j) c[r * n + j] += bias[j];
      });
    }
  }
  if (act == Activation::kRelu) {
    const int64_t size = batch * m * n;
    ParallelFor(size, int64_t{1} << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) c[i] = c[i] > 0.f ? c[i] : 0.f;
    });
  }
  return nullptr;
}

#endif  // QAFT_DNNL

}  // namespace qaft
