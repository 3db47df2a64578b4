// The Elman cell: h_t = f(x_t·Wx + h_{t−1}·Wh + b), f ∈ {tanh, relu}.
//
// One gate whose activation is the output itself: the driver writes the pre-activations into hs
// and the cell activates them in place, so the forward saves nothing beyond hs and the backward
// reads f′ off h_t (tanh′ = 1 − h², relu′ = [h > 0]).
#pragma once

#include <algorithm>
#include <array>
#include <utility>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"

namespace rnnkit::cells {

struct Vanilla {
  static constexpr const char* kName = "rnn";
  static constexpr int kGates = 1;
  static constexpr int kStates = 1;
  static constexpr int kActivations = 1;
  static constexpr int kBiasRows = 1;
  static constexpr bool kGatesInOutput = true;
  static constexpr bool kDirectH = false;
  static constexpr int kCellParams = 0;
  static constexpr int kLateGates = 0;
  static constexpr bool kSplitRecurrent = false;
  static constexpr int saved_width(int /*H*/) { return 0; }
  static constexpr int state_column(int /*s*/, int /*H*/) { return 0; }
  using Options = std::array<ActivationFunction, kActivations>;

  template <typename T>
  static void forward_row(const Options& f, const engine::ForwardRow<T, 1>& row, int H) {
    activate_inplace(f[0], row.gates, H);  // row.gates is row.next[0]: h_t in hs
  }

  template <typename T>
  static void backward_row(const Options& f, const engine::BackwardRow<T, 1>& row, int H) {
    // da = (d_output + d_later) · f′; either may be absent.
    const T* g1 = row.d_output;
    const T* g2 = row.d_later[0];
    if (!g1) std::swap(g1, g2);
    if (g1) {
      activation_backward(f[0], row.d_gates, g1, g2, row.next[0], H);
    } else {
      std::fill_n(row.d_gates, H, T(0));
    }
  }
};

}  // namespace rnnkit::cells
