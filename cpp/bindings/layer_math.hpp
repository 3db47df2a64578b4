// Bindings of the non-recurrent maths (cpp/rnnkit/layer_math/): one registration per kernel
// family, float32 and float64 overloads of each, arguments of exact dtype and C-contiguous
// (noconvert), the GIL released around the kernels. rnnkit.ops.layer_math validates first;
// the checks here are the safety net for direct callers. No maths here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "bindings/checks.hpp"
#include "rnnkit/layer_math/cross_entropy.hpp"
#include "rnnkit/layer_math/dense.hpp"
#include "rnnkit/layer_math/embedding.hpp"
#include "rnnkit/layer_math/optimizer_updates.hpp"

namespace rnnkit::bindings {

namespace layer_math_detail {

using WeightArray = py::array_t<double, py::array::c_style>;

inline layer_math::DenseActivation dense_activation(const std::string& name) {
  try {
    return layer_math::parse_dense_activation(name);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

inline int checked_int(py::ssize_t value, const std::string& what) {
  if (value > INT32_MAX) {
    throw py::value_error(what + " = " + std::to_string(value) +
                          " must stay below 2**31 (the BLAS index range)");
  }
  return static_cast<int>(value);
}

template <typename T>
void expect_same_size(const Array<T>& a, const Array<T>& p, const std::string& name) {
  expect_aligned(a, name);
  if (a.size() != p.size()) {
    throw py::value_error(name + " must have as many entries as p (" + std::to_string(p.size()) +
                          "), got shape " + shape_of(a));
  }
}

template <typename T>
layer_math::DenseShape dense_shape(const Array<T>& x, const Array<T>& W) {
  expect_aligned(x, "x");
  expect_aligned(W, "W");
  if (x.ndim() != 2 || W.ndim() != 2 || W.shape(0) != x.shape(1)) {
    throw py::value_error("x must have shape (rows, D) and W (D, units), got " + shape_of(x) +
                          " and " + shape_of(W));
  }
  return {checked_int(x.shape(0), "rows"), checked_int(x.shape(1), "D"),
          checked_int(W.shape(1), "units")};
}

template <typename T>
void bind_dense_types(py::module_& m) {
  m.def(
      "dense_forward",
      [](const Array<T>& x, const Array<T>& W, const std::optional<Array<T>>& b,
         const std::string& activation) {
        const auto act = dense_activation(activation);
        const auto s = dense_shape(x, W);
        if (b) expect_shape(*b, "b", "(units,)", {s.out});
        Array<T> y({s.rows, s.out});
        {
          py::gil_scoped_release release;
          layer_math::dense_forward(s, x.data(), W.data(), b ? b->data() : nullptr,
                                    y.mutable_data(), act);
        }
        return y;
      },
      py::arg("x").noconvert(), py::arg("W").noconvert(), py::arg("b").noconvert().none(true),
      py::arg("activation"));
  m.def(
      "dense_backward",
      [](const Array<T>& x, const Array<T>& W, const Array<T>& y, const Array<T>& dy,
         const std::string& activation, std::optional<Array<T>> dW, std::optional<Array<T>> db,
         bool want_dx) -> py::object {
        const auto act = dense_activation(activation);
        const auto s = dense_shape(x, W);
        expect_shape(y, "y", "(rows, units)", {s.rows, s.out});
        expect_shape(dy, "dy", "(rows, units)", {s.rows, s.out});
        if (dW) expect_shape(*dW, "dW", "(D, units)", {s.in, s.out});
        if (db) expect_shape(*db, "db", "(units,)", {s.out});
        std::optional<Array<T>> dx;
        if (want_dx) dx = Array<T>({s.rows, s.in});
        const layer_math::DenseGrads<T> grads{dx ? dx->mutable_data() : nullptr,
                                              dW ? dW->mutable_data() : nullptr,
                                              db ? db->mutable_data() : nullptr};
        {
          py::gil_scoped_release release;
          layer_math::dense_backward(s, x.data(), W.data(), y.data(), dy.data(), act, grads);
        }
        return dx ? py::object(*dx) : py::none();
      },
      py::arg("x").noconvert(), py::arg("W").noconvert(), py::arg("y").noconvert(),
      py::arg("dy").noconvert(), py::arg("activation"), py::arg("dW").noconvert().none(true),
      py::arg("db").noconvert().none(true), py::arg("want_dx"));
}

template <typename T>
void bind_cross_entropy_types(py::module_& m) {
  m.def(
      "sparse_cross_entropy",
      [](const Array<T>& scores, const IndexArray& labels,
         const std::optional<WeightArray>& weights, const std::optional<MaskArray>& valid,
         bool from_logits, double scale) {
        expect_aligned(scores, "scores");
        if (scores.ndim() != 2 || scores.shape(1) < 1) {
          throw py::value_error("scores must have shape (rows, C) with C >= 1, got " +
                                shape_of(scores));
        }
        const py::ssize_t R = scores.shape(0), C = scores.shape(1);
        expect_shape(labels, "labels", "(rows,)", {R});
        if (weights) expect_shape(*weights, "weights", "(rows,)", {R});
        if (valid) expect_shape(*valid, "valid", "(rows,)", {R});
        const int64_t* ids = labels.data();
        for (py::ssize_t r = 0; r < R; ++r) {
          if (ids[r] < 0 || ids[r] >= C) {
            throw py::value_error("labels must lie in [0, " + std::to_string(C) + "), got " +
                                  std::to_string(ids[r]) + " at index " + std::to_string(r));
          }
        }
        const layer_math::CrossEntropyRows<T> rows{scores.data(),
                                                   ids,
                                                   weights ? weights->data() : nullptr,
                                                   valid ? valid->data() : nullptr,
                                                   checked_int(R, "rows"),
                                                   checked_int(C, "C")};
        Array<T> grad({R, C});
        double total;
        {
          py::gil_scoped_release release;
          total = layer_math::sparse_cross_entropy(rows, from_logits, scale, grad.mutable_data());
        }
        return py::make_tuple(total, grad);
      },
      py::arg("scores").noconvert(), py::arg("labels").noconvert(),
      py::arg("weights").noconvert().none(true), py::arg("valid").noconvert().none(true),
      py::arg("from_logits"), py::arg("scale"));
}

template <typename T>
void bind_optimizer_types(py::module_& m) {
  m.def(
      "adam_update",
      [](Array<T>& p, const Array<T>& g, Array<T>& m_slot, Array<T>& v_slot, double lr_t,
         double beta_1, double beta_2, double epsilon) {
        expect_aligned(p, "p");
        expect_same_size(g, p, "g");
        expect_same_size(m_slot, p, "m");
        expect_same_size(v_slot, p, "v");
        const layer_math::AdamArrays<T> arrays{p.mutable_data(), g.data(), m_slot.mutable_data(),
                                               v_slot.mutable_data(),
                                               static_cast<std::size_t>(p.size())};
        py::gil_scoped_release release;
        layer_math::adam_update(arrays, {lr_t, beta_1, beta_2, epsilon});
      },
      py::arg("p").noconvert(), py::arg("g").noconvert(), py::arg("m").noconvert(),
      py::arg("v").noconvert(), py::arg("lr_t"), py::arg("beta_1"), py::arg("beta_2"),
      py::arg("epsilon"));
  m.def(
      "sgd_momentum_update",
      [](Array<T>& p, const Array<T>& g, Array<T>& velocity, double lr, double momentum,
         bool nesterov) {
        expect_aligned(p, "p");
        expect_same_size(g, p, "g");
        expect_same_size(velocity, p, "velocity");
        T* pd = p.mutable_data();
        T* vd = velocity.mutable_data();
        py::gil_scoped_release release;
        layer_math::sgd_momentum_update(pd, g.data(), vd, static_cast<std::size_t>(p.size()), lr,
                                        momentum, nesterov);
      },
      py::arg("p").noconvert(), py::arg("g").noconvert(), py::arg("velocity").noconvert(),
      py::arg("lr"), py::arg("momentum"), py::arg("nesterov"));
  m.def(
      "sum_of_squares",
      [](const Array<T>& g) {
        expect_aligned(g, "g");
        py::gil_scoped_release release;
        return layer_math::sum_of_squares(g.data(), static_cast<std::size_t>(g.size()));
      },
      py::arg("g").noconvert());
}

template <typename T>
void bind_embedding_types(py::module_& m) {
  m.def(
      "embedding_scatter_add",
      [](Array<T>& out, const IndexArray& ids, const Array<T>& rows) {
        expect_aligned(out, "out");
        if (out.ndim() != 2)
          throw py::value_error("out must have shape (V, D), got " + shape_of(out));
        const py::ssize_t V = out.shape(0), D = out.shape(1), n = ids.size();
        expect_shape(ids, "ids", "(n,)", {n});
        expect_shape(rows, "rows", "(n, D)", {n, D});
        const int64_t* id = ids.data();
        for (py::ssize_t i = 0; i < n; ++i) {
          if (id[i] < 0 || id[i] >= V) {
            throw py::value_error("ids must lie in [0, " + std::to_string(V) + "), got " +
                                  std::to_string(id[i]) + " at index " + std::to_string(i));
          }
        }
        T* target = out.mutable_data();
        py::gil_scoped_release release;
        layer_math::embedding_scatter_add(target, V, D, id, n, rows.data());
      },
      py::arg("out").noconvert(), py::arg("ids").noconvert(), py::arg("rows").noconvert());
}

}  // namespace layer_math_detail

// Dense layers: dense_forward, dense_backward.
inline void bind_dense(py::module_& m) {
  layer_math_detail::bind_dense_types<float>(m);
  layer_math_detail::bind_dense_types<double>(m);
}

// Softmax cross-entropy with class ids: sparse_cross_entropy.
inline void bind_cross_entropy(py::module_& m) {
  layer_math_detail::bind_cross_entropy_types<float>(m);
  layer_math_detail::bind_cross_entropy_types<double>(m);
}

// Optimizer updates and clipping norms: adam_update, sgd_momentum_update, sum_of_squares.
inline void bind_optimizer_updates(py::module_& m) {
  layer_math_detail::bind_optimizer_types<float>(m);
  layer_math_detail::bind_optimizer_types<double>(m);
}

// The embedding's gradient: embedding_scatter_add.
inline void bind_embedding(py::module_& m) {
  layer_math_detail::bind_embedding_types<float>(m);
  layer_math_detail::bind_embedding_types<double>(m);
}

}  // namespace rnnkit::bindings
