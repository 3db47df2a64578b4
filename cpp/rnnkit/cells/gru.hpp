// The GRU cell with the reset gate applied after the recurrent product (Keras 3's default
// reset_after=True, cuDNN's and PyTorch's GRU), gates in Keras's order z, r, h:
//   X = x_t·Wx + b_x      R = h_{t−1}·Wh + b_h          (each 3H: blocks z, r, h)
//   z = σ(X_z + R_z)   r = σ(X_r + R_r)   n = act(X_h + r ⊙ R_h)
//   h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n
// The recurrent product is kept apart from the gates (kSplitRecurrent), since r scales its
// candidate block after the product; h_{t−1} also reaches h_t element-wise (kDirectH).
//
// Saved per step (W = 6H): [z r n] activated in place of X, then R as the GEMM left it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"
#include "rnnkit/row_math.hpp"

namespace rnnkit::cells {

struct Gru {
  static constexpr const char* kName = "gru";
  static constexpr int kGates = 3;
  static constexpr int kStates = 1;
  static constexpr int kActivations = 2;  // activation, recurrent_activation
  static constexpr int kBiasRows = 2;     // input bias, recurrent bias
  static constexpr bool kGatesInOutput = false;
  static constexpr bool kDirectH = true;
  static constexpr int kCellParams = 0;
  static constexpr int kLateGates = 0;
  static constexpr bool kSplitRecurrent = true;
  static constexpr int saved_width(int H) { return 6 * H; }
  static constexpr int state_column(int /*s*/, int /*H*/) { return 0; }
  using Options = std::array<ActivationFunction, kActivations>;

  static bool usual(const Options& fn) {
    return fn[0] == ActivationFunction::Tanh && fn[1] == ActivationFunction::Sigmoid;
  }

  template <typename T>
  static void forward_row(const Options& fn, const engine::ForwardRow<T, 1>& row, int H) {
    if (usual(fn)) {  // tanh and sigmoid: one fused, vectorised pass (row_math.hpp)
      gru_forward_fused(row.gates, row.recurrent, row.prev[0], row.next[0], H);
      return;
    }
    const ActivationFunction act = fn[0], rec = fn[1];
    T* z = row.gates;
    T* r = z + H;
    T* n = z + 2 * H;
    const T* R = row.recurrent;
    const T* h_prev = row.prev[0];
    T* h = row.next[0];
    for (int j = 0; j < 2 * H; ++j) z[j] += R[j];  // z and r, adjacent
    activate_inplace(rec, z, 2 * static_cast<std::size_t>(H));
    for (int j = 0; j < H; ++j) n[j] += r[j] * R[2 * H + j];
    activate_inplace(act, n, H);
    for (int j = 0; j < H; ++j) h[j] = z[j] * h_prev[j] + (T(1) - z[j]) * n[j];
  }

  // d_gates holds dh in its z block until dh is consumed.
  template <typename T>
  static void backward_row(const Options& fn, const engine::BackwardRow<T, 1>& row, int H) {
    if (usual(fn)) {
      T* dh = row.d_prev[0];  // dh_t in, its direct path z ⊙ dh_t to h_{t−1} out
      engine::sum_upstream(dh, row.d_output, row.d_later[0], H);
      gru_backward_fused(row.d_gates, row.d_recurrent, dh, row.gates, row.recurrent + 2 * H,
                         row.prev[0], H);
      return;
    }
    const ActivationFunction act = fn[0], rec = fn[1];
    const T* z = row.gates;
    const T* r = z + H;
    const T* n = z + 2 * H;
    const T* R_h = row.recurrent + 2 * H;
    const T* h_prev = row.prev[0];
    T* dz = row.d_gates;
    T* dr = dz + H;
    T* dn = dz + 2 * H;
    T* dR = row.d_recurrent;
    T* dh = dz;

    const T* g1 = row.d_output;
    const T* g2 = row.d_later[0];
    for (int j = 0; j < H; ++j) dh[j] = (g1 ? g1[j] : T(0)) + (g2 ? g2[j] : T(0));
    for (int j = 0; j < H; ++j) dn[j] = dh[j] * (T(1) - z[j]);
    scale_by_derivative(act, dn, n, H);
    for (int j = 0; j < H; ++j) dR[2 * H + j] = dn[j] * r[j];
    for (int j = 0; j < H; ++j) dr[j] = dn[j] * R_h[j];
    scale_by_derivative(rec, dr, r, H);
    T* dh_prev = row.d_prev[0];  // may be d_later[0]'s memory: dh is read from the z block
    for (int j = 0; j < H; ++j) dh_prev[j] = dh[j] * z[j];
    for (int j = 0; j < H; ++j) dz[j] = dh[j] * (h_prev[j] - n[j]);
    scale_by_derivative(rec, dz, z, H);
    std::copy_n(dz, 2 * H, dR);  // z and r enter both sums alike
  }
};

}  // namespace rnnkit::cells
