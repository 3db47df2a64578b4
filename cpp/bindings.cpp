// The rnnkit._core module: shape and size checks while holding the GIL, then the kernels without
// it. No maths here. rnnkit.ops validates and converts first with friendlier messages; these
// checks are the safety net for direct callers, so a bad call raises instead of crashing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>

#include "rnnkit/activations.hpp"
#include "rnnkit/blas.hpp"
#include "rnnkit/rnn.hpp"
#include "rnnkit/threads.hpp"

namespace py = pybind11;
using namespace rnnkit;

namespace {

// Exact dtype, C-contiguous: arguments are marked noconvert, so nothing is copied silently here.
template <typename T>
using Array = py::array_t<T, py::array::c_style>;
using IndexArray = py::array_t<int64_t, py::array::c_style>;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  return s + (a.ndim() == 1 ? ",)" : ")");
}

void expect_shape(const py::array& a, const char* name, const char* legend,
                  std::initializer_list<py::ssize_t> dims) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(dims.size());
  py::ssize_t i = 0;
  for (py::ssize_t d : dims) {
    if (!ok) break;
    ok = a.shape(i++) == d;
  }
  if (!ok) {
    throw py::value_error(std::string(name) + " must have shape " + legend + ", got " +
                          shape_of(a));
  }
}

[[noreturn]] void raise_memory_error(const std::string& message) {
  PyErr_SetString(PyExc_MemoryError, message.c_str());
  throw py::error_already_set();
}

// The BLAS takes 32-bit sizes and an (N,T,H) buffer must be addressable: refuse before allocating.
template <typename T>
void check_sizes(const RnnShape& s) {
  const double elements = static_cast<double>(s.N) * s.T * std::max(s.D, s.H);
  if (elements * sizeof(T) > static_cast<double>(PTRDIFF_MAX) / 4) {
    raise_memory_error("rnn: arrays of shape (" + std::to_string(s.N) + ", " +
                       std::to_string(s.T) + ", " + std::to_string(std::max(s.D, s.H)) +
                       ") are too large to allocate");
  }
  const int64_t rows = static_cast<int64_t>(s.N) * s.T;
  const int64_t row_stride = static_cast<int64_t>(s.T) * std::max(s.D, s.H);
  if (rows > INT_MAX || row_stride > INT_MAX || static_cast<int64_t>(s.H) * s.H > INT_MAX) {
    throw py::value_error("rnn: N·T and T·max(D, H) must stay below 2**31 (the BLAS index range)");
  }
}

void check_lengths(const std::optional<IndexArray>& lengths, const RnnShape& s) {
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

template <typename T>
RnnShape shape_from(const Array<T>& x, const Array<T>& Wx) {
  if (x.ndim() != 3) throw py::value_error("x must have shape (N, T, D), got " + shape_of(x));
  if (Wx.ndim() != 2) throw py::value_error("Wx must have shape (D, H), got " + shape_of(Wx));
  const py::ssize_t limit = INT_MAX;
  if (x.shape(0) > limit || x.shape(1) > limit || x.shape(2) > limit || Wx.shape(1) > limit) {
    throw py::value_error("rnn: every dimension must stay below 2**31");
  }
  RnnShape s{static_cast<int>(x.shape(0)), static_cast<int>(x.shape(1)),
             static_cast<int>(x.shape(2)), static_cast<int>(Wx.shape(1))};
  expect_shape(Wx, "Wx", "(D, H) with D = x.shape[2]", {s.D, s.H});
  return s;
}

template <typename T>
py::tuple forward(const Array<T>& x, const Array<T>& Wx, const Array<T>& Wh, const Array<T>& b,
                  const std::optional<Array<T>>& h0, const std::optional<IndexArray>& lengths,
                  const std::string& activation) {
  const Activation act = parse_activation(activation);
  const RnnShape s = shape_from(x, Wx);
  expect_shape(Wh, "Wh", "(H, H)", {s.H, s.H});
  expect_shape(b, "b", "(H,)", {s.H});
  if (h0) expect_shape(*h0, "h0", "(N, H)", {s.N, s.H});
  check_lengths(lengths, s);
  check_sizes<T>(s);

  Array<T> hs({s.N, s.T, s.H});
  Array<T> h_last({s.N, s.H});
  {
    py::gil_scoped_release release;
    rnn_forward<T>(hs.mutable_data(), h_last.mutable_data(), x.data(), Wx.data(), Wh.data(),
                   b.data(), h0 ? h0->data() : nullptr, lengths ? lengths->data() : nullptr, s,
                   act);
  }
  return py::make_tuple(hs, h_last);
}

template <typename T>
py::tuple backward(const std::optional<Array<T>>& dhs, const std::optional<Array<T>>& dh_last,
                   const Array<T>& x, const Array<T>& Wx, const Array<T>& Wh,
                   const std::optional<Array<T>>& h0, const Array<T>& hs,
                   const std::optional<IndexArray>& lengths, const std::string& activation,
                   int truncate) {
  const Activation act = parse_activation(activation);
  const RnnShape s = shape_from(x, Wx);
  expect_shape(Wh, "Wh", "(H, H)", {s.H, s.H});
  expect_shape(hs, "hs", "(N, T, H)", {s.N, s.T, s.H});
  if (h0) expect_shape(*h0, "h0", "(N, H)", {s.N, s.H});
  if (dhs) expect_shape(*dhs, "dhs", "(N, T, H)", {s.N, s.T, s.H});
  if (dh_last) expect_shape(*dh_last, "dh_last", "(N, H)", {s.N, s.H});
  if (truncate < 0) throw py::value_error("truncate must be None or a positive int");
  check_lengths(lengths, s);
  check_sizes<T>(s);

  Array<T> dx({s.N, s.T, s.D});
  Array<T> dWx({s.D, s.H});
  Array<T> dWh({s.H, s.H});
  Array<T> db(s.H);
  Array<T> dh0({s.N, s.H});
  {
    py::gil_scoped_release release;
    rnn_backward<T>(dx.mutable_data(), dWx.mutable_data(), dWh.mutable_data(), db.mutable_data(),
                    dh0.mutable_data(), dhs ? dhs->data() : nullptr,
                    dh_last ? dh_last->data() : nullptr, x.data(), Wx.data(), Wh.data(),
                    h0 ? h0->data() : nullptr, hs.data(), lengths ? lengths->data() : nullptr, s,
                    act, truncate);
  }
  return py::make_tuple(dx, dWx, dWh, db, dh0);
}

template <typename T>
void bind_dtype(py::module_& m) {
  m.def("rnn_forward", &forward<T>, py::arg("x").noconvert(), py::arg("Wx").noconvert(),
        py::arg("Wh").noconvert(), py::arg("b").noconvert(), py::arg("h0").noconvert(),
        py::arg("lengths").noconvert(), py::arg("activation"),
        "(hs, h_last) of a vanilla RNN layer; see rnnkit.ops.rnn_forward.");
  m.def("rnn_backward", &backward<T>, py::arg("dhs").noconvert(), py::arg("dh_last").noconvert(),
        py::arg("x").noconvert(), py::arg("Wx").noconvert(), py::arg("Wh").noconvert(),
        py::arg("h0").noconvert(), py::arg("hs").noconvert(), py::arg("lengths").noconvert(),
        py::arg("activation"), py::arg("truncate"),
        "(dx, dWx, dWh, db, dh0) of a vanilla RNN layer; see rnnkit.ops.rnn_backward.");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "rnnkit's C++ kernels. Use rnnkit.ops, which validates and converts arguments.";
  bind_dtype<float>(m);
  bind_dtype<double>(m);

  m.def("fast_tanh", [](Array<float>& v) {
    float* data = v.mutable_data();
    const auto n = static_cast<std::size_t>(v.size());
    py::gil_scoped_release release;
    fast_tanh(data, n);
  }, py::arg("values").noconvert(), "In-place float32 tanh as the kernels compute it (for tests).");
  m.def("get_num_threads", &configured_threads,
        "Threads the kernels and the BLAS (scipy-openblas32) may use.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("num_threads must be a positive int");
    set_configured_threads(n);
  }, py::arg("n"));
  m.def("build_info", []() {
    py::dict info;
    info["blas_config"] = std::string(blas::config());
    info["blas_core"] = std::string(blas::core_name());
    info["eigen_version"] = std::to_string(EIGEN_WORLD_VERSION) + "." +
                            std::to_string(EIGEN_MAJOR_VERSION) + "." +
                            std::to_string(EIGEN_MINOR_VERSION);
#ifdef RNNKIT_NATIVE_BUILD
    info["native"] = true;
#else
    info["native"] = false;
#endif
    info["compiler"] = std::string(__VERSION__);
    return info;
  });
}
