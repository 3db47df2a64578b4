// Python functions <name>_forward and <name>_backward for one cell, in float32 and float64,
// generated from the cell's constants (engine/cell.hpp): shapes checked and outputs allocated
// while holding the GIL, then the driver runs without it. No maths here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <climits>
#include <optional>
#include <string>

#include "bindings/checks.hpp"
#include "bindings/interruptible.hpp"
#include "bindings/recycled_array.hpp"
#include "rnnkit/activations.hpp"
#include "rnnkit/engine/driver.hpp"

namespace rnnkit::bindings {

template <typename Cell>
class CellBindings {
  static constexpr int S = Cell::kStates;
  using Options = typename Cell::Options;
  using ActivationNames = std::array<std::string, Cell::kActivations>;
  template <typename T>
  using OptionalStates = std::array<std::optional<Array<T>>, S>;

  static Options parse_options(const ActivationNames& names) {
    Options options{};
    for (int i = 0; i < Cell::kActivations; ++i) options[i] = parse_activation(names[i]);
    return options;
  }

  // The shape of a call, read from x and Wh (H, kGates·H), with Wx and b checked against it.
  template <typename T>
  static engine::SequenceShape shape_of_call(const Array<T>& x, const Array<T>& Wx,
                                             const Array<T>& Wh, const Array<T>* b) {
    if (x.ndim() != 3) throw py::value_error("x must have shape (N, T, D), got " + shape_of(x));
    expect_aligned(x, "x");
    if (Wh.ndim() != 2) {
      throw py::value_error("Wh must have shape (H, gates·H), got " + shape_of(Wh));
    }
    if (Wh.shape(0) == 0) {
      throw py::value_error(
          "Wh must have shape (H, gates·H) with H ≥ 1 (a layer needs a unit), got " + shape_of(Wh));
    }
    const py::ssize_t limit = INT_MAX / Cell::kGates;
    if (x.shape(0) > INT_MAX || x.shape(1) > INT_MAX || x.shape(2) > INT_MAX ||
        Wh.shape(0) > limit) {
      throw py::value_error("every dimension (and gates·H) must stay below 2**31");
    }
    const engine::SequenceShape s{static_cast<int>(x.shape(0)), static_cast<int>(x.shape(1)),
                                  static_cast<int>(x.shape(2)), static_cast<int>(Wh.shape(0))};
    const py::ssize_t C = py::ssize_t{Cell::kGates} * s.H;
    expect_shape(Wh, "Wh", "(H, gates·H)", {s.H, C});
    expect_shape(Wx, "Wx", "(D, gates·H) with D = x.shape[2]", {s.D, C});
    if (b) {
      if (Cell::kBiasRows == 1) {
        expect_shape(*b, "b", "(gates·H,)", {C});
      } else {
        expect_shape(*b, "b", "(bias rows, gates·H)", {Cell::kBiasRows, C});
      }
    }
    return s;
  }

  template <typename T>
  static const T* recurrent_mask(const std::optional<Array<T>>& mask,
                                 const engine::SequenceShape& s) {
    if (!mask) return nullptr;
    expect_shape(*mask, "recurrent_mask", "(N, H)", {s.N, s.H});
    return mask->data();
  }

  // Keras's step mask (N,T), nonzero where a step is valid; never together with lengths. Its
  // values never decide what memory is read, so the caller's array is read as it is.
  static const uint8_t* step_mask(const std::optional<MaskArray>& mask,
                                  const std::optional<IndexArray>& lengths,
                                  const engine::SequenceShape& s) {
    if (!mask) return nullptr;
    if (lengths) throw py::value_error("give lengths or step_mask, not both");
    expect_shape(*mask, "step_mask", "(N, T)", {s.N, s.T});
    return mask->data();
  }

  // The cell's own parameters (kCellParams·H of them), required exactly when it has some.
  template <typename T>
  static const T* cell_params(const std::optional<Array<T>>& params,
                              const engine::SequenceShape& s) {
    if (Cell::kCellParams == 0) {
      if (params) throw py::value_error("cell_params: this cell has no parameters of its own");
      return nullptr;
    }
    if (!params) throw py::value_error("cell_params: this cell needs its own parameters");
    expect_shape(*params, "cell_params", "(cell parameters, H)", {Cell::kCellParams, s.H});
    return params->data();
  }

  template <typename T>
  static void check_call(const engine::SequenceShape& s, const OptionalStates<T>& states,
                         const char* what) {
    for (int i = 0; i < S; ++i) {
      if (states[i])
        expect_shape(*states[i], std::string(what) + "[" + std::to_string(i) + "]", "(N, H)",
                     {s.N, s.H});
    }
    const int64_t C = int64_t{Cell::kGates} * s.H;
    check_sizes<T>(s, {s.D, s.H, C, Cell::saved_width(s.H)}, C);
  }

  template <typename T>
  static engine::ConstStates<T, S> pointers(const OptionalStates<T>& states) {
    engine::ConstStates<T, S> p{};
    for (int i = 0; i < S; ++i) p[i] = states[i] ? states[i]->data() : nullptr;
    return p;
  }

  template <typename T>
  static py::tuple as_tuple(std::array<Array<T>, S>& arrays) {
    py::tuple out(S);
    for (int i = 0; i < S; ++i) out[i] = arrays[i];
    return out;
  }

  template <typename T>
  static py::tuple forward(const Array<T>& x, const Array<T>& Wx, const Array<T>& Wh,
                           const Array<T>& b, const OptionalStates<T>& initial,
                           const std::optional<IndexArray>& lengths,
                           const ActivationNames& activations, const std::optional<Array<T>>& mask,
                           const std::optional<Array<T>>& own_params,
                           const std::optional<MaskArray>& steps) {
    const Options options = parse_options(activations);
    const engine::SequenceShape s = shape_of_call(x, Wx, Wh, &b);
    check_call(s, initial, "initial");
    const std::vector<int64_t> valid = copy_lengths(lengths, s);
    const uint8_t* steps_data = step_mask(steps, lengths, s);
    const T* mask_data = recurrent_mask(mask, s);
    const T* own = cell_params(own_params, s);

    Array<T> hs = recycled_array<T>({s.N, s.T, s.H});
    const int W = Cell::saved_width(s.H);
    std::optional<Array<T>> saved;
    if (W > 0) saved = recycled_array<T>({s.N, s.T, W});
    std::array<Array<T>, S> final_states;
    engine::States<T, S> final_ptrs{};
    for (int i = 0; i < S; ++i) {
      final_states[i] = Array<T>({s.N, s.H});
      final_ptrs[i] = final_states[i].mutable_data();
    }
    const engine::Batch<T> batch{x.data(), lengths ? valid.data() : nullptr, s, mask_data,
                                 steps_data};
    const engine::Weights<T> weights{Wx.data(), Wh.data(), b.data(), own};
    const engine::Record<T> record{hs.mutable_data(), saved ? saved->mutable_data() : nullptr};
    run_interruptible([&] {
      engine::Driver<Cell, T>::forward(batch, weights, pointers(initial), record, final_ptrs,
                                       options);
    });
    return py::make_tuple(hs, as_tuple(final_states), saved ? py::object(*saved) : py::none());
  }

  template <typename T>
  static py::tuple backward(const std::optional<Array<T>>& dhs, const OptionalStates<T>& d_final,
                            const Array<T>& x, const Array<T>& Wx, const Array<T>& Wh,
                            const OptionalStates<T>& initial, const Array<T>& hs,
                            const std::optional<Array<T>>& saved,
                            const std::optional<IndexArray>& lengths,
                            const ActivationNames& activations, const std::optional<Array<T>>& mask,
                            const std::optional<Array<T>>& own_params, int truncate,
                            const std::optional<MaskArray>& steps) {
    const Options options = parse_options(activations);
    const engine::SequenceShape s = shape_of_call(x, Wx, Wh, static_cast<const Array<T>*>(nullptr));
    check_call(s, initial, "initial");
    check_call(s, d_final, "d_final");
    const std::vector<int64_t> valid = copy_lengths(lengths, s);
    const uint8_t* steps_data = step_mask(steps, lengths, s);
    expect_shape(hs, "hs", "(N, T, H)", {s.N, s.T, s.H});
    if (dhs) expect_shape(*dhs, "dhs", "(N, T, H)", {s.N, s.T, s.H});
    const int W = Cell::saved_width(s.H);
    if (W > 0 && !saved)
      throw py::value_error("saved: this cell's backward needs the forward's saved array");
    if (saved) expect_shape(*saved, "saved", "(N, T, saved columns)", {s.N, s.T, W});
    if (truncate < 0) throw py::value_error("truncate must be None or a positive int");
    const T* mask_data = recurrent_mask(mask, s);
    const T* own = cell_params(own_params, s);

    const py::ssize_t C = py::ssize_t{Cell::kGates} * s.H;
    Array<T> dx = recycled_array<T>({s.N, s.T, s.D});
    Array<T> dWx({static_cast<py::ssize_t>(s.D), C});
    Array<T> dWh({static_cast<py::ssize_t>(s.H), C});
    Array<T> db = Cell::kBiasRows == 1 ? Array<T>(C) : Array<T>({py::ssize_t{Cell::kBiasRows}, C});
    std::array<Array<T>, S> d_initial;
    engine::States<T, S> d_initial_ptrs{};
    for (int i = 0; i < S; ++i) {
      d_initial[i] = Array<T>({s.N, s.H});
      d_initial_ptrs[i] = d_initial[i].mutable_data();
    }
    const engine::Batch<T> batch{x.data(), lengths ? valid.data() : nullptr, s, mask_data,
                                 steps_data};
    const engine::Weights<T> weights{Wx.data(), Wh.data(), nullptr, own};
    std::optional<Array<T>> d_own;
    if (own) d_own.emplace(std::vector<py::ssize_t>{Cell::kCellParams, s.H});
    const engine::ConstRecord<T> record{hs.data(), saved ? saved->data() : nullptr};
    const engine::Upstream<T, S> upstream{dhs ? dhs->data() : nullptr, pointers(d_final)};
    const engine::InputGrads<T, S> grads{dx.mutable_data(),
                                         {dWx.mutable_data(), dWh.mutable_data(), db.mutable_data(),
                                          d_own ? d_own->mutable_data() : nullptr},
                                         d_initial_ptrs};
    run_interruptible([&] {
      engine::Driver<Cell, T>::backward(batch, weights, pointers(initial), record, upstream, grads,
                                        options, truncate);
    });
    return py::make_tuple(dx, dWx, dWh, db, as_tuple(d_initial),
                          d_own ? py::object(*d_own) : py::none());
  }

  template <typename T>
  static void bind_dtype(py::module_& m, const std::string& name) {
    m.def(
        (name + "_forward").c_str(), &forward<T>, py::arg("x").noconvert(),
        py::arg("Wx").noconvert(), py::arg("Wh").noconvert(), py::arg("b").noconvert(),
        py::arg("initial").noconvert(), py::arg("lengths").noconvert(), py::arg("activations"),
        py::arg("recurrent_mask").noconvert(), py::arg("cell_params").noconvert(),
        py::arg("step_mask").noconvert() = py::none(),
        ("(hs, final_states, saved) of a " + name + " layer over whole sequences; see rnnkit.ops.")
            .c_str());
    m.def((name + "_backward").c_str(), &backward<T>, py::arg("dhs").noconvert(),
          py::arg("d_final").noconvert(), py::arg("x").noconvert(), py::arg("Wx").noconvert(),
          py::arg("Wh").noconvert(), py::arg("initial").noconvert(), py::arg("hs").noconvert(),
          py::arg("saved").noconvert(), py::arg("lengths").noconvert(), py::arg("activations"),
          py::arg("recurrent_mask").noconvert(), py::arg("cell_params").noconvert(),
          py::arg("truncate"), py::arg("step_mask").noconvert() = py::none(),
          ("(dx, dWx, dWh, db, d_initial_states, d_cell_params) of a " + name +
           " layer; see rnnkit.ops.")
              .c_str());
  }

 public:
  static void bind(py::module_& m) {
    bind_dtype<float>(m, Cell::kName);
    bind_dtype<double>(m, Cell::kName);
  }
};

// Registers <Cell::kName>_forward and <Cell::kName>_backward on the module.
template <typename Cell>
void bind_cell(py::module_& m) {
  CellBindings<Cell>::bind(m);
}

}  // namespace rnnkit::bindings
