#include "rnnkit/interrupt.hpp"

#include <algorithm>

#include "rnnkit/threads.hpp"

namespace rnnkit {
namespace {

thread_local StopPoll thread_poll;

}  // namespace

StopPoll exchange_stop_poll(StopPoll poll) {
  const StopPoll previous = thread_poll;
  thread_poll = poll;
  return previous;
}

StopRequest::StopRequest()
    : poll_(thread_poll),
      caller_(this_thread_marker()),
      last_poll_(std::chrono::steady_clock::now()) {}

void StopRequest::poll(std::chrono::steady_clock::time_point now) {
  if (poll_.should_stop == nullptr || caller_ != this_thread_marker() ||
      now - last_poll_ < poll_every) {
    return;
  }
  last_poll_ = now;
  BlasPause pause;  // the poll may wait for the GIL, which a forking thread holds
  if (poll_.should_stop(poll_.context)) stop_.store(true, std::memory_order_relaxed);
}

void StepTicker::check() {
  using std::chrono::milliseconds;
  const auto now = std::chrono::steady_clock::now();
  const auto since = now - last_;
  last_ = now;
  if (since < milliseconds(1)) {
    stride_ = std::min(stride_ * 2, 1 << 16);
  } else if (since > milliseconds(10)) {
    stride_ = std::max(stride_ / 2, 1);
  }
  countdown_ = stride_;
  park_if_exiting(request_.caller());
  request_.poll(now);
  if (request_.requested()) StopRequest::raise();
}

}  // namespace rnnkit
