// Running a kernel without the GIL while letting Ctrl-C stop it (rnnkit/interrupt.hpp): the poll
// takes the GIL now and then on the calling thread and runs Python's signal handlers there; the
// exception a handler raises (KeyboardInterrupt) is raised once the kernel has unwound.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>

#include "rnnkit/interrupt.hpp"

namespace rnnkit::bindings {

namespace py = pybind11;

class SignalPoll {
 public:
  SignalPoll() : previous_(exchange_stop_poll({&SignalPoll::should_stop, this})) {}
  ~SignalPoll() { exchange_stop_poll(previous_); }
  SignalPoll(const SignalPoll&) = delete;
  SignalPoll& operator=(const SignalPoll&) = delete;

  // With the GIL held: the handler's exception.
  [[noreturn]] void raise() {
    if (error_) throw *error_;
    throw py::error_already_set();  // not reached: the kernel stops only when a handler raised
  }

 private:
  static bool should_stop(void* self) {
    // A daemon thread that takes the GIL while Python finalizes is ended by pthread_exit right
    // there, inside the kernel; not asking then avoids that (a kernel still finishes or the
    // process ends around it).
    if (finalizing()) return false;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;       // also 0 on threads other than the main one
    static_cast<SignalPoll*>(self)->error_.emplace();  // takes the pending exception
    return true;
  }

  static bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
  }

  StopPoll previous_;
  std::optional<py::error_already_set> error_;
};

// Calls kernel() with the GIL released; call with the GIL held. The GIL is taken back by plain
// calls, not by a destructor: a daemon thread whose kernel returns while Python finalizes is
// ended there by pthread_exit, and that unwinding must not pass through a destructor (it would
// call std::terminate and abort the process at exit).
template <typename Kernel>
void run_interruptible(Kernel&& kernel) {
  SignalPoll poll;
  PyThreadState* state = PyEval_SaveThread();
  try {
    kernel();
  } catch (const Interrupted&) {
    PyEval_RestoreThread(state);
    poll.raise();
  } catch (...) {
    PyEval_RestoreThread(state);
    throw;
  }
  PyEval_RestoreThread(state);
}

}  // namespace rnnkit::bindings
