// Splitting a batch across our own threads. The BLAS runs single-threaded, so there is one pool
// of threads and never two fighting over the cores (docs/performance.md, "Threads").
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

namespace rnnkit {

// The number of workers a kernel may use: rnnkit's own setting, set by rnnkit.set_num_threads
// and by threadpoolctl (through rnnkit's controller, python/rnnkit/threads.py). It starts as the
// BLAS's initial setting, so OPENBLAS_NUM_THREADS and friends are honoured. Kernels only read it.
int configured_threads();
void set_configured_threads(int n);

// Makes the BLAS single-threaded if it is not already; every kernel calls this first. Our per-step
// calls are far too small for OpenBLAS's pool (which pays only from ~8 MFLOP a call and collapses
// under load), and batch-split workers must not each wake it. scipy-openblas32 has no thread-local
// setting, so this sets the process-wide one, and it is never raised again: restoring a value
// after each kernel raced with threadpoolctl reading and writing the same setting from other
// threads (a limit could be overwritten, or read while lowered and then restored as 1 for good).
// The parallelism is ours (the batch split), so one BLAS thread costs rnnkit nothing.
void keep_blas_serial();

// While alive, fork() waits: a child must not inherit a lock that one of our threads holds inside
// OpenBLAS. Every kernel holds one on its calling thread, and pool workers one per task, so no
// thread of ours is inside the BLAS when a process forks (threads.cpp, the fork handlers).
// Nested uses on one thread count once.
class BlasInUse {
 public:
  BlasInUse();
  ~BlasInUse();
  BlasInUse(const BlasInUse&) = delete;
  BlasInUse& operator=(const BlasInUse&) = delete;
};

// Steps this thread out of its BlasInUse for a while, for a wait that may depend on a forking
// thread (such as taking the GIL, which Python holds across fork()). No BLAS calls meanwhile.
class BlasPause {
 public:
  BlasPause();
  ~BlasPause();
  BlasPause(const BlasPause&) = delete;
  BlasPause& operator=(const BlasPause&) = delete;

 private:
  int depth_;
};

// For the interpreter's exit, called on the thread that runs it: from now on, kernels of other
// callers stop at their next step check and park their threads for good, outside the BLAS, and
// other threads' new kernels park on entry; returns once no thread of ours is inside the BLAS
// (or after `timeout`). Python runs this at exit (atexit: after non-daemon threads were joined,
// before the libraries' destructors), so the threads parked are daemon threads: one still
// computing in OpenBLAS while its destructor freed the buffers made it print "BLAS : Bad memory
// unallocation!" (and could have read freed memory). Kernels the exiting thread itself still
// runs (later atexit handlers, finalizers) run normally, on that thread alone.
void park_kernels_for_exit(std::chrono::milliseconds timeout);
// Called at the step checks of a kernel whose caller is `caller` (StepTicker): parks this thread
// if exiting and the caller is not the exiting thread.
void park_if_exiting(const void* caller);
// Identifies the calling thread (the address of a thread_local).
const void* this_thread_marker();

struct Slice {
  int index;  // which worker, 0 is the calling thread
  int begin;  // first batch row
  int end;    // one past the last batch row
};

// How many workers to use for `rows` independent sequences costing `flops` in all.
inline int choose_workers(int rows, double flops) {
  // Below this much work per worker, starting a thread (~20 µs) costs more than a core gains.
  constexpr double min_flops_per_worker = 4.0e5;
  // Clamped before the cast: past INT_MAX the conversion is undefined behaviour.
  const double wanted = std::min(flops / min_flops_per_worker, static_cast<double>(INT_MAX));
  const int by_work = std::max(1, static_cast<int>(wanted));
  return std::max(1, std::min({configured_threads(), by_work, rows}));
}

// Runs task(i) for every i in [0, count), i = 0 on the calling thread and the others on a pool of
// long-lived workers (starting a thread per call cost ~20 µs, as much as a small kernel's work).
// If the pool is busy with another caller's kernel, or a worker cannot be started, the calling
// thread runs those indices itself: results never depend on which thread ran what.
// While the caller waits for workers to finish, it calls waiting() every few milliseconds.
void run_parallel(int count, const std::function<void(int)>& task,
                  const std::function<void()>& waiting);

// Calls fn(Slice) for `workers` near-equal slices of [0, rows). Exceptions from any slice are
// rethrown in the caller once all have finished. waiting(): as for run_parallel.
template <typename Fn>
void for_each_slice(int rows, int workers, Fn&& fn, const std::function<void()>& waiting) {
  std::vector<std::exception_ptr> errors(workers);
  run_parallel(
      workers,
      [&](int index) {
        try {
          const int64_t begin = static_cast<int64_t>(rows) * index / workers;
          const int64_t end = static_cast<int64_t>(rows) * (index + 1) / workers;
          fn(Slice{index, static_cast<int>(begin), static_cast<int>(end)});
        } catch (...) {
          errors[index] = std::current_exception();
        }
      },
      waiting);
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace rnnkit
