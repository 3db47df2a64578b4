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
#include <cmath>
#include <utility>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"

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
    T* z = row.gates;
    double sum = 0;  // double accumulators: float32 rows of thousands of units stay exact enough
    for (int j = 0; j < H; ++j) sum += z[j];
    const double mean = sum / H;
    double squares = 0;
    for (int j = 0; j < H; ++j) squares += (z[j] - mean) * (z[j] - mean);
    const T rstd = static_cast<T>(1.0 / std::sqrt(squares / H + kEpsilon));
    const T shift = static_cast<T>(mean);
    const T* gamma = row.cell_params;
    const T* beta = gamma + H;
    T* h = row.next[0];
    for (int j = 0; j < H; ++j) {
      z[j] = (z[j] - shift) * rstd;  // ẑ, kept for the backward
      h[j] = gamma[j] * z[j] + beta[j];
    }
    row.saved[H] = rstd;
    activate_inplace(f[0], h, H);
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
    const T* z_hat = row.gates;
    const T rstd = row.saved[H];
    const T* gamma = row.cell_params;
    T* d_gamma = row.d_cell_params;
    T* d_beta = d_gamma + H;
    double mean_d = 0, mean_d_z = 0;
    for (int j = 0; j < H; ++j) {
      d_gamma[j] += dz[j] * z_hat[j];
      d_beta[j] += dz[j];
      dz[j] *= gamma[j];  // dL/dẑ
      mean_d += dz[j];
      mean_d_z += dz[j] * z_hat[j];
    }
    const T m1 = static_cast<T>(mean_d / H), m2 = static_cast<T>(mean_d_z / H);
    for (int j = 0; j < H; ++j) dz[j] = rstd * (dz[j] - m1 - z_hat[j] * m2);
  }
};

}  // namespace rnnkit::cells
