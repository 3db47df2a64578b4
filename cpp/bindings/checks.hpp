// Argument checks of the bindings, raised as Python exceptions while the GIL is held. rnnkit.ops
// checks first with friendlier messages; these are the safety net for direct callers of _core,
// so a bad call raises instead of crashing.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "rnnkit/engine/sequence.hpp"

namespace rnnkit::bindings {

namespace py = pybind11;

// Exact dtype, C-contiguous: arguments are marked noconvert, so nothing is copied silently here.
template <typename T>
using Array = py::array_t<T, py::array::c_style>;
using IndexArray = py::array_t<int64_t, py::array::c_style>;

inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline void expect_shape(const py::array& a, const std::string& name, const char* legend,
                         std::initializer_list<py::ssize_t> dims) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(dims.size());
  py::ssize_t i = 0;
  for (py::ssize_t d : dims) {
    if (!ok) break;
    ok = a.shape(i++) == d;
  }
  if (!ok) throw py::value_error(name + " must have shape " + legend + ", got " + shape_of(a));
}

[[noreturn]] inline void raise_memory_error(const std::string& message) {
  PyErr_SetString(PyExc_MemoryError, message.c_str());
  throw py::error_already_set();
}

// The BLAS takes 32-bit sizes and every (N,T,·) buffer must be addressable: refuse before
// allocating. `widths` are the row widths of the per-step arrays the call allocates or reads.
template <typename T>
void check_sizes(const engine::SequenceShape& s, std::initializer_list<int64_t> widths,
                 int64_t gate_columns) {
  int64_t widest = 0;
  for (int64_t w : widths) widest = std::max(widest, w);
  const double elements = static_cast<double>(s.N) * s.T * static_cast<double>(widest);
  if (elements * sizeof(T) > static_cast<double>(PTRDIFF_MAX) / 4) {
    raise_memory_error("arrays of shape (" + std::to_string(s.N) + ", " + std::to_string(s.T) +
                       ", " + std::to_string(widest) + ") are too large to allocate");
  }
  const int64_t rows = static_cast<int64_t>(s.N) * s.T;
  if (rows > INT_MAX) {
    throw py::value_error("N·T = " + std::to_string(rows) +
                          " must stay below 2**31 (the BLAS index range)");
  }
  if (static_cast<int64_t>(s.T) * widest > INT_MAX) {
    throw py::value_error("T·(widest row, " + std::to_string(widest) +
                          ") = " + std::to_string(static_cast<int64_t>(s.T) * widest) +
                          " must stay below 2**31 (the BLAS index range)");
  }
  if (static_cast<int64_t>(s.H) * gate_columns > INT_MAX) {
    throw py::value_error("the recurrent weights hold H·(gate columns) = " +
                          std::to_string(static_cast<int64_t>(s.H) * gate_columns) +
                          " elements, which must stay below 2**31 (the BLAS index range)");
  }
}

inline void check_lengths(const std::optional<IndexArray>& lengths,
                          const engine::SequenceShape& s) {
  if (!lengths) return;
  expect_shape(*lengths, "lengths", "(N,)", {s.N});
  const int64_t* v = lengths->data();
  for (int n = 0; n < s.N; ++n) {
    if (v[n] < 0 || v[n] > s.T) {
      throw py::value_error("lengths must lie in [0, T=" + std::to_string(s.T) + "], got " +
                            std::to_string(v[n]) + " at index " + std::to_string(n));
    }
  }
}

}  // namespace rnnkit::bindings
