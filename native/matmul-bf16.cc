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
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
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
inline uint16_t Round<uint16_t>(float f) {
  return ToBf16(f);
}
template <>
inline float Round<float>(float f) {
  const uint32_t u = static_cast<uint32_t>(ToBf16(f)) << 16;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

// dst[rows, cols] (row-major, rounded to bf16) = src viewed as [rows, cols] with strides (rowStride, colStride) in
// floats. Transposed reads go in 32x32 tiles so that both sides stay in cache.
template <typename Out>
void ConvertMatrix(const float* src, Out* dst, int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride) {
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

// float32 → bf16 bits, round to nearest even, NaN kept a (quiet) NaN: ToBf16 written without a branch and on the
// bits (a may_alias view), so that the loop vectorizes (AVX-512: 16 a cycle); it runs at memory speed.
namespace {

using AliasU32 = uint32_t __attribute__((may_alias));

void ToBf16Range(const float* src, uint16_t* dst, int64_t n) {
  const AliasU32* s = reinterpret_cast<const AliasU32*>(src);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = s[i];
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet = (u >> 16) | 0x40u;
    dst[i] = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
  }
}

void RoundBf16Range(const float* src, float* dst, int64_t n) {
  const AliasU32* s = reinterpret_cast<const AliasU32*>(src);
  AliasU32* d = reinterpret_cast<AliasU32*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = s[i];
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    const uint32_t quiet = (u & 0xffff0000u) | 0x400000u;
    d[i] = (u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded;
  }
}

constexpr int64_t kConvertGrain = int64_t{1} << 16;  // elements per thread below which threading does not pay

}  // namespace

void ToBf16Block(const float* src, uint16_t* dst, int64_t n) { ToBf16Range(src, dst, n); }

void ToBf16Array(const float* src, uint16_t* dst, int64_t n) {
  ParallelFor(n, kConvertGrain, [&](int64_t lo, int64_t hi) { ToBf16Range(src + lo, dst + lo, hi - lo); });
}

void RoundBf16Array(const float* src, float* dst, int64_t n) {
  ParallelFor(n, kConvertGrain, [&](int64_t lo, int64_t hi) { RoundBf16Range(src + lo, dst + lo, hi - lo); });
}

#ifndef QAFT_DNNL

Bf16Support GetBf16Support() { return {false, false, "none"}; }

const char* BatchMatMulBf16(const float*, const float*, float*, int64_t, const int32_t*, const int32_t*, int64_t,
                            int64_t, int64_t, bool, bool, const float*, Activation, bool) {
  return "the native engine was built without oneDNN";
}

const char* MatMulDnnl(const void*, const void*, float*, int64_t, const int32_t*, const int32_t*, int64_t, int64_t,
                       int64_t, bool, bool, const float*, Activation, bool) {
  return "the native engine was built without oneDNN";
}

void SetDnnlThreads(int) {}

const char* Bf16ImplName(int64_t, int64_t, int64_t, bool, bool) { return "none"; }

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

// One cached primitive per problem, with its memory objects (their data handles are set per call). `fusedBias`:
// the bias is the primitive's own (added to the float32 sums in its epilogue), else added after it.
struct Gemm {
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t src = nullptr, wei = nullptr, dst = nullptr, bias = nullptr;
  bool fusedBias = false;
};

// batch, batch of the weights (1: one B for every A), m, n, k, input data type, transA, transB, bias, relu
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int, bool, bool, bool, bool>;
std::map<Key, Gemm> g_cache;
constexpr size_t kMaxCached = 256;  // dynamic padding makes a few shapes per sequence length

void Destroy(Gemm& g) {
  if (g.prim) dnnl_primitive_destroy(g.prim);
  if (g.src) dnnl_memory_destroy(g.src);
  if (g.wei) dnnl_memory_destroy(g.wei);
  if (g.dst) dnnl_memory_destroy(g.dst);
  if (g.bias) dnnl_memory_destroy(g.bias);
  g = Gemm{};
}

dnnl_status_t CreatePd(dnnl_primitive_desc_t* pd, const dnnl_memory_desc_t& smd, const dnnl_memory_desc_t& wmd,
                       const dnnl_memory_desc_t* bmd, const dnnl_memory_desc_t& dmd, bool relu, dnnl_engine_t engine) {
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &smd, &wmd, bmd, &dmd) != dnnl_success) return dnnl_invalid_arguments;
  dnnl_primitive_attr_t attr = nullptr;
  dnnl_post_ops_t ops = nullptr;
  if (relu) {
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return dnnl_out_of_memory;
    dnnl_post_ops_create(&ops);
    dnnl_post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
    dnnl_primitive_attr_set_post_ops(attr, ops);
  }
  const dnnl_status_t st = dnnl_primitive_desc_create(pd, &desc, attr, engine, nullptr);
  if (ops) dnnl_post_ops_destroy(ops);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return st;
}

// The `in` × `in` → f32 primitive for `batch` products op(A)[m, k] · op(B)[k, n], the operands read in their stored
// layouts ([k, m] for a transposed A, [n, k] for a transposed B: strides, never a transpose pass), B shared by every
// A when `wBatch` is 1. `in` is bf16, or f32 for the test mode that runs this path on bf16-rounded floats.
const char* GetGemm(int64_t batch, int64_t wBatch, int64_t m, int64_t n, int64_t k, dnnl_data_type_t in, bool ta,
                    bool tb, bool bias, bool relu, Gemm** out) {
  Engine& e = GetEngine();
  if (e.error) return e.error;
  const Key key{batch, wBatch, m, n, k, static_cast<int>(in), ta, tb, bias, relu};
  auto it = g_cache.find(key);
  if (it != g_cache.end()) {
    *out = &it->second;
    return nullptr;
  }
  if (g_cache.size() >= kMaxCached) {
    for (auto& kv : g_cache) Destroy(kv.second);
    g_cache.clear();
  }
  dnnl_dims_t sd = {batch, m, k}, ss = {m * k, ta ? 1 : k, ta ? m : 1};
  dnnl_dims_t wd = {wBatch, k, n}, ws = {k * n, tb ? 1 : n, tb ? k : 1};
  dnnl_dims_t dd = {batch, m, n}, bd = {1, 1, n};
  dnnl_memory_desc_t smd, wmd, dmd, bmd;
  dnnl_memory_desc_init_by_strides(&smd, 3, sd, in, ss);
  dnnl_memory_desc_init_by_strides(&wmd, 3, wd, in, ws);
  dnnl_memory_desc_init_by_tag(&dmd, 3, dd, dnnl_f32, dnnl_abc);
  dnnl_memory_desc_init_by_tag(&bmd, 3, bd, dnnl_f32, dnnl_abc);
  dnnl_primitive_desc_t pd = nullptr;
  Gemm g;
  g.fusedBias = bias && CreatePd(&pd, smd, wmd, &bmd, dmd, relu, e.engine) == dnnl_success;
  if (!g.fusedBias && CreatePd(&pd, smd, wmd, nullptr, dmd, relu && !bias, e.engine) != dnnl_success) {
    return "oneDNN has no bf16 matmul implementation here";
  }
  const bool ok = dnnl_primitive_create(&g.prim, pd) == dnnl_success &&
                  dnnl_memory_create(&g.src, &smd, e.engine, DNNL_MEMORY_NONE) == dnnl_success &&
                  dnnl_memory_create(&g.wei, &wmd, e.engine, DNNL_MEMORY_NONE) == dnnl_success &&
                  dnnl_memory_create(&g.dst, &dmd, e.engine, DNNL_MEMORY_NONE) == dnnl_success &&
                  (!g.fusedBias || dnnl_memory_create(&g.bias, &bmd, e.engine, DNNL_MEMORY_NONE) == dnnl_success);
  dnnl_primitive_desc_destroy(pd);
  if (!ok) {
    Destroy(g);
    return "oneDNN could not create a bf16 matmul primitive";
  }
  *out = &g_cache.emplace(key, g).first->second;
  return nullptr;
}

const char* Execute(Gemm* g, const void* a, const void* b, float* c, const float* bias) {
  dnnl_memory_set_data_handle(g->src, const_cast<void*>(a));
  dnnl_memory_set_data_handle(g->wei, const_cast<void*>(b));
  dnnl_memory_set_data_handle(g->dst, c);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, g->src}, {DNNL_ARG_WEIGHTS, g->wei}, {DNNL_ARG_DST, g->dst}, {0, nullptr}};
  int count = 3;
  if (g->fusedBias) {
    dnnl_memory_set_data_handle(g->bias, const_cast<float*>(bias));
    args[count++] = {DNNL_ARG_BIAS, g->bias};
  }
  Engine& e = GetEngine();
  if (dnnl_primitive_execute(g->prim, e.stream, count, args) != dnnl_success ||
      dnnl_stream_wait(e.stream) != dnnl_success) {
    return "oneDNN failed to run a bf16 matmul";
  }
  return nullptr;
}

bool IsIdentity(const int32_t* index, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    if (index[i] != i) return false;
  return true;
}

bool AllZero(const int32_t* index, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    if (index[i] != 0) return false;
  return true;
}

// Scratch for the rounded inputs of BatchMatMulBf16, grown as needed and kept (calls come from JS, one at a time).
template <typename T>
struct Scratch {
  static std::vector<T> a, b;
};
template <typename T>
std::vector<T> Scratch<T>::a;
template <typename T>
std::vector<T> Scratch<T>::b;

template <typename In>
void ConvertAll(const float* src, In* dst, int64_t n);
template <>
void ConvertAll<uint16_t>(const float* src, uint16_t* dst, int64_t n) {
  ToBf16Array(src, dst, n);
}
template <>
void ConvertAll<float>(const float* src, float* dst, int64_t n) {
  RoundBf16Array(src, dst, n);
}

template <typename In>
const char* ConvertAndRun(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                          const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                          const float* bias, Activation act) {
  // every matrix the indices reach, converted in its stored layout
  const int64_t aCount = *std::max_element(aIndex, aIndex + batch) + 1,
                bCount = *std::max_element(bIndex, bIndex + batch) + 1;
  std::vector<In>& sa = Scratch<In>::a;
  std::vector<In>& sb = Scratch<In>::b;
  sa.resize(static_cast<size_t>(aCount * m * k));
  sb.resize(static_cast<size_t>(bCount * k * n));
  ConvertAll<In>(a, sa.data(), aCount * m * k);
  ConvertAll<In>(b, sb.data(), bCount * k * n);
  return MatMulDnnl(sa.data(), sb.data(), c, batch, aIndex, bIndex, m, n, k, transA, transB, bias, act,
                    std::is_same<In, float>::value);
}

std::string g_implName;

}  // namespace

void SetDnnlThreads(int n) { omp_set_num_threads(n); }

Bf16Support GetBf16Support() {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  // AVX512_BF16 as oneDNN sees it, and a bf16 primitive that really builds here
  Gemm* probe = nullptr;
  const bool hw = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16 &&
                  GetGemm(1, 1, 16, 16, 16, dnnl_bf16, false, false, false, false, &probe) == nullptr;
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

const char* Bf16ImplName(int64_t m, int64_t n, int64_t k, bool transA, bool transB) {
  Gemm* g = nullptr;
  if (const char* err = GetGemm(1, 1, m, n, k, dnnl_bf16, transA, transB, false, false, &g)) return err;
  const_dnnl_primitive_desc_t pd = nullptr;
  const char* impl = nullptr;
  if (dnnl_primitive_get_primitive_desc(g->prim, &pd) != dnnl_success ||
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || impl == nullptr) {
    return "unknown";
  }
  g_implName = impl;
  return g_implName.c_str();
}

const char* MatMulDnnl(const void* a, const void* b, float* c, int64_t batch, const int32_t* aIndex,
                       const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                       const float* bias, Activation act, bool f32Inputs) {
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  const bool relu = act == Activation::kRelu;
  if (k == 0) {
    for (int64_t i = 0; i < batch * m; ++i) {
      if (bias)
        std::memcpy(c + i * n, bias, sizeof(float) * n);
      else
        std::memset(c + i * n, 0, sizeof(float) * n);
    }
  } else {
    const dnnl_data_type_t in = f32Inputs ? dnnl_f32 : dnnl_bf16;
    const size_t elem = f32Inputs ? sizeof(float) : sizeof(uint16_t);
    const char* pa = static_cast<const char*>(a);
    const char* pb = static_cast<const char*>(b);
    Gemm* g = nullptr;
    const bool sameA = IsIdentity(aIndex, batch);
    if (sameA && (IsIdentity(bIndex, batch) || AllZero(bIndex, batch))) {
      // one primitive over the whole batch (B broadcast when shared)
      const int64_t wBatch = bIndex[batch - 1] == 0 ? 1 : batch;
      if (const char* err = GetGemm(batch, wBatch, m, n, k, in, transA, transB, bias != nullptr, relu, &g)) return err;
      if (const char* err = Execute(g, a, b, c, bias)) return err;
    } else {
      // other broadcasts (tests, rare shapes): one product at a time
      if (const char* err = GetGemm(1, 1, m, n, k, in, transA, transB, bias != nullptr, relu, &g)) return err;
      for (int64_t i = 0; i < batch; ++i) {
        if (const char* err =
                Execute(g, pa + aIndex[i] * m * k * elem, pb + bIndex[i] * k * n * elem, c + i * m * n, bias))
          return err;
      }
    }
    if (bias && !g->fusedBias) {
      // added in float32, as the fused epilogue does (torch.autocast would round it to bf16 with the matmul)
      ParallelFor(batch * m, std::max<int64_t>(1, (int64_t{1} << 15) / n), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r)
          for (int64_t j = 0; j < n; ++j) {
            const float v = c[r * n + j] + bias[j];
            c[r * n + j] = relu && v < 0.f ? 0.f : v;
          }
      });
    }
    return nullptr;
  }
  if (relu) {
    const int64_t size = batch * m * n;
    ParallelFor(size, int64_t{1} << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) c[i] = c[i] > 0.f ? c[i] : 0.f;
    });
  }
  return nullptr;
}

const char* BatchMatMulBf16(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                            const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                            const float* bias, Activation act, bool f32Inputs) {
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  if (k == 0) return MatMulDnnl(a, b, c, batch, aIndex, bIndex, m, n, k, transA, transB, bias, act, f32Inputs);
  return f32Inputs ? ConvertAndRun<float>(a, b, c, batch, aIndex, bIndex, m, n, k, transA, transB, bias, act)
                   : ConvertAndRun<uint16_t>(a, b, c, batch, aIndex, bIndex, m, n, k, transA, transB, bias, act);
}

#endif  // QAFT_DNNL

}  // namespace qaft
