// N-API bindings of the qa-ft native engine. Arguments are JS typed arrays used in place (zero-copy); shapes
// travel as Float64Array. Nothing here checks types or sizes: the TypeScript kernels that call in (src/engine)
// size every array from the tensor shapes and hand unsupported cases to the cpu backend first.
#include <napi.h>

#include <cstdint>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "attention.h"
#include "kernels.h"
#include "layernorm.h"
#include "parallel.h"
#include "stop-signals.h"

namespace {

// Big tensors are fresh mmap'd zero pages (V8 callocs them). Touching them 4 KiB at a time costs a page fault
// each, which on a busy VM dominated whole kernels (1.2 s to first-write 94 MB against 12-40 ms warm); asking
// for transparent huge pages (THP "madvise" mode) makes that 512x fewer faults. A hint only: errors are ignored.
void AdviseHuge(uint8_t* p, size_t bytes) {
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 2 * kHuge) return;
  uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

template <typename T>
T* Ptr(const Napi::Value& v) {
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  AdviseHuge(base, ta.ByteLength());
  return reinterpret_cast<T*>(base);
}

template <typename T>
const T* PtrOrNull(const Napi::Value& v) {
  return v.IsTypedArray() ? Ptr<T>(v) : nullptr;
}

template <typename T>
T* MutOrNull(const Napi::Value& v) {
  return v.IsTypedArray() ? Ptr<T>(v) : nullptr;
}

int64_t I64(const Napi::Value& v) { return static_cast<int64_t>(v.As<Napi::Number>().DoubleValue()); }
double F64(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
int I32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

std::vector<int64_t> Shape(const Napi::Value& v) {
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  std::vector<int64_t> out(a.ElementLength());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(a[i]);
  return out;
}

// matmul(a, b, c, aIndex, bIndex, m, n, k, transA, transB, bias|null, activation)
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  qaft::BatchMatMul(Ptr<float>(info[0]), Ptr<float>(info[1]), Ptr<float>(info[2]),
                    info[3].As<Napi::Int32Array>().ElementLength(), Ptr<int32_t>(info[3]), Ptr<int32_t>(info[4]),
                    I64(info[5]), I64(info[6]), I64(info[7]), info[8].ToBoolean(), info[9].ToBoolean(),
                    PtrOrNull<float>(info[10]), static_cast<qaft::Activation>(I32(info[11])));
  return info.Env().Undefined();
}

// matmulBf16(same arguments as matmul, how: 0 oneDNN bf16, 1 emulated on sgemm, 2 oneDNN on rounded float32)
// → null, or a one-line reason it could not run
Napi::Value MatMulBf16(const Napi::CallbackInfo& info) {
  const int how = I32(info[12]);
  const float* a = Ptr<float>(info[0]);
  const float* b = Ptr<float>(info[1]);
  float* c = Ptr<float>(info[2]);
  const int64_t batch = info[3].As<Napi::Int32Array>().ElementLength();
  const int32_t* ai = Ptr<int32_t>(info[3]);
  const int32_t* bi = Ptr<int32_t>(info[4]);
  const float* bias = PtrOrNull<float>(info[10]);
  const auto act = static_cast<qaft::Activation>(I32(info[11]));
  const bool ta = info[8].ToBoolean(), tb = info[9].ToBoolean();
  const int64_t m = I64(info[5]), n = I64(info[6]), k = I64(info[7]);
  const char* err = how == 1 ? qaft::BatchMatMulBf16Emulated(a, b, c, batch, ai, bi, m, n, k, ta, tb, bias, act)
                             : qaft::BatchMatMulBf16(a, b, c, batch, ai, bi, m, n, k, ta, tb, bias, act, how == 2);
  return err == nullptr ? info.Env().Null() : Napi::String::New(info.Env(), err);
}

// matmulBf16Ready(a, b, c, aIndex, bIndex, m, n, k, transA, transB, bias|null, activation): a and b already
// rounded (Uint16Array bf16 bits, or Float32Array holding bf16 values for the float32 test primitive), each in its
// stored layout → null, or a one-line reason it could not run
Napi::Value MatMulBf16Ready(const Napi::CallbackInfo& info) {
  const bool f32Inputs = info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
  const char* err = qaft::MatMulDnnl(
      Ptr<uint8_t>(info[0]), Ptr<uint8_t>(info[1]), Ptr<float>(info[2]), info[3].As<Napi::Int32Array>().ElementLength(),
      Ptr<int32_t>(info[3]), Ptr<int32_t>(info[4]), I64(info[5]), I64(info[6]), I64(info[7]), info[8].ToBoolean(),
      info[9].ToBoolean(), PtrOrNull<float>(info[10]), static_cast<qaft::Activation>(I32(info[11])), f32Inputs);
  return err == nullptr ? info.Env().Null() : Napi::String::New(info.Env(), err);
}

// toBf16(src: Float32Array, dst: Uint16Array (bf16 bits) | Float32Array (bf16 values)), as many elements as dst
Napi::Value ToBf16(const Napi::CallbackInfo& info) {
  Napi::TypedArray dst = info[1].As<Napi::TypedArray>();
  const int64_t n = static_cast<int64_t>(dst.ElementLength());
  if (dst.TypedArrayType() == napi_float32_array) {
    qaft::RoundBf16Array(Ptr<float>(info[0]), Ptr<float>(info[1]), n);
  } else {
    qaft::ToBf16Array(Ptr<float>(info[0]), Ptr<uint16_t>(info[1]), n);
  }
  return info.Env().Undefined();
}

// bf16Support() → { linked, hardware, isa }
Napi::Value Bf16Support(const Napi::CallbackInfo& info) {
  const qaft::Bf16Support s = qaft::GetBf16Support();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("linked", s.linked);
  o.Set("hardware", s.hardware);
  o.Set("isa", s.isa);
  return o;
}

// bf16Impl(m, n, k, transA?, transB?) → oneDNN's implementation name for that bf16 matmul
Napi::Value Bf16Impl(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), qaft::Bf16ImplName(I64(info[0]), I64(info[1]), I64(info[2]), info[3].ToBoolean(),
                                                          info[4].ToBoolean()));
}

// unary(op, x, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  qaft::UnaryOp(static_cast<qaft::Unary>(I32(info[0])), Ptr<float>(info[1]), Ptr<float>(info[2]),
                info[2].As<Napi::Float32Array>().ElementLength());
  return info.Env().Undefined();
}

// binary(op, a, b, out, shape, aStrides, bStrides)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = Shape(info[4]), as = Shape(info[5]), bs = Shape(info[6]);
  qaft::BinaryOp(static_cast<qaft::Binary>(I32(info[0])), Ptr<float>(info[1]), Ptr<float>(info[2]), Ptr<float>(info[3]),
                 static_cast<int>(shape.size()), shape.data(), as.data(), bs.data());
  return info.Env().Undefined();
}

// reduce(op, x, out, outer, inner)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  qaft::ReduceInner(static_cast<qaft::Reduce>(I32(info[0])), Ptr<float>(info[1]), Ptr<float>(info[2]), I64(info[3]),
                    I64(info[4]));
  return info.Env().Undefined();
}

// reduceMiddle(op, x, out, pre, red, post)
Napi::Value ReduceMiddle(const Napi::CallbackInfo& info) {
  qaft::ReduceMiddle(static_cast<qaft::Reduce>(I32(info[0])), Ptr<float>(info[1]), Ptr<float>(info[2]), I64(info[3]),
                     I64(info[4]), I64(info[5]));
  return info.Env().Undefined();
}

// fill(out, value)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  qaft::Fill(Ptr<float>(info[0]), static_cast<float>(F64(info[1])), info[0].As<Napi::Float32Array>().ElementLength());
  return info.Env().Undefined();
}

// softmax(x, out, outer, inner)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  qaft::SoftmaxInner(Ptr<float>(info[0]), Ptr<float>(info[1]), I64(info[2]), I64(info[3]));
  return info.Env().Undefined();
}

// transpose(x, out, shape, perm, bf16|null) for any 4-byte element type (bf16: float32 only)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = Shape(info[2]);
  qaft::Transpose(Ptr<uint32_t>(info[0]), Ptr<uint32_t>(info[1]), static_cast<int>(shape.size()), shape.data(),
                  Ptr<int32_t>(info[3]), MutOrNull<uint16_t>(info[4]));
  return info.Env().Undefined();
}

// gather(x, indices, out, outer, axisDim, inner) → position of the first out-of-range index, or -1
Napi::Value Gather(const Napi::CallbackInfo& info) {
  int64_t n = info[1].As<Napi::Int32Array>().ElementLength();
  int64_t bad = qaft::Gather(Ptr<uint32_t>(info[0]), Ptr<int32_t>(info[1]), Ptr<uint32_t>(info[2]), I64(info[3]),
                             I64(info[4]), n, I64(info[5]));
  return Napi::Number::New(info.Env(), static_cast<double>(bad));
}

// segmentSum(x, ids, out, inner, numSegments)
Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  int64_t n = info[1].As<Napi::Int32Array>().ElementLength();
  qaft::UnsortedSegmentSum(Ptr<float>(info[0]), Ptr<int32_t>(info[1]), Ptr<float>(info[2]), n, I64(info[3]),
                           I64(info[4]));
  return info.Env().Undefined();
}

// select(cond: Uint8Array, t, e, out) over 4-byte elements
Napi::Value Select(const Napi::CallbackInfo& info) {
  qaft::Select(Ptr<uint8_t>(info[0]), Ptr<uint32_t>(info[1]), Ptr<uint32_t>(info[2]), Ptr<uint32_t>(info[3]),
               info[0].As<Napi::TypedArray>().ElementLength());
  return info.Env().Undefined();
}

// tile(x, out, elemSize, shape, reps)
Napi::Value Tile(const Napi::CallbackInfo& info) {
  std::vector<int64_t> shape = Shape(info[3]), reps = Shape(info[4]);
  qaft::Tile(Ptr<uint8_t>(info[0]), Ptr<uint8_t>(info[1]), I32(info[2]), static_cast<int>(shape.size()), shape.data(),
             reps.data());
  return info.Env().Undefined();
}

// dropout(x, out, mask: Uint8Array, rate, seed, scale)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  qaft::Dropout(Ptr<float>(info[0]), Ptr<float>(info[1]), Ptr<uint8_t>(info[2]),
                info[0].As<Napi::Float32Array>().ElementLength(), F64(info[3]), static_cast<uint64_t>(F64(info[4])),
                static_cast<float>(F64(info[5])));
  return info.Env().Undefined();
}

// gelu(x, out|null, bf16|null)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  qaft::GeluErf(Ptr<float>(info[0]), MutOrNull<float>(info[1]), info[0].As<Napi::Float32Array>().ElementLength(),
                MutOrNull<uint16_t>(info[2]));
  return info.Env().Undefined();
}

// geluGrad(x, dy, out, bf16|null)
Napi::Value GeluGrad(const Napi::CallbackInfo& info) {
  qaft::GeluErfGrad(Ptr<float>(info[0]), Ptr<float>(info[1]), Ptr<float>(info[2]),
                    info[0].As<Napi::Float32Array>().ElementLength(), MutOrNull<uint16_t>(info[3]));
  return info.Env().Undefined();
}

// addLayerNorm(x, r|null, rRows, w, b, eps, d, y, normed, std, yBf16|null)
Napi::Value AddLayerNorm(const Napi::CallbackInfo& info) {
  const int64_t d = I64(info[6]);
  qaft::AddLayerNorm(Ptr<float>(info[0]), PtrOrNull<float>(info[1]), I64(info[2]), Ptr<float>(info[3]),
                     Ptr<float>(info[4]), static_cast<float>(F64(info[5])),
                     static_cast<int64_t>(info[0].As<Napi::Float32Array>().ElementLength()) / d, d, Ptr<float>(info[7]),
                     Ptr<float>(info[8]), Ptr<float>(info[9]), MutOrNull<uint16_t>(info[10]));
  return info.Env().Undefined();
}

// addLayerNormGrad(dy, normed, std, w, d, dx, dw, db, dxBf16|null)
Napi::Value AddLayerNormGrad(const Napi::CallbackInfo& info) {
  const int64_t d = I64(info[4]);
  qaft::AddLayerNormGrad(Ptr<float>(info[0]), Ptr<float>(info[1]), Ptr<float>(info[2]), Ptr<float>(info[3]),
                         static_cast<int64_t>(info[0].As<Napi::Float32Array>().ElementLength()) / d, d,
                         Ptr<float>(info[5]), Ptr<float>(info[6]), Ptr<float>(info[7]), MutOrNull<uint16_t>(info[8]));
  return info.Env().Undefined();
}

// maskedScale(x, mask, out, scale)
Napi::Value MaskedScale(const Napi::CallbackInfo& info) {
  qaft::MaskedScale(Ptr<float>(info[0]), Ptr<uint8_t>(info[1]), Ptr<float>(info[2]),
                    info[0].As<Napi::Float32Array>().ElementLength(), static_cast<float>(F64(info[3])));
  return info.Env().Undefined();
}

// attentionProbs(scores, maskBias|null, probs, y|null, mask|null, batch, heads, tq, tk, maskRows, rate, seed, scale,
//                bf16|null)
Napi::Value AttentionProbs(const Napi::CallbackInfo& info) {
  qaft::AttentionProbs(Ptr<float>(info[0]), PtrOrNull<float>(info[1]), Ptr<float>(info[2]),
                       info[3].IsTypedArray() ? Ptr<float>(info[3]) : nullptr,
                       info[4].IsTypedArray() ? Ptr<uint8_t>(info[4]) : nullptr, I64(info[5]), I64(info[6]),
                       I64(info[7]), I64(info[8]), I64(info[9]), F64(info[10]), static_cast<uint64_t>(F64(info[11])),
                       static_cast<float>(F64(info[12])), MutOrNull<uint16_t>(info[13]));
  return info.Env().Undefined();
}

// attentionProbsGrad(dw, probs, mask|null, ds|null, rows, tk, scale, bf16|null)
Napi::Value AttentionProbsGrad(const Napi::CallbackInfo& info) {
  qaft::AttentionProbsGrad(Ptr<float>(info[0]), Ptr<float>(info[1]), PtrOrNull<uint8_t>(info[2]),
                           MutOrNull<float>(info[3]), I64(info[4]), I64(info[5]), static_cast<float>(F64(info[6])),
                           MutOrNull<uint16_t>(info[7]));
  return info.Env().Undefined();
}

// adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale)
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  qaft::AdamW(Ptr<float>(info[0]), Ptr<float>(info[1]), Ptr<float>(info[2]), Ptr<float>(info[3]),
              info[0].As<Napi::Float32Array>().ElementLength(), F64(info[4]), F64(info[5]), F64(info[6]), F64(info[7]),
              F64(info[8]), I64(info[9]), F64(info[10]));
  return info.Env().Undefined();
}

Napi::Value SumOfSquares(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           qaft::SumOfSquares(Ptr<float>(info[0]), info[0].As<Napi::Float32Array>().ElementLength()));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  qaft::SetEngineThreads(I32(info[0]));
  return Napi::Number::New(info.Env(), qaft::NumThreads());
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qaft::NumThreads()); }

Napi::Value ArmStopSignals(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), qaft::ArmStopSignals());
}

Napi::Value DisarmStopSignals(const Napi::CallbackInfo& info) {
  qaft::DisarmStopSignals();
  return info.Env().Undefined();
}

// { unary, binary, reduce, activation }: each kind's { name: code }, from kernels.h's lists (addon.ts checks them).
Napi::Object OpCodes(Napi::Env env) {
  Napi::Object codes = Napi::Object::New(env);
#define QAFT_CODE(id, name) o.Set(name, static_cast<int>(Enum::id));
#define QAFT_KIND(key, EnumType, LIST)       \
  {                                          \
    using Enum = EnumType;                   \
    Napi::Object o = Napi::Object::New(env); \
    LIST(QAFT_CODE)                          \
    codes.Set(key, o);                       \
  }
  QAFT_KIND("unary", qaft::Unary, QAFT_UNARY_OPS)
  QAFT_KIND("binary", qaft::Binary, QAFT_BINARY_OPS)
  QAFT_KIND("reduce", qaft::Reduce, QAFT_REDUCE_OPS)
  QAFT_KIND("activation", qaft::Activation, QAFT_ACTIVATIONS)
#undef QAFT_KIND
#undef QAFT_CODE
  return codes;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opCodes", OpCodes(env));
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("matmulBf16", Napi::Function::New(env, MatMulBf16));
  exports.Set("matmulBf16Ready", Napi::Function::New(env, MatMulBf16Ready));
  exports.Set("toBf16", Napi::Function::New(env, ToBf16));
  exports.Set("bf16Support", Napi::Function::New(env, Bf16Support));
  exports.Set("bf16Impl", Napi::Function::New(env, Bf16Impl));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("reduceMiddle", Napi::Function::New(env, ReduceMiddle));
  exports.Set("fill", Napi::Function::New(env, Fill));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("gather", Napi::Function::New(env, Gather));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum));
  exports.Set("select", Napi::Function::New(env, Select));
  exports.Set("tile", Napi::Function::New(env, Tile));
  exports.Set("dropout", Napi::Function::New(env, Dropout));
  exports.Set("maskedScale", Napi::Function::New(env, MaskedScale));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("attentionProbs", Napi::Function::New(env, AttentionProbs));
  exports.Set("attentionProbsGrad", Napi::Function::New(env, AttentionProbsGrad));
  exports.Set("addLayerNorm", Napi::Function::New(env, AddLayerNorm));
  exports.Set("addLayerNormGrad", Napi::Function::New(env, AddLayerNormGrad));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("sumOfSquares", Napi::Function::New(env, SumOfSquares));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("armStopSignals", Napi::Function::New(env, ArmStopSignals));
  exports.Set("disarmStopSignals", Napi::Function::New(env, DisarmStopSignals));
  return exports;
}

}  // namespace

NODE_API_MODULE(qaft_native, Init)
