// Splitting a batch across our own threads. The BLAS runs single-threaded while a kernel runs, so
// there is one pool of threads at a time and never two fighting over the cores
// (docs/performance.md, "Threads").
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

namespace rnnkit {

// The thread count the user configured: the BLAS's own setting (so rnnkit.set_num_threads and
// threadpoolctl limit both), read as it was before any running kernel lowered it to one.
int configured_threads();
void set_configured_threads(int n);

// While alive, the BLAS runs single-threaded. Our per-step calls are far too small for OpenBLAS's
// pool (which pays only from ~8 MFLOP a call and collapses under load), and batch-split workers
// must not each wake it. scipy-openblas32 exports no thread-local setting, so this lowers the
// process-wide one; nested and concurrent kernels share the section and the last restores it.
class SerialBlasSection {
 public:
  SerialBlasSection();
  ~SerialBlasSection();
  SerialBlasSection(const SerialBlasSection&) = delete;
  SerialBlasSection& operator=(const SerialBlasSection&) = delete;
};

struct Slice {
  int index;  // which worker, 0 is the calling thread
  int begin;  // first batch row
  int end;    // one past the last batch row
};

// How many workers to use for `rows` independent sequences costing `flops` in all.
inline int choose_workers(int rows, double flops) {
  // Below this much work per worker, starting a thread (~20 µs) costs more than a core gains.
  constexpr double min_flops_per_worker = 4.0e5;
  const int by_work = std::max(1, static_cast<int>(flops / min_flops_per_worker));
  return std::max(1, std::min({configured_threads(), by_work, rows}));
}

// Runs task(i) for every i in [0, count), i = 0 on the calling thread and the others on a pool of
// long-lived workers (starting a thread per call cost ~20 µs, as much as a small kernel's work).
// If the pool is busy with another caller's kernel, or a worker cannot be started, the calling
// thread runs those indices itself: results never depend on which thread ran what.
void run_parallel(int count, const std::function<void(int)>& task);

// Calls fn(Slice) for `workers` near-equal slices of [0, rows). Exceptions from any slice are
// rethrown in the caller once all have finished.
template <typename Fn>
void for_each_slice(int rows, int workers, Fn&& fn) {
  std::vector<std::exception_ptr> errors(workers);
  run_parallel(workers, [&](int index) {
    try {
      const int64_t begin = static_cast<int64_t>(rows) * index / workers;
      const int64_t end = static_cast<int64_t>(rows) * (index + 1) / workers;
      fn(Slice{index, static_cast<int>(begin), static_cast<int>(end)});
    } catch (...) {
      errors[index] = std::current_exception();
    }
  });
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace rnnkit
