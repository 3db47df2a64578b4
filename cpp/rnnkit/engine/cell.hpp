// The contract between the sequence driver (driver.hpp) and a recurrent cell.
//
// A cell is a struct of compile-time constants and static row functions; the driver is a
// template over it, so the row functions inline into the step loop (no virtual calls). The driver
// owns everything that is not the cell: the input projection of all steps as one GEMM, one GEMM
// per step over all gates, weight gradients merged over time, batch slices over the worker pool,
// lengths, truncation and the final states. docs/architecture.md walks through adding a cell.
//
// clang-format off
//   struct MyCell {
//     static constexpr const char* kName = "my";  // _core functions my_forward, my_backward
//     static constexpr int kGates = 4;         // pre-activation blocks of H columns per step
//     static constexpr int kStates = 2;        // recurrent states, h first (h, c for an LSTM)
//     static constexpr int kActivations = 2;   // activation functions the user may choose
//     static constexpr int kBiasRows = 1;      // rows of kGates·H biases
//     static constexpr bool kGatesInOutput = false;     // see below
//     static constexpr bool kDirectH = false;           // see below
//     static constexpr bool kSplitRecurrent = false;    // see below
//     static constexpr int kCellParams = 0;    // the cell's own parameters, blocks of H
//     static constexpr int kLateGates = 0;     // see below
//     static constexpr int saved_width(int H);          // columns saved per step, W (see below)
//     static constexpr int state_column(int s, int H);  // where state s ≥ 1 lives in a saved row
//     using Options = std::array<ActivationFunction, kActivations>;
//     template <typename T>
//     static void forward_row(const Options&, const ForwardRow<T, kStates>&, int H);
//     template <typename T>
//     static void backward_row(const Options&, const BackwardRow<T, kStates>&, int H);
//   };
// clang-format on
//
// Storage per (n, t): h_t in hs; the cell's saved row of W columns, whose first kGates·H columns
// hold the gate pre-activations (the GEMMs write them there), and whose other columns are the
// cell's (further states at state_column(s, H), anything else its backward needs).
// kGatesInOutput: one gate whose activation is h_t itself (the Elman cell): the pre-activations
// are written into hs and activated in place, W = 0 and nothing else is saved.
// kDirectH: h_{t−1} reaches h_t also element-wise (a GRU's z ⊙ h_{t−1}), so the cell writes
// d_prev[0] and the driver adds the recurrent product's gradient onto it.
// kSplitRecurrent: the recurrent product is not added onto the gates but kept apart, with its own
// bias row (kBiasRows = 2: b is [input bias; recurrent bias]), in saved columns [C, 2C) where
// C = kGates·H: for a reset-after GRU, whose reset gate scales h_{t−1}·Wh after the product. The
// cell then writes two gradients: d_gates for x·Wx + b_x, d_recurrent for h_{t−1}·Wh + b_h.
// kLateGates = L > 0: the last L gate blocks' recurrent product reads a vector the cell makes
// from the early gates (a reset-before GRU: (r ⊙ h_{t−1})·Wh_h), at late_input_column(H) of the
// saved row. Forward, per step: the early product, forward_early_row, the late product,
// forward_row. Backward: backward_late_row (the late gates' gradient), the late product's
// transpose (into d_late_input), backward_row (the early gates, d_prev, and d_product_input),
// the early product's transpose.
// kCellParams: the cell's own parameters (a layer norm's scale and offset), kCellParams·H of
// them; forward_row reads them, backward_row adds their gradients into d_cell_params (the
// calling worker's own partial sums: rows of one worker never run concurrently).
#pragma once

#include <algorithm>
#include <array>

#include "rnnkit/engine/sequence.hpp"

namespace rnnkit::engine {

// One batch row at one step, forward. The cell reads gates (pre-activations) and prev, and
// writes next (and may overwrite gates and the saved row with what its backward needs).
template <typename T, int S>
struct ForwardRow {
  T* gates;                // kGates·H: x_t·Wx + b + h_{t−1}·Wh on entry (x_t·Wx + b_x if split)
  T* saved;                // the W saved columns of this step (gates are its first ones), or null
  const T* recurrent;      // kSplitRecurrent: h_{t−1}·Wh + b_h (kGates·H); else null
  const T* cell_params;    // kCellParams·H, or null
  const T* h_product;      // h_{t−1} as the recurrent product saw it (⊙ the recurrent mask)
  ConstStates<T, S> prev;  // states after step t−1 (the initial states, or zeros, at t = 0)
  States<T, S> next;       // states after step t; next[0] is h_t, the output
};

// One batch row at one step, backward. The cell writes d_gates, and d_prev[s] for s ≥ 1 (and for
// s = 0 with kDirectH): the gradient reaching state s of step t−1 element-wise. d_prev[s] may be
// the same memory as d_later[s]; read before writing. Without kDirectH, d_prev[0] is the cell's
// scratch (H values): the driver overwrites it with the recurrent product's gradient.
template <typename T, int S>
struct BackwardRow {
  T* d_gates;                 // kGates·H: dL/d(pre-activations)
  T* d_recurrent;             // kSplitRecurrent: dL/d(h_{t−1}·Wh + b_h); else null
  const T* recurrent;         // kSplitRecurrent: the forward's h_{t−1}·Wh + b_h; else null
  const T* cell_params;       // kCellParams·H, or null
  T* d_cell_params;           // kCellParams·H: add this row's gradients here, or null
  const T* h_product;         // kLateGates: h_{t−1} as the recurrent product saw it
  const T* d_late_input;      // kLateGates: dL/d(the late product's input), H
  T* d_product_input;         // kLateGates: write dL/d(h_product) beyond the products, H
  const T* d_output;          // dL/dh_t through the output sequence, or null (zeros)
  ConstStates<T, S> d_later;  // dL/d(state s after step t) from later steps, each may be null
  States<T, S> d_prev;        // element-wise gradients to the states after step t−1
  const T* gates;             // as the forward left them
  const T* saved;             // the saved row, or null
  ConstStates<T, S> prev;     // states after step t−1
  ConstStates<T, S> next;     // states after step t
};

// out = a + b, where either may be null (zeros) and b may be out itself: the gradient reaching a
// state from the output sequence and from later steps.
template <typename T>
void sum_upstream(T* out, const T* a, const T* b, int H) {
  if (b == out) {
    if (a) {
      for (int j = 0; j < H; ++j) out[j] += a[j];
    }
  } else if (a && b) {
    for (int j = 0; j < H; ++j) out[j] = a[j] + b[j];
  } else if (a || b) {
    std::copy_n(a ? a : b, H, out);
  } else {
    std::fill_n(out, H, T(0));
  }
}

}  // namespace rnnkit::engine
