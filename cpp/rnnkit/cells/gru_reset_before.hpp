// The GRU cell with the reset gate applied to the state before the candidate's recurrent product
// (Keras's reset_after=False, the GRU of Cho et al. 2014 v3), gates in Keras's order z, r, h:
//   z = σ(x_t·Wx_z + h̃·Wh_z + b_z)   r = σ(x_t·Wx_r + h̃·Wh_r + b_r)
//   n = act(x_t·Wx_h + (r ⊙ h̃)·Wh_h + b_h)        h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n
// where h̃ is h_{t−1} as the recurrent products see it (times the recurrent-dropout mask, if
// any). The candidate's product reads r ⊙ h̃, which only the early gates give: one late gate
// block (kLateGates), its input u = r ⊙ h̃ kept in the saved row.
//
// Saved per step (W = 4H): [z r n] activated in place of the pre-activations, then u.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"

namespace rnnkit::cells {

struct GruResetBefore {
  static constexpr const char* kName = "gru_reset_before";
  static constexpr int kGates = 3;
  static constexpr int kStates = 1;
  static constexpr int kActivations = 2;  // activation, recurrent_activation
  static constexpr int kBiasRows = 1;
  static constexpr int kCellParams = 0;
  static constexpr int kLateGates = 1;  // the candidate
  static constexpr bool kGatesInOutput = false;
  static constexpr bool kDirectH = true;
  static constexpr bool kSplitRecurrent = false;
  static constexpr int saved_width(int H) { return 4 * H; }
  static constexpr int state_column(int /*s*/, int /*H*/) { return 0; }
  static constexpr int late_input_column(int H) { return 3 * H; }
  using Options = std::array<ActivationFunction, kActivations>;

  // z and r, and the late product's input u = r ⊙ h̃.
  template <typename T>
  static void forward_early_row(const Options& fn, const engine::ForwardRow<T, 1>& row, int H) {
    T* z = row.gates;
    const T* r = z + H;
    activate_inplace(fn[1], z, 2 * static_cast<std::size_t>(H));
    T* u = row.saved + late_input_column(H);
    for (int j = 0; j < H; ++j) u[j] = r[j] * row.h_product[j];
  }

  template <typename T>
  static void forward_row(const Options& fn, const engine::ForwardRow<T, 1>& row, int H) {
    const T* z = row.gates;
    T* n = row.gates + 2 * H;
    activate_inplace(fn[0], n, H);
    const T* h_prev = row.prev[0];
    T* h = row.next[0];
    for (int j = 0; j < H; ++j) h[j] = z[j] * h_prev[j] + (T(1) - z[j]) * n[j];
  }

  // The candidate's gradient; dh waits in the z block for backward_row.
  template <typename T>
  static void backward_late_row(const Options& fn, const engine::BackwardRow<T, 1>& row, int H) {
    const T* z = row.gates;
    const T* n = z + 2 * H;
    T* dh = row.d_gates;
    T* dn = row.d_gates + 2 * H;
    const T* g1 = row.d_output;
    const T* g2 = row.d_later[0];
    for (int j = 0; j < H; ++j) dh[j] = (g1 ? g1[j] : T(0)) + (g2 ? g2[j] : T(0));
    for (int j = 0; j < H; ++j) dn[j] = dh[j] * (T(1) - z[j]);
    scale_by_derivative(fn[0], dn, n, H);
  }

  template <typename T>
  static void backward_row(const Options& fn, const engine::BackwardRow<T, 1>& row, int H) {
    const T* z = row.gates;
    const T* r = z + H;
    const T* n = z + 2 * H;
    const T* du = row.d_late_input;
    T* dz = row.d_gates;
    T* dr = dz + H;
    const T* dh = dz;  // from backward_late_row
    for (int j = 0; j < H; ++j) dr[j] = du[j] * row.h_product[j];
    scale_by_derivative(fn[1], dr, r, H);
    for (int j = 0; j < H; ++j) row.d_product_input[j] = du[j] * r[j];
    T* dh_prev = row.d_prev[0];  // may be d_later[0]'s memory, read in backward_late_row
    const T* h_prev = row.prev[0];
    for (int j = 0; j < H; ++j) dh_prev[j] = dh[j] * z[j];
    for (int j = 0; j < H; ++j) dz[j] = dh[j] * (h_prev[j] - n[j]);
    scale_by_derivative(fn[1], dz, z, H);
  }
};

}  // namespace rnnkit::cells
