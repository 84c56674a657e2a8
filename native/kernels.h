// Kernel entry points of the qa-ft native engine, by kind as tfjs-backend-cpu files them: matmul.cc (and
// matmul-bf16.cc), elementwise.cc, reduce.cc, movement.cc, optimizer.cc. Data is row-major and caller-allocated.
#pragma once

#include <cstdint>

namespace qaft {

// The op codes JavaScript passes, one list per kind: an op's code is its position in the list, and the string is
// its name in src/engine/addon.ts's table (a TF.js kernel name). The addon exports these lists (`opCodes`) and
// addon.ts refuses an addon whose codes differ from its own. (clang-format would break the lists as statements.)
// clang-format off
#define QAFT_UNARY_OPS(X)                                                                                 \
  X(kExp, "Exp") X(kErf, "Erf") X(kTanh, "Tanh") X(kSqrt, "Sqrt") X(kRsqrt, "Rsqrt") X(kSquare, "Square") \
  X(kNeg, "Neg") X(kRelu, "Relu") X(kSigmoid, "Sigmoid") X(kLog, "Log") X(kAbs, "Abs")                    \
  X(kReciprocal, "Reciprocal") X(kFloor, "Floor")
#define QAFT_BINARY_OPS(X)                                                                                 \
  X(kAdd, "Add") X(kSub, "Sub") X(kMul, "Multiply") X(kDiv, "RealDiv") X(kSquaredDiff, "SquaredDifference") \
  X(kMax, "Maximum") X(kMin, "Minimum")
#define QAFT_REDUCE_OPS(X) X(kSum, "Sum") X(kMax, "Max") X(kMin, "Min") X(kMean, "Mean")
#define QAFT_ACTIVATIONS(X) X(kLinear, "linear") X(kRelu, "relu")
// clang-format on

#define QAFT_ENUMERATOR(id, name) id,
enum class Unary : int { QAFT_UNARY_OPS(QAFT_ENUMERATOR) };
enum class Binary : int { QAFT_BINARY_OPS(QAFT_ENUMERATOR) };
enum class Reduce : int { QAFT_REDUCE_OPS(QAFT_ENUMERATOR) };
enum class Activation : int { QAFT_ACTIVATIONS(QAFT_ENUMERATOR) };
#undef QAFT_ENUMERATOR

// ---- matmul.cc ------------------------------------------------------------------------------------------------------

// Threads for the whole engine: the pool's kernels, oneDNN, and (at its next gemm) OpenBLAS.
void SetEngineThreads(int n);

// C[b] = op(A[aIndex[b]]) x op(B[bIndex[b]]) (+ bias[N] row-broadcast) (then activation), b in [0, batch).
// A matrix is [M,K] ([K,M] when transA); B is [K,N] ([N,K] when transB); C is [M,N].
void BatchMatMul(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex, const int32_t* bIndex,
                 int64_t m, int64_t n, int64_t k, bool transA, bool transB, const float* bias, Activation act);

// ---- matmul-bf16.cc -------------------------------------------------------------------------------------------------

// What bf16 matmuls can run on: `linked` when built with oneDNN; `hardware` when the CPU has AVX512_BF16 (as
// oneDNN sees it; without it oneDNN still computes bf16 matmuls, on slow reference code); `isa`: oneDNN's name.
struct Bf16Support {
  bool linked;
  bool hardware;
  const char* isa;
};
Bf16Support GetBf16Support();

// BatchMatMul with torch.autocast(cpu, bfloat16) semantics: A and B rounded to bfloat16 (nearest even), products
// accumulated and written in float32 (bias added in float32) by oneDNN's matmul primitive, cached by shape.
// `f32Inputs` (tests, where bf16 kernels are missing): the same path with the rounded inputs kept as float32.
// Returns nullptr, or a one-line reason when it could not run (no oneDNN, no implementation).
const char* BatchMatMulBf16(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                            const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                            const float* bias, Activation act, bool f32Inputs);

// The same rounding, then the float32 BatchMatMul (bf16 products are exact in float32): bf16 numerics on any CPU,
// at fp32 speed. For tests where oneDNN or AVX512_BF16 is missing. Returns nullptr.
const char* BatchMatMulBf16Emulated(const float* a, const float* b, float* c, int64_t batch, const int32_t* aIndex,
                                    const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                                    const float* bias, Activation act);

// The same product on inputs already in bf16 (`a`, `b` bf16 bits; with `f32Inputs`, floats holding bf16 values),
// each read in its stored layout: A [M,K] or, when transA, [K,M]; B [K,N] or, when transB, [N,K] (oneDNN reads them
// through strides: no transpose pass). The bias is added to the float32 sums. Returns nullptr or why it could not run.
const char* MatMulDnnl(const void* a, const void* b, float* c, int64_t batch, const int32_t* aIndex,
                       const int32_t* bIndex, int64_t m, int64_t n, int64_t k, bool transA, bool transB,
                       const float* bias, Activation act, bool f32Inputs);

// float32 → bf16 bits (round to nearest even, NaN stays NaN), threaded, at memory speed.
void ToBf16Array(const float* src, uint16_t* dst, int64_t n);

// The same on the calling thread (kernels that round their output block by block while it is in cache).
void ToBf16Block(const float* src, uint16_t* dst, int64_t n);

// The same rounding, written back as float32 (the test mode that runs oneDNN's float32 primitive on bf16 values).
void RoundBf16Array(const float* src, float* dst, int64_t n);

// oneDNN's implementation name for a [m,k]x[k,n] bf16 matmul with those transposes (e.g. "brg:avx512_core_bf16").
const char* Bf16ImplName(int64_t m, int64_t n, int64_t k, bool transA, bool transB);

// Threads oneDNN's OpenMP runtime uses (no-op without oneDNN).
void SetDnnlThreads(int n);

// ---- elementwise.cc -------------------------------------------------------------------------------------------------

void UnaryOp(Unary op, const float* x, float* out, int64_t size);

// out[rows, inner] = a op b, where a/b are addressed through per-dimension strides (0 = broadcast) of the
// (coalesced) output shape `shape[rank]`.
void BinaryOp(Binary op, const float* a, const float* b, float* out, int rank, const int64_t* shape,
              const int64_t* aStrides, const int64_t* bStrides);

void Fill(float* out, float value, int64_t size);

// out[i] = cond[i] ? t[i] : e[i] over 4-byte elements.
void Select(const uint8_t* cond, const uint32_t* t, const uint32_t* e, uint32_t* out, int64_t size);

// Inverted dropout: mask[i] = (uniform(seed, i) >= rate), out[i] = mask[i] ? x[i] * scale : 0, where uniform is
// a counter-based hash (splitmix64) of (seed, i): the same seed gives the same mask for any thread count.
void Dropout(const float* x, float* out, uint8_t* mask, int64_t size, double rate, uint64_t seed, float scale);

// out[i] = mask[i] ? x[i] * scale : 0 (the dropout gradient).
void MaskedScale(const float* x, const uint8_t* mask, float* out, int64_t size, float scale);

// erf-GELU, out = x·Φ(x) with Φ(x) = erfc(−x/√2)/2, vectorized (within 1e-6 of float64). `bf16` (nullable): out
// rounded to bf16 too, a cache-sized block at a time (the next linear's bf16 matmul input: no separate pass); with
// `bf16`, `out` may be null (bf16 only).
void GeluErf(const float* x, float* out, int64_t size, uint16_t* bf16 = nullptr);

// Its gradient: out = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π). `bf16` as for GeluErf.
void GeluErfGrad(const float* x, const float* dy, float* out, int64_t size, uint16_t* bf16 = nullptr);

// ---- reduce.cc ------------------------------------------------------------------------------------------------------

// out[outer] = reduce(x[outer, inner]) over the contiguous last axis.
void ReduceInner(Reduce op, const float* x, float* out, int64_t outer, int64_t inner);

// out[pre, post] = reduce(x[pre, red, post]) over the middle axis (a contiguous block of reduced axes).
void ReduceMiddle(Reduce op, const float* x, float* out, int64_t pre, int64_t red, int64_t post);

void SoftmaxInner(const float* x, float* out, int64_t outer, int64_t inner);

double SumOfSquares(const float* x, int64_t size);

// ---- movement.cc ----------------------------------------------------------------------------------------------------

// out = transpose(x) with out.shape[i] = shape[perm[i]]; 4-byte elements.
// `bf16` (nullable; float32 data only): out rounded to bf16 too, each row while it is in cache (the head transposes of
// attention feed bf16 matmuls, which then need no rounding pass of their own).
void Transpose(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int32_t* perm,
               uint16_t* bf16 = nullptr);

// x [outer, axisDim, inner], indices [n] → out [outer, n, inner]. Returns the first bad index position or -1.
int64_t Gather(const uint32_t* x, const int32_t* indices, uint32_t* out, int64_t outer, int64_t axisDim, int64_t n,
               int64_t inner);

// out[numSegments, inner] (zeroed by the caller) += x[n, inner] at rows ids[n]; ids outside [0, numSegments) drop.
void UnsortedSegmentSum(const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner, int64_t numSegments);

// out = tile(x, reps) for 1- or 4-byte elements; out.shape[d] = shape[d] * reps[d].
void Tile(const uint8_t* x, uint8_t* out, int elemSize, int rank, const int64_t* shape, const int64_t* reps);

// ---- optimizer.cc ---------------------------------------------------------------------------------------------------

// PyTorch AdamW, in place, with the gradient multiplied by gradScale (e.g. the clipping coefficient) first.
void AdamW(float* param, const float* grad, float* m, float* v, int64_t size, double lr, double beta1, double beta2,
           double eps, double weightDecay, int64_t step, double gradScale);

}  // namespace qaft
