#include "rnnkit/threads.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>

#include "rnnkit/blas.hpp"

namespace rnnkit {
namespace {

std::mutex section_mutex;
int sections_open = 0;     // kernels currently running
int threads_outside = 1;   // the BLAS setting to restore when the last one ends

// Long-lived workers that each run one index of a task per generation. One task at a time: a
// second caller that finds the pool busy runs its task inline instead of waiting.
//
// Waiting spins for a while before it sleeps. On these virtual machines waking an idle vCPU costs
// 15–40 µs, as much as a whole small kernel: measured at (N,T,D,H) = (32,50,1,32), two threads
// took 2.3× as long as one until workers and the caller spun. A training loop calls the kernels
// back to back, so the spin window is usually where the next task arrives.
class WorkerPool {
 public:
  void run(int count, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || count <= 1) {
      for (int i = 0; i < count; ++i) task(i);
      return;
    }
    const int on_workers = std::min(count - 1, start_workers(count - 1));
    // Every started worker takes part in every generation (those beyond `count` do nothing), so
    // none can skip one and later read a newer task's fields for an older generation.
    task_ = &task;
    task_count_ = on_workers + 1;
    remaining_.store(started_, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    task(0);
    for (int i = on_workers + 1; i < count; ++i) task(i);  // workers that could not start
    if (!spin_until([this] { return remaining_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return remaining_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  static constexpr auto spin_window = std::chrono::microseconds(300);

  template <typename Ready>
  static bool spin_until(Ready ready) {
    const auto deadline = std::chrono::steady_clock::now() + spin_window;
    for (int i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) return false;
      pause();
    }
  }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Returns how many workers exist, starting up to `wanted` (the pool never shrinks).
  int start_workers(int wanted) {
    while (started_ < wanted) {
      try {
        // The worker must not miss the task about to be published, so it starts from the
        // generation before it rather than whatever it reads once scheduled.
        std::thread(&WorkerPool::work, this, started_ + 1,
                    generation_.load(std::memory_order_acquire)).detach();
      } catch (const std::system_error&) {
        break;
      }
      ++started_;
    }
    return started_;
  }

  void work(int index, uint64_t seen) {
    for (;;) {
      auto moved = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(moved)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, moved);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (index < task_count_) (*task_)(index);
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::mutex busy_;   // held by the caller whose task the pool runs
  std::mutex mutex_;  // pairs with the condition variables for sleeping waits
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};  // bumped once per task; publishes task_ and task_count_
  std::atomic<int> remaining_{0};        // workers not yet done with the current generation
  const std::function<void(int)>* task_ = nullptr;
  int task_count_ = 0;
  int started_ = 0;  // only touched by the holder of busy_
};

// Never destroyed: detached workers may still be waiting on it while the process exits.
WorkerPool* pool = nullptr;
std::once_flag pool_once;

WorkerPool& worker_pool() {
  std::call_once(pool_once, [] {
    pool = new WorkerPool();
    // A forked child has none of the parent's threads (and maybe a mutex held mid-call): give it
    // a fresh pool, leaking the parent's copy.
    pthread_atfork(nullptr, nullptr, [] { pool = new WorkerPool(); });
  });
  return *pool;
}

}  // namespace

void run_parallel(int count, const std::function<void(int)>& task) {
  worker_pool().run(count, task);
}

int configured_threads() {
  std::lock_guard<std::mutex> lock(section_mutex);
  return sections_open > 0 ? threads_outside : blas::get_num_threads();
}

void set_configured_threads(int n) {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (sections_open > 0) {
    threads_outside = n;  // takes effect when the running kernels finish
  } else {
    blas::set_num_threads(n);
  }
}

SerialBlasSection::SerialBlasSection() {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (sections_open++ == 0) {
    threads_outside = blas::get_num_threads();
    if (threads_outside != 1) blas::set_num_threads(1);
  }
}

SerialBlasSection::~SerialBlasSection() {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (--sections_open == 0 && threads_outside != 1) blas::set_num_threads(threads_outside);
}

}  // namespace rnnkit
