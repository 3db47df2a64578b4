// The layer-normalised Elman cell (Ba et al. 2016; the classic hands-on text's custom Keras cell:
// SimpleRNNCell(activation=None) followed by LayerNormalization and the activation):
//   z = x_t·Wx + h_{t−1}·Wh + b     ẑ = (z − mean z) / sqrt(var z + ε)     h_t = f(γ ⊙ ẑ + β)
// with the mean and variance over the H units of each row, a learned scale γ and offset β
// (kCellParams = 2: the rows γ, β), and ε = 1e-3, Keras's LayerNormalization default.
//
// Saved per step (W = H + 1): ẑ in place of z, then 1/sqrt(var z + ε).
#pragma once

#include <algorithm>
#include <array>
#include <utility>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"
#include "rnnkit/row_math.hpp"

namespace rnnkit::cells {

struct LayerNormRnn {
  static constexpr const char* kName = "ln_rnn";
  static constexpr int kGates = 1;
  static constexpr int kStates = 1;
  static constexpr int kActivations = 1;
  static constexpr int kBiasRows = 1;
  static constexpr int kCellParams = 2;  // γ, β
  static constexpr bool kGatesInOutput = false;
  static constexpr bool kDirectH = false;
  static constexpr int kLateGates = 0;
  static constexpr bool kSplitRecurrent = false;
  static constexpr double kEpsilon = 1e-3;
  static constexpr int saved_width(int H) { return H + 1; }
  static constexpr int state_column(int /*s*/, int /*H*/) { return 0; }
  using Options = std::array<ActivationFunction, kActivations>;

  template <typename T>
  static void forward_row(const Options& f, const engine::ForwardRow<T, 1>& row, int H) {
    const T* gamma = row.cell_params;
    row.saved[H] = layer_norm_forward(row.gates, gamma, gamma + H, row.next[0], T(kEpsilon), H);
    activate_inplace(f[0], row.next[0], H);
  }

  template <typename T>
  static void backward_row(const Options& f, const engine::BackwardRow<T, 1>& row, int H) {
    T* dz = row.d_gates;
    const T* g1 = row.d_output;
    const T* g2 = row.d_later[0];
    if (!g1) std::swap(g1, g2);
    if (!g1) {
      std::fill_n(dz, H, T(0));
      return;
    }
    activation_backward(f[0], dz, g1, g2, row.next[0], H);  // dL/d(γ ⊙ ẑ + β)
    T* d_gamma = row.d_cell_params;
    layer_norm_backward(dz, row.gates, row.saved[H], row.cell_params, d_gamma, d_gamma + H, H);
  }
};

}  // namespace rnnkit::cells
