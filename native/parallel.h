// A tiny fork-join parallel-for over std::thread. Hand-written because OpenMP is not available with Apple clang
// and the kernels here are coarse (milliseconds each), so spawning threads per call costs little.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace qaft {

int NumThreads();
void SetNumThreads(int n);

// Calls fn(begin, end) over [0, n) split into at most NumThreads() contiguous chunks of at least `grain` items.
template <typename Fn>
void ParallelFor(int64_t n, int64_t grain, Fn fn) {
  if (n <= 0) return;
  int64_t threads = std::min<int64_t>(NumThreads(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  int64_t chunk = (n + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([=]() { fn(b, e); });
  }
  fn(int64_t{0}, std::min(n, chunk));
  for (auto& th : pool) th.join();
}

}  // namespace qaft
