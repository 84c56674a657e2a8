// Data movement and indexing over 4-byte (and, for Tile, 1-byte) elements: Transpose, Gather, its gradient
// UnsortedSegmentSum, and Tile.
#include "kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "parallel.h"

namespace qaft {

void Transpose(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int32_t* perm, uint16_t* bf16) {
  // out's rows [lo, hi) of `len` elements, rounded to bf16 (the bits are float32's)
  auto roundRows = [&](int64_t lo, int64_t hi, int64_t len) {
    if (bf16 != nullptr) ToBf16Block(reinterpret_cast<const float*>(out + lo * len), bf16 + lo * len, (hi - lo) * len);
  };
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
      for (int64_t bi = lo; bi < hi; ++bi) {
        for (int64_t j0 = 0; j0 < C; j0 += kB)
          for (int64_t i = bi * kB; i < std::min(R, bi * kB + kB); ++i)
            for (int64_t j = j0; j < std::min(C, j0 + kB); ++j) out[i * C + j] = x[j * R + i];
        roundRows(bi * kB, std::min(R, bi * kB + kB), C);
      }
    });
    return;
  }
  const int64_t grain = RowGrain(inner);
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
      roundRows(r, r + 1, inner);
    }
  });
}

int64_t Gather(const uint32_t* x, const int32_t* indices, uint32_t* out, int64_t outer, int64_t axisDim, int64_t n,
               int64_t inner) {
  for (int64_t j = 0; j < n; ++j)
    if (indices[j] < 0 || indices[j] >= axisDim) return j;
  const int64_t grain = RowGrain(inner);
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
  ParallelFor(inner, std::max<int64_t>(16, RowGrain(n)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = 0; r < n; ++r) {
      const int32_t s = ids[r];
      if (s < 0 || s >= numSegments) continue;
      const float* src = x + r * inner;
      float* dst = out + static_cast<int64_t>(s) * inner;
      for (int64_t i = lo; i < hi; ++i) dst[i] += src[i];
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
  const int64_t grain = RowGrain(innerOut);
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

}  // namespace qaft
