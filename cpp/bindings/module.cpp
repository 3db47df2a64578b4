// The rnnkit._core module: one registration line per cell, plus threads and build information.
// rnnkit.ops validates and converts arguments before calling these.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <Eigen/Core>
#include <chrono>
#include <string>

#include "bindings/checks.hpp"
#include "bindings/layer_math.hpp"
#include "bindings/recurrent.hpp"
#include "rnnkit/activations.hpp"
#include "rnnkit/blas.hpp"
#include "rnnkit/cells/gru.hpp"
#include "rnnkit/cells/gru_reset_before.hpp"
#include "rnnkit/cells/layer_norm_rnn.hpp"
#include "rnnkit/cells/lstm.hpp"
#include "rnnkit/cells/vanilla.hpp"
#include "rnnkit/packed_product.hpp"
#include "rnnkit/threads.hpp"

namespace py = pybind11;
using rnnkit::bindings::Array;

// For threadpoolctl, which reads and sets a library's thread count through C symbols it finds in
// the loaded library (rnnkit's controller: python/rnnkit/threads.py). Exported despite pybind11's
// hidden default visibility.
extern "C" {
__attribute__((visibility("default"))) int rnnkit_get_num_threads() {
  return rnnkit::configured_threads();
}
__attribute__((visibility("default"))) void rnnkit_set_num_threads(int n) {
  rnnkit::set_configured_threads(n);
}
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "rnnkit's C++ kernels. Use rnnkit.ops, which validates and converts arguments.";
  rnnkit::bindings::bind_cell<rnnkit::cells::Vanilla>(m);
  rnnkit::bindings::bind_cell<rnnkit::cells::Lstm>(m);
  rnnkit::bindings::bind_cell<rnnkit::cells::Gru>(m);
  rnnkit::bindings::bind_cell<rnnkit::cells::GruResetBefore>(m);
  rnnkit::bindings::bind_cell<rnnkit::cells::LayerNormRnn>(m);
  rnnkit::bindings::bind_dense(m);
  rnnkit::bindings::bind_cross_entropy(m);
  rnnkit::bindings::bind_optimizer_updates(m);
  rnnkit::bindings::bind_embedding(m);

  m.def(
      "fast_tanh",
      [](Array<float>& v) {
        rnnkit::bindings::expect_aligned(v, "values");
        float* data = v.mutable_data();
        const auto n = static_cast<std::size_t>(v.size());
        py::gil_scoped_release release;
        rnnkit::fast_tanh(data, n);
      },
      py::arg("values").noconvert(),
      "In-place float32 tanh as the kernels compute it (for tests).");
  m.def("get_num_threads", &rnnkit::configured_threads,
        "Threads the kernels may use (their BLAS calls run single-threaded).");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1) throw py::value_error("num_threads must be a positive int");
        rnnkit::set_configured_threads(n);
      },
      py::arg("n"));
  m.def(
      "park_kernels_for_exit",
      []() {
        py::gil_scoped_release release;
        rnnkit::park_kernels_for_exit(std::chrono::seconds(2));
      },
      "At interpreter exit: stop running kernels (their threads park) and refuse new ones.");
  m.def("build_info", []() {
    py::dict info;
    info["blas_config"] = std::string(rnnkit::blas::config());
    info["blas_core"] = std::string(rnnkit::blas::core_name());
    info["packed_kernel"] = std::string(rnnkit::packed_kernel_name(rnnkit::packed_kernel()));
    info["eigen_version"] = std::to_string(EIGEN_WORLD_VERSION) + "." +
                            std::to_string(EIGEN_MAJOR_VERSION) + "." +
                            std::to_string(EIGEN_MINOR_VERSION);
#ifdef RNNKIT_NATIVE_BUILD
    info["native"] = true;
#else
    info["native"] = false;
#endif
    info["compiler"] = std::string(__VERSION__);
#if defined(__SANITIZE_ADDRESS__)
    info["sanitized"] = true;  // AddressSanitizer: rnnkit's buffers are not recycled
#else
    info["sanitized"] = false;
#endif
    return info;
  });
}
