// The LSTM cell, Keras's formulation (gates in the order i, f, c, o):
//   i = σ(z_i)   f = σ(z_f)   g = act(z_c)   o = σ(z_o)      z = x_t·Wx + h_{t−1}·Wh + b
//   c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ act(c_t)
// with act the activation (tanh by default) and σ the recurrent activation (sigmoid).
//
// Saved per step (W = 6H): [i f g o] activated in place of the pre-activations, then c_t (the
// second state), then act(c_t), so the backward recomputes nothing.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "rnnkit/activations.hpp"
#include "rnnkit/engine/cell.hpp"
#include "rnnkit/row_math.hpp"

namespace rnnkit::cells {

struct Lstm {
  static constexpr const char* kName = "lstm";
  static constexpr int kGates = 4;
  static constexpr int kStates = 2;       // h, c
  static constexpr int kActivations = 2;  // activation, recurrent_activation
  static constexpr int kBiasRows = 1;
  static constexpr bool kGatesInOutput = false;
  static constexpr bool kDirectH = false;
  static constexpr int kCellParams = 0;
  static constexpr int kLateGates = 0;
  static constexpr bool kSplitRecurrent = false;
  static constexpr int saved_width(int H) { return 6 * H; }
  static constexpr int state_column(int /*s = 1, c*/, int H) { return 4 * H; }
  using Options = std::array<ActivationFunction, kActivations>;

  static bool usual(const Options& fn) {
    return fn[0] == ActivationFunction::Tanh && fn[1] == ActivationFunction::Sigmoid;
  }

  template <typename T>
  static void forward_row(const Options& fn, const engine::ForwardRow<T, 2>& row, int H) {
    const ActivationFunction act = fn[0], rec = fn[1];
    T* i = row.gates;
    T* f = i + H;
    T* g = i + 2 * H;
    T* o = i + 3 * H;
    activate_inplace(rec, i, 2 * static_cast<std::size_t>(H));  // i and f, adjacent
    activate_inplace(act, g, H);
    activate_inplace(rec, o, H);
    const T* c_prev = row.prev[1];
    T* c = row.next[1];
    T* act_c = row.saved + 5 * H;
    T* h = row.next[0];
    for (int j = 0; j < H; ++j) c[j] = f[j] * c_prev[j] + i[j] * g[j];
    std::copy_n(c, H, act_c);
    activate_inplace(act, act_c, H);
    for (int j = 0; j < H; ++j) h[j] = o[j] * act_c[j];
  }

  // The four gate gradients are built in place in d_gates, which also holds the temporaries:
  // dh in the i block, act′(c_t) in the f block, dc_t in the c block, until each is consumed.
  template <typename T>
  static void backward_row(const Options& fn, const engine::BackwardRow<T, 2>& row, int H) {
    if (usual(fn)) {          // tanh and sigmoid: one fused, vectorised pass (row_math.hpp)
      T* dh = row.d_prev[0];  // scratch: the driver writes dh_{t−1} there afterwards
      engine::sum_upstream(dh, row.d_output, row.d_later[0], H);
      T* dc = row.d_prev[1];  // dc_t in, dc_{t−1} out
      if (row.d_later[1] != dc)
        engine::sum_upstream(dc, row.d_later[1], static_cast<T*>(nullptr), H);
      lstm_backward_fused(row.d_gates, dc, dh, row.gates, row.prev[1], row.saved + 5 * H, H);
      return;
    }
    const ActivationFunction act = fn[0], rec = fn[1];
    const T* i = row.gates;
    const T* f = i + H;
    const T* g = i + 2 * H;
    const T* o = i + 3 * H;
    const T* act_c = row.saved + 5 * H;
    const T* c_prev = row.prev[1];
    const T* dc_later = row.d_later[1];
    T* dz_i = row.d_gates;
    T* dz_f = dz_i + H;
    T* dz_c = dz_i + 2 * H;
    T* dz_o = dz_i + 3 * H;
    T* dh = dz_i;
    T* dact = dz_f;
    T* dc = dz_c;

    const T* g1 = row.d_output;
    const T* g2 = row.d_later[0];
    for (int j = 0; j < H; ++j) dh[j] = (g1 ? g1[j] : T(0)) + (g2 ? g2[j] : T(0));
    std::fill_n(dact, H, T(1));
    scale_by_derivative(act, dact, act_c, H);
    for (int j = 0; j < H; ++j) {
      dc[j] = (dc_later ? dc_later[j] : T(0)) + dh[j] * o[j] * dact[j];
    }
    for (int j = 0; j < H; ++j) dz_o[j] = dh[j] * act_c[j];
    scale_by_derivative(rec, dz_o, o, H);
    for (int j = 0; j < H; ++j) dz_f[j] = dc[j] * c_prev[j];
    scale_by_derivative(rec, dz_f, f, H);
    T* dc_prev = row.d_prev[1];  // may be dc_later's memory: read above, written here
    for (int j = 0; j < H; ++j) dc_prev[j] = dc[j] * f[j];
    for (int j = 0; j < H; ++j) dz_i[j] = dc[j] * g[j];
    scale_by_derivative(rec, dz_i, i, H);
    for (int j = 0; j < H; ++j) dz_c[j] = dc[j] * i[j];
    scale_by_derivative(act, dz_c, g, H);
  }
};

}  // namespace rnnkit::cells
