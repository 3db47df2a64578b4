// Stopping a long kernel call on request (Ctrl-C) without the kernels knowing who asks. The caller
// of a kernel installs a poll for its own thread (the bindings install one that runs Python's
// signal handlers); the kernel's step loops tick a StepTicker, which now and then runs that poll
// on the calling thread and, once it says stop, makes every worker of the call throw Interrupted.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>

namespace rnnkit {

// Thrown out of a kernel whose caller asked it to stop; its outputs are then undefined.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "rnnkit kernel interrupted"; }
};

// A function the calling thread runs every so often during a kernel: true means stop.
struct StopPoll {
  bool (*should_stop)(void* context) = nullptr;
  void* context = nullptr;
};

// Installs `poll` for the calling thread and returns the one it replaces.
StopPoll exchange_stop_poll(StopPoll poll);

// One kernel call's stop flag, made on the calling thread (it captures that thread's poll) and
// shared by the workers of the call.
class StopRequest {
 public:
  StopRequest();
  bool requested() const { return stop_.load(std::memory_order_relaxed); }
  const void* caller() const { return caller_; }
  // Runs the poll if called on the thread that made this request and `poll_every` has passed:
  // from the slices' step checks, and while the calling thread waits for the workers.
  void poll(std::chrono::steady_clock::time_point now);
  [[noreturn]] static void raise() { throw Interrupted(); }

 private:
  static constexpr auto poll_every = std::chrono::milliseconds(50);
  std::atomic<bool> stop_{false};
  StopPoll poll_;
  const void* caller_;  // identifies the calling thread (the address of a thread_local)
  std::chrono::steady_clock::time_point last_poll_;
};

// Counts a slice's time steps and looks at the clock only every `stride_` of them, adapting the
// stride so that a look comes every ~1–10 ms whatever a step costs: reading the clock each step
// would cost ~5% of a small step (T = 1000, H = 32: 60–90 ns a step).
class StepTicker {
 public:
  explicit StepTicker(StopRequest& request) : request_(request) {}
  void tick() {
    if (--countdown_ > 0) return;
    check();
  }

 private:
  void check();
  StopRequest& request_;
  int stride_ = 1;
  int countdown_ = 1;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace rnnkit
