#include "rnnkit/threads.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#include "rnnkit/blas.hpp"

namespace rnnkit {
namespace {

std::mutex section_mutex;
int sections_open = 0;    // kernels currently running
int threads_outside = 1;  // the BLAS setting to restore when the last one ends

// Long-lived workers that claim the slices of one task at a time. The caller claims slices too,
// so a worker the OS does not schedule (a busy machine) costs at most its share of the work, not
// a wait: whoever gets there first runs a slice, and results never depend on who ran what. A
// second caller that finds the pool busy runs its task inline.
//
// Waiting spins for a while before it sleeps. On these virtual machines waking an idle vCPU costs
// 15–40 µs, as much as a whole small kernel: measured at (N,T,D,H) = (32,50,1,32), two threads
// took 2.3× as long as one until workers and the caller spun. A training loop calls the kernels
// back to back, so the spin window is usually where the next task arrives.
class WorkerPool {
 public:
  void run(int count, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || count <= 1 || count > max_slices) {
      for (int i = 0; i < count; ++i) task(i);
      return;
    }
    start_workers(count - 1);
    const uint64_t generation = ++generation_;  // only the holder of busy_ writes it
    task_ = &task;
    completed_.store(0, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ticket_.store(pack(generation, count, 0), std::memory_order_release);
    }
    wake_.notify_all();
    run_slices(generation);
    auto all_done = [&] { return completed_.load(std::memory_order_acquire) == count; };
    if (!spin_until(all_done)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, all_done);
    }
  }

 private:
  static constexpr auto spin_window = std::chrono::microseconds(300);
  static constexpr int max_slices = 0xFFFF;

  // One atomic word says which task is current, how many slices it has and the next unclaimed
  // one, so a claim can never take a slice of a task other than the one it read.
  static uint64_t pack(uint64_t generation, int count, int next) {
    return (generation << 32) | (static_cast<uint64_t>(count) << 16) | static_cast<uint64_t>(next);
  }
  static uint64_t generation_of(uint64_t t) { return t >> 32; }
  static int count_of(uint64_t t) { return static_cast<int>((t >> 16) & 0xFFFF); }
  static int next_of(uint64_t t) { return static_cast<int>(t & 0xFFFF); }

  // Claims and runs slices of `generation` until none is left.
  void run_slices(uint64_t generation) {
    for (;;) {
      uint64_t t = ticket_.load(std::memory_order_acquire);
      int index;
      do {
        if (generation_of(t) != (generation & 0xFFFFFFFFu) || next_of(t) >= count_of(t)) return;
        index = next_of(t);
      } while (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                              std::memory_order_acquire));
      // A claimed slice keeps its task alive: the caller waits for every slice to complete.
      (*task_)(index);
      if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_of(t)) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
    }
  }

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

  // Starts workers up to `wanted` (the pool never shrinks); fewer if threads cannot be had, in
  // which case the caller simply claims more of the slices.
  void start_workers(int wanted) {
    while (started_ < wanted) {
      try {
        std::thread(&WorkerPool::work, this, ticket_.load(std::memory_order_acquire)).detach();
      } catch (const std::system_error&) {
        return;
      }
      ++started_;
    }
  }

  void work(uint64_t seen) {
    for (;;) {
      auto moved = [&] {
        return generation_of(ticket_.load(std::memory_order_acquire)) != generation_of(seen);
      };
      if (!spin_until(moved)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, moved);
      }
      seen = ticket_.load(std::memory_order_acquire);
      run_slices(generation_of(seen));
    }
  }

  std::mutex busy_;   // held by the caller whose task the pool runs
  std::mutex mutex_;  // pairs with the condition variables for sleeping waits
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> ticket_{0};  // generation (32 bits) | slice count | next slice
  std::atomic<int> completed_{0};    // slices of the current task finished
  const std::function<void(int)>* task_ = nullptr;
  uint64_t generation_ = 0;  // only touched by the holder of busy_
  int started_ = 0;          // only touched by the holder of busy_
};

// Never destroyed: detached workers may still be waiting on it while the process exits.
WorkerPool* pool = nullptr;
std::once_flag pool_once;

WorkerPool& worker_pool() {
  std::call_once(pool_once, [] { pool = new WorkerPool(); });
  return *pool;
}

// A forked child has none of the parent's threads, and a mutex may have been held mid-call by one
// of them: give it a fresh pool (leaking the parent's copy) and forget kernels that were running
// in other threads of the parent, restoring the BLAS setting they had lowered.
void reset_after_fork() {
  if (pool != nullptr) pool = new WorkerPool();
  new (&section_mutex) std::mutex();  // its holder, if any, does not exist in the child
  if (sections_open > 0 && threads_outside != 1) blas::set_num_threads(threads_outside);
  sections_open = 0;
}

const bool fork_handler_registered = [] {
  return pthread_atfork(nullptr, nullptr, reset_after_fork) == 0;
}();

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
