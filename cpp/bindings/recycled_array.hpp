// NumPy outputs of the kernels whose memory comes from the recycled store
// (rnnkit/recycled_memory.hpp) and goes back to it when NumPy frees the array: the sequence-long
// outputs are the largest buffers of a training step, and fresh ones page-fault on first touch.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <vector>

#include "bindings/checks.hpp"
#include "rnnkit/recycled_memory.hpp"

namespace rnnkit::bindings {

// An uninitialised C-contiguous array of `shape`, like Array<T>(shape).
template <typename T>
Array<T> recycled_array(const std::vector<py::ssize_t>& shape) {
  const py::ssize_t count =
      std::accumulate(shape.begin(), shape.end(), py::ssize_t{1}, std::multiplies<>());
  void* block =
      acquire_memory(static_cast<std::size_t>(std::max<py::ssize_t>(count, 1)) * sizeof(T));
  const py::capsule owner(block, [](void* memory) { release_memory(memory); });
  return Array<T>(shape, static_cast<T*>(block), owner);
}

}  // namespace rnnkit::bindings
