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
#include <vector>

#include "rnnkit/engine/sequence.hpp"

namespace rnnkit::bindings {

namespace py = pybind11;

// Exact dtype, C-contiguous: arguments are marked noconvert, so nothing is copied silently here.
template <typename T>
using Array = py::array_t<T, py::array::c_style>;
using IndexArray = py::array_t<int64_t, py::array::c_style>;
using MaskArray = py::array_t<uint8_t, py::array::c_style>;

inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// A C-contiguous array can still sit off its dtype's alignment (a view at a byte offset): the
// kernels' loads from it would be undefined behaviour. rnnkit.ops copies such arrays; direct
// callers of _core get this error.
inline void expect_aligned(const py::array& a, const std::string& name) {
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw py::type_error(name +
                         " must be aligned for its dtype (numpy.require(a, requirements='CA') "
                         "makes an aligned copy)");
  }
}

// Checks alignment too: every array argument passes through here.
inline void expect_shape(const py::array& a, const std::string& name, const char* legend,
                         std::initializer_list<py::ssize_t> dims) {
  expect_aligned(a, name);
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
// allocating, naming the product that is out of range. `widths` are the row widths of the
// per-step arrays the call allocates or reads.
template <typename T>
void check_sizes(const engine::SequenceShape& s, std::initializer_list<int64_t> widths,
                 int64_t gate_columns) {
  auto refuse = [](const std::string& product, int64_t value) {
    throw py::value_error(product + " = " + std::to_string(value) +
                          " must stay below 2**31 (the BLAS index range)");
  };
  const int64_t weights = static_cast<int64_t>(s.H) * gate_columns;
  if (weights > INT_MAX) refuse("H·(gate columns), the size of Wh,", weights);
  int64_t widest = 0;
  for (int64_t w : widths) widest = std::max(widest, w);
  const double elements = static_cast<double>(s.N) * s.T * static_cast<double>(widest);
  if (elements * sizeof(T) > static_cast<double>(PTRDIFF_MAX) / 4) {
    raise_memory_error("arrays of shape (" + std::to_string(s.N) + ", " + std::to_string(s.T) +
                       ", " + std::to_string(widest) + ") are too large to allocate");
  }
  const int64_t rows = static_cast<int64_t>(s.N) * s.T;
  if (rows > INT_MAX) refuse("N·T", rows);
  const int64_t stride = static_cast<int64_t>(s.T) * widest;
  if (stride > INT_MAX) {
    refuse("T·(widest per-step row, " + std::to_string(widest) + "), a leading dimension,", stride);
  }
}

// The lengths, checked and copied while the GIL is held (empty when there are none): they bound
// the kernel's reads, and once the GIL is released another Python thread could change the
// caller's array.
inline std::vector<int64_t> copy_lengths(const std::optional<IndexArray>& lengths,
                                         const engine::SequenceShape& s) {
  if (!lengths) return {};
  expect_shape(*lengths, "lengths", "(N,)", {s.N});
  std::vector<int64_t> copy(lengths->data(), lengths->data() + s.N);
  for (int n = 0; n < s.N; ++n) {
    if (copy[n] < 0 || copy[n] > s.T) {
      throw py::value_error("lengths must lie in [0, T=" + std::to_string(s.T) + "], got " +
                            std::to_string(copy[n]) + " at index " + std::to_string(n));
    }
  }
  return copy;
}

}  // namespace rnnkit::bindings
