// The persistent worker pool behind RunParallel (parallel.h). Workers and the caller spin for a short while
// (kSpin) before sleeping on a condition variable: on this project's VMs a futex wake-up costs ~100 µs, more than
// spawning a thread, while a step's kernels come back to back; a longer spin would steal a core from OpenBLAS's
// own threads during the matmuls.
#include "parallel.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qaft {

namespace {

constexpr auto kSpin = std::chrono::microseconds(50);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until done() or kSpin has passed; whether done() held.
template <typename Done>
bool SpinUntil(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
  }
}

class Pool {
 public:
  explicit Pool(int workers) {
    for (int id = 1; id <= workers; ++id) threads_.emplace_back([this, id] { Work(id); });
  }

  int Workers() const { return static_cast<int>(threads_.size()); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // count - 1 <= Workers()
  void Run(int count, const std::function<void(int)>& task) {
    task_ = &task;
    pending_.store(count - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);  // so a worker about to sleep cannot miss the new ticket
      ticket_.store(((ticket_.load() >> 16) + 1) << 16 | static_cast<uint64_t>(count));
    }
    wake_.notify_all();
    task(0);
    if (!SpinUntil([this] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [this] { return pending_.load() == 0; });
    }
  }

 private:
  // Worker `id` runs task(id) once per ticket whose count is above id. Run waits for every such worker before the
  // next ticket, so none can miss a ticket it takes part in, and task_ is that ticket's while they read it; a
  // worker not taking part reads nothing but the ticket (the count travels in it).
  void Work(int id) {
    uint64_t seen = 0;
    for (;;) {
      const auto changed = [&] { return stop_.load() || ticket_.load() != seen; };
      if (!SpinUntil(changed)) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, changed);
      }
      if (stop_.load()) return;
      seen = ticket_.load();
      if (id >= static_cast<int>(seen & 0xffff)) continue;
      (*task_)(id);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // so the caller cannot miss it between its check and its sleep
        done_.notify_one();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* task_ = nullptr;  // written before ticket_ changes
  std::atomic<uint64_t> ticket_{0};                 // a sequence number << 16 | the number of tasks
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

int g_threads = 0;  // 0: the hardware's count
std::atomic<bool> g_busy{false};
// Never destroyed: at process exit the workers may be waiting, and joining them from a static destructor while
// Node tears down is not worth the risk; the OS reclaims them.
Pool* g_pool = nullptr;

}  // namespace

int NumThreads() {
  if (g_threads <= 0) {
    const unsigned hc = std::thread::hardware_concurrency();
    g_threads = hc == 0 ? 1 : static_cast<int>(hc);
  }
  return g_threads;
}

void SetNumThreads(int n) { g_threads = n > 0 ? n : 0; }

void RunParallel(int count, const std::function<void(int)>& task) {
  if (count <= 1 || g_busy.exchange(true)) {
    for (int i = 0; i < count; ++i) task(i);
    return;
  }
  const int workers = std::max(NumThreads(), count) - 1;
  if (g_pool == nullptr || g_pool->Workers() != workers) {
    if (g_pool != nullptr) g_pool->Stop();  // idle: no Run is in progress (g_busy)
    delete g_pool;
    g_pool = new Pool(workers);
  }
  g_pool->Run(count, task);
  g_busy.store(false);
}

}  // namespace qaft
