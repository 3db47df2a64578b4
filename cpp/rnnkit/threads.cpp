#include "rnnkit/threads.hpp"

#include <pthread.h>

#include <algorithm>
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

// Held while rnnkit changes the BLAS's setting (always inside a BlasInUse).
std::mutex blas_setting_mutex;

// The threads inside a BlasInUse, and a fork waiting for them to leave (threads.hpp). Never
// destroyed: threads parked at exit still wait on them, and glibc's condition-variable destructor
// would wait for those waiters, hanging the exit.
std::mutex& gate_mutex = *new std::mutex;
std::condition_variable& gate_changed = *new std::condition_variable;
int threads_inside = 0;
bool fork_waiting = false;
std::atomic<bool> exiting{false};  // the interpreter is exiting: kernels park (park_for_exit)
std::atomic<const void*> exiting_thread{nullptr};  // the thread running the exit: never parks
thread_local int gate_depth = 0;                   // this thread's nested BlasInUse
thread_local const char thread_marker = 0;         // its address tells threads apart

bool parks_here() {
  return exiting.load() && exiting_thread.load() != this_thread_marker();
}

void enter_gate() {
  if (gate_depth++ > 0) return;
  std::unique_lock<std::mutex> lock(gate_mutex);
  // Once exiting, this never returns on a thread other than the exiting one: the thread parks
  // here, outside the BLAS. (A pool worker parked here has claimed no slice: the caller runs
  // them all itself.)
  gate_changed.wait(lock, [] { return !fork_waiting && !parks_here(); });
  ++threads_inside;
}

void leave_gate() {
  if (--gate_depth > 0) return;
  std::lock_guard<std::mutex> lock(gate_mutex);
  if (--threads_inside == 0 && (fork_waiting || exiting.load())) gate_changed.notify_all();
}

// rnnkit's worker count. The BLAS's initial setting (the library is loaded, and has read
// OPENBLAS_NUM_THREADS and friends, before this file's initialisers run).
std::atomic<int> configured{std::max(1, blas::get_num_threads())};

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
  void run(int count, const std::function<void(int)>& task, const std::function<void()>& waiting) {
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
      while (!done_.wait_for(lock, waiting_call_every, all_done)) {
        lock.unlock();
        waiting();
        lock.lock();
      }
    }
  }

 private:
  static constexpr auto spin_window = std::chrono::microseconds(300);
  // While the workers run the last slices, the caller calls `waiting` this often (a kernel's
  // stop poll: the workers may have claimed every slice, leaving the caller no steps to tick).
  static constexpr auto waiting_call_every = std::chrono::milliseconds(10);
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
      BlasInUse blas_in_use;
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

// Never destroyed: detached workers may still be waiting on it while the process exits. Made on
// first use without a lock or a once-flag, which a fork could leave held or "in progress" in the
// child for good; a pool that loses the race was never used and is simply deleted.
std::atomic<WorkerPool*> pool{nullptr};

WorkerPool& worker_pool() {
  WorkerPool* current = pool.load(std::memory_order_acquire);
  if (current != nullptr) return *current;
  auto* fresh = new WorkerPool();
  if (pool.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *current;
}

// fork() copies only the calling thread. A thread of ours inside OpenBLAS may hold one of its
// locks (its memory allocator's: observed, the child's first BLAS call then waited forever), or
// be inside its thread set-up; a worker may own the pool. So the fork waits at the gate until no
// thread of ours is inside a BlasInUse and holds the gate shut across the fork; the child then
// forgets the parent's pool (leaking it: its workers do not exist in the child), so its first
// kernel makes a fresh one, and calls nothing in OpenBLAS: it inherits the BLAS setting (1 once
// any kernel has run; keep_blas_serial checks it on the next kernel) and the configured count.
// The wait is short: kernels never wait on the forking thread inside the gate (a kernel's stop
// poll, which may take the GIL, steps out first: StopRequest::poll).
void before_fork() {
  std::unique_lock<std::mutex> lock(gate_mutex);
  fork_waiting = true;
  gate_changed.wait(lock, [] { return threads_inside == 0; });
  lock.release();  // held across the fork
}
void after_fork_in_parent() {
  fork_waiting = false;
  gate_mutex.unlock();
  gate_changed.notify_all();
}
void after_fork_in_child() {
  pool.store(nullptr, std::memory_order_relaxed);
  fork_waiting = false;
  threads_inside = 0;
  gate_depth = 0;
  // No thread waits on it in the child; a fresh one forgets the vanished waiters.
  new (&gate_changed) std::condition_variable();
  gate_mutex.unlock();  // this thread locked it in before_fork
}

const bool fork_handlers_registered = [] {
  return pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) == 0;
}();

}  // namespace

void run_parallel(int count, const std::function<void(int)>& task,
                  const std::function<void()>& waiting) {
  worker_pool().run(count, task, waiting);
}

int configured_threads() {
  return configured.load(std::memory_order_relaxed);
}

void set_configured_threads(int n) {
  configured.store(std::max(1, n), std::memory_order_relaxed);
}

const void* this_thread_marker() {
  return &thread_marker;
}

void park_kernels_for_exit(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(gate_mutex);
  exiting_thread.store(this_thread_marker());
  exiting.store(true);
  gate_changed.wait_for(lock, timeout, [] { return threads_inside == 0; });
}

void park_if_exiting(const void* caller) {
  if (!exiting.load(std::memory_order_relaxed) || caller == exiting_thread.load()) return;
  gate_depth = 1;
  leave_gate();
  enter_gate();  // parks for good (this thread is not the exiting one: that one runs no kernel
                 // of another caller, and its own kernels' callers are itself)
}

BlasInUse::BlasInUse() {
  enter_gate();
}
BlasInUse::~BlasInUse() {
  leave_gate();
}

BlasPause::BlasPause() : depth_(gate_depth) {
  if (depth_ == 0) return;
  gate_depth = 1;
  leave_gate();
}
BlasPause::~BlasPause() {
  if (depth_ == 0) return;
  enter_gate();
  gate_depth = depth_;
}

void keep_blas_serial() {
  if (blas::get_num_threads() == 1) return;  // a plain read of OpenBLAS's global: no lock
  std::lock_guard<std::mutex> lock(blas_setting_mutex);
  if (blas::get_num_threads() != 1) blas::set_num_threads(1);
}

}  // namespace rnnkit
