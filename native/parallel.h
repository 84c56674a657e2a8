// A tiny fork-join parallel-for over a persistent pool of std::threads (native/parallel.cc). Hand-written because
// OpenMP is not available with Apple clang. The pool's workers wait between calls: spawning a thread per call cost
// ~80 µs here, which a small model's step pays hundreds of times.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace qaft {

// Threads the pool's kernels run on: set by SetNumThreads (n <= 0: the hardware's count), the hardware's count by
// default.
int NumThreads();
void SetNumThreads(int n);

// Elements of work per thread below which threading does not pay: every kernel's grain derives from it.
constexpr int64_t kGrain = int64_t{1} << 15;

// The grain, in rows, for rows of `rowLen` elements: a kGrain's worth of elements, at least one row.
inline int64_t RowGrain(int64_t rowLen) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, rowLen)); }

// Runs task(i) for i in [0, count) on the calling thread (i = 0) and count - 1 pool workers, and returns when all
// have finished. A call made while another is running (from inside a task) runs its tasks one after another on
// the calling thread.
void RunParallel(int count, const std::function<void(int)>& task);

// Calls fn(begin, end) over [0, n) split into at most NumThreads() contiguous chunks of at least `grain` items.
template <typename Fn>
void ParallelFor(int64_t n, int64_t grain, Fn fn) {
  if (n <= 0) return;
  const int64_t threads = std::min<int64_t>(NumThreads(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t chunk = (n + threads - 1) / threads;
  RunParallel(static_cast<int>(threads), [&](int t) {
    const int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace qaft
