// Definitions of the sequence driver (driver.hpp). Include only from a cell's .cpp file, then
// RNNKIT_INSTANTIATE_DRIVER(Cell) compiles it for float32 and float64.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "rnnkit/engine/cell.hpp"
#include "rnnkit/engine/driver.hpp"
#include "rnnkit/engine/products.hpp"
#include "rnnkit/interrupt.hpp"
#include "rnnkit/recycled_memory.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit::engine {

namespace detail {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using StridedMatrixMap = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using ConstStridedMatrixMap = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

inline int64_t valid_steps(const int64_t* lengths, int n, int T) {
  return lengths ? lengths[n] : T;
}

inline bool has_padding(const int64_t* lengths, int n0, int n1, int T) {
  if (!lengths) return false;
  return std::any_of(lengths + n0, lengths + n1, [T](int64_t len) { return len < T; });
}

// Whether step t of row n is valid: before its length, or unmasked.
template <typename T>
bool step_valid(const Batch<T>& batch, int n, int t) {
  const int steps = batch.shape.T;
  if (batch.step_mask) return batch.step_mask[static_cast<int64_t>(n) * steps + t] != 0;
  return t < valid_steps(batch.lengths, n, steps);
}

// The step whose states are row n's final states, or −1 for its initial states: the last valid
// one under lengths, the last one under a step mask (which carries states through masked steps).
template <typename T>
int64_t final_step(const Batch<T>& batch, int n) {
  const int steps = batch.shape.T;
  return (batch.step_mask ? steps : valid_steps(batch.lengths, n, steps)) - 1;
}

// Where the driver finds each piece of a cell's per-step storage.
template <typename Cell>
struct Layout {
  static constexpr int S = Cell::kStates;
  int T, H;
  int C;       // gate columns, kGates·H
  int W;       // saved columns per step
  int stride;  // from one step's gates to the next step's: H inside hs, else W

  explicit Layout(const SequenceShape& s)
      : T(s.T),
        H(s.H),
        C(Cell::kGates * s.H),
        W(Cell::saved_width(s.H)),
        stride(Cell::kGatesInOutput ? s.H : Cell::saved_width(s.H)) {}

  int64_t step(int n, int t) const { return static_cast<int64_t>(n) * T + t; }

  template <typename P>
  P* gates(P* hs, P* saved, int n, int t) const {
    return (Cell::kGatesInOutput ? hs : saved) + step(n, t) * stride;
  }
  template <typename P>
  P* saved_row(P* saved, int n, int t) const {
    return saved ? saved + step(n, t) * W : nullptr;
  }
  // The recurrent product h_{t−1}·Wh + b_h of a split-recurrent cell: saved columns [C, 2C).
  template <typename P>
  P* recurrent(P* saved, int n, int t) const {
    return saved + step(n, t) * W + C;
  }
  // The input of the late gates' recurrent product (a cell with kLateGates): in the saved row.
  template <typename P>
  P* late_input(P* saved, int n, int t) const {
    return saved + step(n, t) * W + Cell::late_input_column(H);
  }
  // State s of row n after step t (t ≥ 0): h in hs, the others in the saved row.
  template <typename P>
  P* state(P* hs, P* saved, int s, int n, int t) const {
    if (s == 0) return hs + step(n, t) * H;
    return saved + step(n, t) * W + Cell::state_column(s, H);
  }
};

// out (M×H, contiguous) = rows of h (M×H, ld apart) ⊙ mask rows (M×H, contiguous): the states
// as the recurrent product sees them under recurrent dropout.
template <typename T>
void mask_rows(T* out, const T* h, int64_t ld, const T* mask, int M, int H) {
  for (int m = 0; m < M; ++m) {
    const T* row = h + m * ld;
    const T* keep = mask + static_cast<int64_t>(m) * H;
    T* dst = out + static_cast<int64_t>(m) * H;
    for (int j = 0; j < H; ++j) dst[j] = row[j] * keep[j];
  }
}

// The row stride for rows of `cols` elements: `cols`, or 64 bytes more when rows would start a
// multiple of `alias_bytes` apart and so alias in the L1 cache (docs/performance.md, "After the
// first tuning"): Wh rows 4 KiB apart slowed the forward products by 15%, Whᵀ and dZ rows 1 KiB
// apart the LSTM backward by a quarter at H = 256.
template <typename T>
int64_t unaliased_stride(int64_t cols, int64_t alias_bytes) {
  const int64_t bytes = cols * static_cast<int64_t>(sizeof(T));
  return bytes % alias_bytes == 0 ? cols + 64 / static_cast<int64_t>(sizeof(T)) : cols;
}

// Steps from which the BLAS products' padded copy of Wh pays for itself (Driver::forward): a
// copy costs about one pass over Wh, and saved ~15% of each product's.
constexpr int kStepsToRepayCopy = 8;

// Whether the per-step products of `rows`-row slices read their K×N operand packed
// (packed_product.hpp): over two rows and more when that pays; one row (a single sequence, whose
// packed row kernel outran the BLAS's gemv) when there are steps enough to repay the packing.
template <typename T>
bool packs_step_operand(int64_t rows, int steps, int K, int N) {
  if (packed_kernel() == PackedKernel::Off) return false;
  return rows > 1 ? PackedMatrix<T>::pays(K, N) : steps >= kStepsToRepayCopy;
}

// Multiply-adds of one direction (forward or backward) over the whole batch.
template <typename Cell>
double sequence_flops(const SequenceShape& s) {
  return 2.0 * s.N * s.T * static_cast<double>(Cell::kGates) * s.H * (s.D + s.H);
}

// Everything one forward call works with, shared by its batch slices.
template <typename Cell, typename T>
struct ForwardCall {
  static constexpr int S = Cell::kStates;
  const Batch<T>& batch;
  const Weights<T>& w;
  const ConstStates<T, S>& initial;
  const Record<T>& record;
  const States<T, S>& final_states;
  const typename Cell::Options& options;
  const T* zeros;           // H zeros: the states before step 0 when no initial state is given
  StepOperand<T> Wh_early;  // Wh's columns whose products read h_{t−1}: the first C_early
  StepOperand<T> Wh_late;   // the late gates' columns (a cell with kLateGates)
  StopRequest& stop;
};

// The forward pass of batch rows [n0, n1).
template <typename Cell, typename T>
void forward_slice(const ForwardCall<Cell, T>& call, int n0, int n1) {
  constexpr int S = Cell::kStates;
  const auto& [batch, w, initial, record, final_states, options, zeros, Wh_early, Wh_late, stop] =
      call;
  StepTicker ticker(stop);
  const Layout<Cell> at(batch.shape);
  const int M = n1 - n0, steps = batch.shape.T, D = batch.shape.D, H = at.H, C = at.C;
  const int64_t rows = static_cast<int64_t>(M) * steps;
  const int ld_gates = steps * at.stride;  // from step t of one sequence to step t of the next
  T* gates_s = at.gates(record.hs, record.saved, n0, 0);
  const T* x_s = batch.x + static_cast<int64_t>(n0) * steps * D;

  if (rows > 0) {
    // The input projection of every step at once: Z = x·Wx + b.
    if (D == 1) {
      // A univariate series: an outer product plus the bias, row by row. A plain loop: as a
      // K = 1 product, Eigen's general kernel took 15% of the forward pass at H = 32.
      for (int64_t r = 0; r < rows; ++r) {
        ticker.tick();  // N·T rows: as long as the time loop when the steps are cheap
        T* z = gates_s + r * at.stride;
        const T xr = x_s[r];
        for (int j = 0; j < C; ++j) z[j] = w.b[j] + xr * w.Wx[j];
      }
    } else {
      StridedMatrixMap<T>(gates_s, rows, C, Eigen::OuterStride<>(at.stride)).rowwise() =
          ConstRowVectorMap<T>(w.b, C);
      blas::gemm(Trans::No, Trans::No, static_cast<int>(rows), C, D, T(1), x_s, D, w.Wx, C, T(1),
                 gates_s, at.stride);
    }
  }

  const T* mask_s =
      batch.recurrent_mask ? batch.recurrent_mask + static_cast<int64_t>(n0) * H : nullptr;
  std::vector<T> masked(mask_s ? static_cast<size_t>(M) * H : 0);  // h_{t−1} ⊙ mask, per step
  const int C_early = C - Cell::kLateGates * H;  // gate columns whose product reads h_{t−1}
  for (int t = 0; t < steps; ++t) {
    ticker.tick();
    T* gates_t = gates_s + static_cast<int64_t>(t) * at.stride;
    // Where the step's recurrent product goes: added onto the gates, or into its own columns.
    T* product_t = gates_t;
    int ld_product = ld_gates;
    if constexpr (Cell::kSplitRecurrent) {
      product_t = at.recurrent(record.saved, n0, t);
      ld_product = steps * at.W;
    }
    // The states the product reads: h_{t−1} in hs, or the initial state at t = 0.
    const T* h_prev = t > 0 ? at.state(record.hs, record.saved, 0, n0, t - 1)
                            : (initial[0] ? initial[0] + static_cast<int64_t>(n0) * H : nullptr);
    int ld_prev = t > 0 ? steps * H : H;
    if (h_prev && mask_s) {
      mask_rows(masked.data(), h_prev, ld_prev, mask_s, M, H);
      h_prev = masked.data();
      ld_prev = H;
    }
    // The late gates' columns get their product after the early row step (below).
    if constexpr (Cell::kSplitRecurrent) {
      // The recurrent product in its own columns, from the second bias row: written here, step
      // by step, rather than added onto a sequence-long copy of the bias made beforehand.
      bias_plus_times_Wh(product_t, ld_product, h_prev, ld_prev, Wh_early, M, H, C_early, w.b + C);
    } else if (h_prev) {
      add_times_Wh(product_t, ld_product, h_prev, ld_prev, Wh_early, M, H, C_early);
    }
    auto row_at = [&](int m) {
      const int n = n0 + m;
      ForwardRow<T, S> row{gates_t + static_cast<int64_t>(m) * ld_gates,
                           at.saved_row(record.saved, n, t),
                           nullptr,
                           w.cell,
                           h_prev ? h_prev + static_cast<int64_t>(m) * ld_prev : zeros,
                           {},
                           {}};
      if constexpr (Cell::kSplitRecurrent) row.recurrent = at.recurrent(record.saved, n, t);
      for (int s = 0; s < S; ++s) {
        row.prev[s] = t > 0 ? at.state(record.hs, record.saved, s, n, t - 1)
                            : (initial[s] ? initial[s] + static_cast<int64_t>(n) * H : zeros);
        row.next[s] = at.state(record.hs, record.saved, s, n, t);
      }
      return row;
    };
    auto valid = [&](int m) { return step_valid(batch, n0 + m, t); };
    auto padded = [&](int m) {
      const int n = n0 + m;
      if (valid(m)) return false;
      // Padding: zero output (and saved columns, which the weight gradients read with a zero
      // gradient). Padded x never reaches a valid step. A masked step then carries the states.
      std::fill_n(at.state(record.hs, record.saved, 0, n, t), H, T(0));
      if (at.W > 0) std::fill_n(at.saved_row(record.saved, n, t), at.W, T(0));
      if (batch.step_mask) {
        const ForwardRow<T, S> row = row_at(m);
        for (int s = 0; s < S; ++s) std::copy_n(row.prev[s], H, row.next[s]);
      }
      return true;
    };
    if constexpr (Cell::kLateGates > 0) {
      for (int m = 0; m < M; ++m) {
        if (!padded(m)) Cell::forward_early_row(options, row_at(m), H);
      }
      add_times_Wh(gates_t + C_early, ld_gates, at.late_input(record.saved, n0, t), steps * at.W,
                   Wh_late, M, H, C - C_early);
      for (int m = 0; m < M; ++m) {
        if (valid(m)) Cell::forward_row(options, row_at(m), H);
      }
    } else {
      for (int m = 0; m < M; ++m) {
        if (!padded(m)) Cell::forward_row(options, row_at(m), H);
      }
    }
  }

  for (int n = n0; n < n1; ++n) {
    const int64_t last = final_step(batch, n);
    for (int s = 0; s < S; ++s) {
      T* dst = final_states[s] + static_cast<int64_t>(n) * H;
      if (last >= 0) {
        std::copy_n(at.state(record.hs, record.saved, s, n, static_cast<int>(last)), H, dst);
      } else if (initial[s]) {
        std::copy_n(initial[s] + static_cast<int64_t>(n) * H, H, dst);
      } else {
        std::fill_n(dst, H, T(0));
      }
    }
  }
}

// Scratch of one backward call, allocated before any thread starts: nothing is allocated inside
// the time loop. Left uninitialised: every row is written before it is read (zeroing dZ alone
// cost ~10% of a small backward pass).
template <typename T>
struct BackwardScratch {
  T* dZ;      // (N,T,cz): dL/d(pre-activations) in the first C of cz columns per row
  T* dR;      // (N,T,C): dL/d(recurrent products) of a split-recurrent cell; else dZ itself
  T* carry;   // K = max(S·H, C) columns per batch row; a slice [n0, n1) owns rows n0·K up
              // to n1·K, as S blocks of (M,H): dL/d(states) arriving from the step after;
              // after its time loop, as (M,C): dZ's first steps, set apart for dWh
  int64_t K;  // carry columns per batch row
  StepOperand<T> WhT;  // (C,H): Whᵀ row-major
  int cz;  // dZ's (and dR's) columns per row: C, or a little more (see Driver::backward)
};

// Everything one backward call works with, shared by its batch slices.
template <typename Cell, typename T>
struct BackwardCall {
  static constexpr int S = Cell::kStates;
  const Batch<T>& batch;
  const Weights<T>& w;
  const ConstStates<T, S>& initial;
  const ConstRecord<T>& record;
  const Upstream<T, S>& up;
  const InputGrads<T, S>& out;
  const typename Cell::Options& options;
  const BackwardScratch<T>& scratch;
  const T* zeros;  // H zeros: the states before step 0 when no initial state is given
  int truncate;
  StopRequest& stop;
};

// The backward pass of batch rows [n0, n1) into this worker's weight gradients dw (zero on
// entry; out.dw for the first worker, a private copy for the others).
template <typename Cell, typename T>
void backward_slice(const BackwardCall<Cell, T>& call, const WeightGrads<T>& dw, int n0, int n1) {
  constexpr int S = Cell::kStates;
  const auto& [batch, w, initial, record, up, out, options, scratch, zeros, truncate, stop] = call;
  StepTicker ticker(stop);
  const Layout<Cell> at(batch.shape);
  const int M = n1 - n0, steps = batch.shape.T, D = batch.shape.D;
  const int H = at.H, C = at.C;
  const int cz = scratch.cz;  // from one step's dZ row to the next
  const int ld_dZ = steps * cz;
  const int64_t rows = static_cast<int64_t>(M) * steps;
  T* dZ_s = scratch.dZ + static_cast<int64_t>(n0) * ld_dZ;
  T* dR_s = scratch.dR + static_cast<int64_t>(n0) * ld_dZ;  // what Wh's products see
  const T* hs_s = record.hs + static_cast<int64_t>(n0) * steps * H;
  const T* x_s = batch.x + static_cast<int64_t>(n0) * steps * D;
  T* dx_s = out.dx + static_cast<int64_t>(n0) * steps * D;
  // carry[s] row m: dL/d(state s after step t) arriving from step t + 1.
  T* carry_s = scratch.carry + static_cast<int64_t>(n0) * scratch.K;
  const T* mask_s =
      batch.recurrent_mask ? batch.recurrent_mask + static_cast<int64_t>(n0) * H : nullptr;
  std::vector<T> masked_grad(mask_s ? static_cast<size_t>(M) * H : 0);
  std::array<T*, S> carry;
  for (int s = 0; s < S; ++s) carry[s] = carry_s + static_cast<int64_t>(s) * M * H;
  if constexpr (Cell::kDirectH) {
    // The recurrent product is added onto the carry, also on rows whose step is padding (their
    // carry is never read, but must not be uninitialised memory).
    std::fill_n(carry[0], static_cast<int64_t>(M) * H, T(0));
  }
  // Under a step mask every row's states run through all T steps, so the final states'
  // gradients enter the carry before the last step, and a masked step passes it straight on
  // (the rows of h it held set aside here while the step's product overwrites the carry).
  const bool carries = batch.step_mask != nullptr;
  std::vector<T> held(carries ? static_cast<size_t>(M) * H : 0);
  if (carries) {
    for (int s = 0; s < S; ++s) {
      for (int m = 0; m < M; ++m) {
        T* dst = carry[s] + static_cast<int64_t>(m) * H;
        const T* d_final = up.d_final[s];
        if (d_final) {
          std::copy_n(d_final + static_cast<int64_t>(n0 + m) * H, H, dst);
        } else {
          std::fill_n(dst, H, T(0));
        }
      }
    }
  }
  auto initial_state = [&](int s, int n) {
    return initial[s] ? initial[s] + static_cast<int64_t>(n) * H : zeros;
  };

  constexpr bool kLate = Cell::kLateGates > 0;
  const int C_early = C - Cell::kLateGates * H;  // gate columns whose product reads h_{t−1}
  // Late-gate cells: per step, dL/d(late input), dL/d(h_product) and h_{t−1} ⊙ mask.
  std::vector<T> late_grad(kLate ? static_cast<size_t>(M) * H : 0);
  std::vector<T> product_grad(kLate ? static_cast<size_t>(M) * H : 0);
  std::vector<T> masked_prev(kLate && mask_s ? static_cast<size_t>(M) * H : 0);

  for (int t = steps - 1; t >= 0; --t) {
    ticker.tick();
    const T* h_product = nullptr;  // kLate: the rows of h_{t−1} the product saw
    int ld_product = H;
    if constexpr (kLate) {
      h_product = t > 0 ? hs_s + static_cast<int64_t>(t - 1) * H
                        : (initial[0] ? initial[0] + static_cast<int64_t>(n0) * H : nullptr);
      ld_product = t > 0 ? steps * H : H;
      if (h_product && mask_s) {
        mask_rows(masked_prev.data(), h_product, ld_product, mask_s, M, H);
        h_product = masked_prev.data();
        ld_product = H;
      }
    }
    auto row_at = [&](int m) {
      const int n = n0 + m;
      const int64_t last = carries ? -1 : final_step(batch, n);
      const int64_t at_dZ = static_cast<int64_t>(m) * ld_dZ + static_cast<int64_t>(t) * cz;
      BackwardRow<T, S> row{};
      row.d_gates = dZ_s + at_dZ;
      row.cell_params = w.cell;
      row.d_cell_params = dw.d_cell;
      if constexpr (Cell::kSplitRecurrent) {
        row.d_recurrent = dR_s + at_dZ;
        row.recurrent = at.recurrent(record.saved, n, t);
      }
      if constexpr (kLate) {
        row.h_product = h_product ? h_product + static_cast<int64_t>(m) * ld_product : zeros;
        row.d_late_input = late_grad.data() + static_cast<int64_t>(m) * H;
        row.d_product_input = product_grad.data() + static_cast<int64_t>(m) * H;
      }
      row.d_output = up.dhs ? up.dhs + at.step(n, t) * H : nullptr;
      row.gates = at.gates(record.hs, record.saved, n, t);
      row.saved = at.saved_row(record.saved, n, t);
      for (int s = 0; s < S; ++s) {
        // The last valid step receives the final states' gradients; earlier ones the carry
        // (which holds them from the start under a step mask).
        if (t == last) {
          row.d_later[s] = up.d_final[s] ? up.d_final[s] + static_cast<int64_t>(n) * H : nullptr;
        } else {
          row.d_later[s] = carry[s] + static_cast<int64_t>(m) * H;
        }
        row.d_prev[s] = t > 0 ? carry[s] + static_cast<int64_t>(m) * H
                              : out.d_initial[s] + static_cast<int64_t>(n) * H;
        row.prev[s] = t > 0 ? at.state(record.hs, record.saved, s, n, t - 1) : initial_state(s, n);
        row.next[s] = at.state(record.hs, record.saved, s, n, t);
      }
      return row;
    };
    auto valid = [&](int m) { return step_valid(batch, n0 + m, t); };
    auto padded = [&](int m) {
      if (valid(m)) return false;
      const int64_t at_dZ = static_cast<int64_t>(m) * ld_dZ + static_cast<int64_t>(t) * cz;
      std::fill_n(dZ_s + at_dZ, C, T(0));
      if constexpr (Cell::kSplitRecurrent) std::fill_n(dR_s + at_dZ, C, T(0));
      if constexpr (kLate) std::fill_n(product_grad.data() + static_cast<int64_t>(m) * H, H, T(0));
      if (carries) {  // hs at a masked step is the carried h: its gradient joins h's carry
        T* dh = carry[0] + static_cast<int64_t>(m) * H;
        if (up.dhs) {
          const T* d_output = up.dhs + at.step(n0 + m, t) * H;
          for (int j = 0; j < H; ++j) dh[j] += d_output[j];
        }
        std::copy_n(dh, H, held.data() + static_cast<int64_t>(m) * H);
      }
      return true;
    };
    // After the step's product wrote dL/d(states before it): a masked row's are those after it.
    auto pass_masked_rows_back = [&] {
      for (int m = 0; m < M; ++m) {
        if (valid(m)) continue;
        const int n = n0 + m;
        for (int s = 0; s < S; ++s) {
          const T* from = s == 0 ? held.data() + static_cast<int64_t>(m) * H
                                 : carry[s] + static_cast<int64_t>(m) * H;
          T* to = t > 0 ? carry[s] + static_cast<int64_t>(m) * H
                        : out.d_initial[s] + static_cast<int64_t>(n) * H;
          if (to != from) std::copy_n(from, H, to);
        }
      }
    };
    const T* dR_t = dR_s + static_cast<int64_t>(t) * cz;
    if constexpr (kLate) {
      for (int m = 0; m < M; ++m) {
        if (!padded(m)) Cell::backward_late_row(options, row_at(m), H);
      }
      times_Wh_transposed(late_grad.data(), H, dR_t + C_early, ld_dZ, scratch.WhT, C_early, M, H,
                          C - C_early, false);
      for (int m = 0; m < M; ++m) {
        if (valid(m)) Cell::backward_row(options, row_at(m), H);
      }
    } else {
      for (int m = 0; m < M; ++m) {
        if (!padded(m)) Cell::backward_row(options, row_at(m), H);
      }
    }
    if (truncate > 0 && t > 0 && t % truncate == 0) {
      for (int s = 0; s < S; ++s) {  // truncated BPTT: cut every state's path here
        std::fill_n(carry[s], static_cast<int64_t>(M) * H, T(0));
      }
      continue;
    }
    // dh_{t−1} (+)= dR_t·Whᵀ, into the carry, or into the initial state's gradient at t = 0.
    T* dh_prev = t > 0 ? carry[0] : out.d_initial[0] + static_cast<int64_t>(n0) * H;
    if (!mask_s && !kLate) {
      times_Wh_transposed(dh_prev, H, dR_t, ld_dZ, scratch.WhT, 0, M, H, C, Cell::kDirectH);
    } else {
      // The product saw h_{t−1} ⊙ mask (and a late-gate cell used it beyond the products too):
      // the gradient with respect to what the product saw reaches h_{t−1} through the mask.
      T* seen = kLate ? product_grad.data() : masked_grad.data();
      times_Wh_transposed(seen, H, dR_t, ld_dZ, scratch.WhT, 0, M, H, C_early, kLate);
      for (int64_t i = 0; i < static_cast<int64_t>(M) * H; ++i) {
        const T g = mask_s ? seen[i] * mask_s[i] : seen[i];
        dh_prev[i] = Cell::kDirectH ? dh_prev[i] + g : g;
      }
    }
    if (carries) pass_masked_rows_back();
  }
  for (int m = 0; m < M; ++m) {
    const int n = n0 + m;
    if (final_step(batch, n) >= 0) continue;
    for (int s = 0; s < S; ++s) {  // the states passed through every (padded) step unchanged
      T* dst = out.d_initial[s] + static_cast<int64_t>(n) * H;
      if (up.d_final[s]) {
        std::copy_n(up.d_final[s] + static_cast<int64_t>(n) * H, H, dst);
      } else {
        std::fill_n(dst, H, T(0));
      }
    }
  }
  if (rows == 0) return;
  const int r = static_cast<int>(rows);

  // dx = dZ·Wxᵀ over all steps at once.
  if (D == 1) {
    blas::gemv(Trans::No, r, C, T(1), dZ_s, cz, w.Wx, T(0), dx_s);
  } else {
    blas::gemm(Trans::No, Trans::Yes, r, D, C, T(1), dZ_s, cz, w.Wx, C, T(0), dx_s, D);
  }

  // dWx = xᵀ·dZ. With padding, only valid steps are read, so padded x (even NaN) stays unseen.
  if (has_padding(batch.lengths, n0, n1, steps)) {
    for (int m = 0; m < M; ++m) {
      const int len = static_cast<int>(valid_steps(batch.lengths, n0 + m, steps));
      if (len == 0) continue;
      accumulate_At_B(dw.dWx, C, x_s + static_cast<int64_t>(m) * steps * D, D,
                      dZ_s + static_cast<int64_t>(m) * ld_dZ, cz, len, D, C);
    }
  } else if (D == 1) {
    blas::gemv(Trans::Yes, r, C, T(1), dZ_s, cz, x_s, T(1), dw.dWx);
  } else {
    accumulate_At_B(dw.dWx, C, x_s, D, dZ_s, cz, r, D, C);
  }

  // dWh = Σ_t h_{t−1}ᵀ·dR_t (dR is dZ unless the cell splits the recurrent product). Row i of
  // hs is h_{t−1} for row i + 1 of dR, except across sequence boundaries, where dR's row is a
  // first step pairing with h0: set those rows apart (in the carry, now free) so the rest is one
  // GEMM over hs rows [0, r−1) and dR rows [1, r).
  T* first_steps = carry_s;
  for (int m = 0; m < M; ++m) {
    T* row = dR_s + static_cast<int64_t>(m) * ld_dZ;
    std::copy_n(row, C, first_steps + static_cast<int64_t>(m) * C);
    std::fill_n(row, C, T(0));
  }
  if (r > 1 && !mask_s) accumulate_At_B(dw.dWh, C, hs_s, H, dR_s + cz, cz, r - 1, H, C_early);
  if (r > 1 && mask_s) {
    // Under recurrent dropout the product saw h ⊙ mask: multiply by masked copies of hs, a few
    // hundred rows at a time (one whole copy cost ~380 page faults a call, doubling a small
    // backward pass).
    constexpr int64_t kChunkRows = 256;
    std::vector<T> masked_rows(static_cast<size_t>(std::min<int64_t>(kChunkRows, r - 1) * H));
    for (int64_t r0 = 0; r0 < r - 1; r0 += kChunkRows) {
      const int64_t k = std::min<int64_t>(kChunkRows, r - 1 - r0);
      for (int64_t i = 0; i < k; ++i) {
        const int64_t row = r0 + i;  // of hs_s, in sequence row / steps
        mask_rows(masked_rows.data() + i * H, hs_s + row * H, H, mask_s + (row / steps) * H, 1, H);
      }
      accumulate_At_B(dw.dWh, C, masked_rows.data(), H, dR_s + (r0 + 1) * cz, cz, k, H, C_early);
    }
  }
  if (initial[0]) {
    const T* h0_rows = initial[0] + static_cast<int64_t>(n0) * H;
    if (mask_s) {
      std::vector<T> masked_h0(static_cast<size_t>(M) * H);
      mask_rows(masked_h0.data(), h0_rows, H, mask_s, M, H);
      blas::gemm(Trans::Yes, Trans::No, H, C_early, M, T(1), masked_h0.data(), H, first_steps, C,
                 T(1), dw.dWh, C);
    } else {
      blas::gemm(Trans::Yes, Trans::No, H, C_early, M, T(1), h0_rows, H, first_steps, C, T(1),
                 dw.dWh, C);
    }
  }
  for (int m = 0; m < M; ++m) {
    std::copy_n(first_steps + static_cast<int64_t>(m) * C, C,
                dR_s + static_cast<int64_t>(m) * ld_dZ);
  }

  if constexpr (kLate) {  // the late gates' product read the saved late inputs, step by step
    accumulate_At_B(dw.dWh + C_early, C, at.late_input(record.saved, n0, 0), at.W, dR_s + C_early,
                    cz, rows, H, C - C_early);
  }

  accumulate_column_sums(dw.db, dZ_s, rows, C, cz);
  if constexpr (Cell::kSplitRecurrent) {  // the second bias row: the recurrent products'
    accumulate_column_sums(dw.db + C, dR_s, rows, C, cz);
  }
}

}  // namespace detail

template <typename Cell, typename T>
void Driver<Cell, T>::forward(const Batch<T>& batch, const Weights<T>& weights,
                              const ConstStates<T, S>& initial, const Record<T>& record,
                              const States<T, S>& final_states, const Options& options) {
  BlasInUse blas_in_use;
  const int H = batch.shape.H, C = Cell::kGates * H;
  const std::vector<T> zeros(static_cast<size_t>(H), T(0));
  // The per-step products read Wh packed once here, when that pays.
  const int C_early = C - Cell::kLateGates * H;
  PackedMatrix<T> packed_early, packed_late;
  if (detail::packs_step_operand<T>(batch.shape.N, batch.shape.T, H, C)) {
    packed_early = PackedMatrix<T>(weights.Wh, C, H, C_early);
    if (C_early < C) packed_late = PackedMatrix<T>(weights.Wh + C_early, C, H, C - C_early);
  }
  // The BLAS's products read a copy of Wh whose rows are off 4 KiB multiples
  // (detail::unaliased_stride), when there are steps enough to repay the copy: one step of one
  // row (generation, a character at a time) spent 45 of its 59 µs copying an LSTM's 1 MiB Wh.
  std::vector<T> padded_Wh;
  const T* Wh = weights.Wh;
  int ld_Wh = C;
  const int padded_ld = static_cast<int>(detail::unaliased_stride<T>(C, 4096));
  if (padded_ld != C && packed_early.empty() && batch.shape.T >= detail::kStepsToRepayCopy) {
    ld_Wh = padded_ld;
    padded_Wh.resize(static_cast<size_t>(H) * ld_Wh);
    detail::StridedMatrixMap<T>(padded_Wh.data(), H, C, Eigen::OuterStride<>(ld_Wh)) =
        detail::ConstMatrixMap<T>(weights.Wh, H, C);
    Wh = padded_Wh.data();
  }
  auto operand = [&](int column, const PackedMatrix<T>& packed) {
    return StepOperand<T>{Wh + column, ld_Wh, packed.empty() ? nullptr : &packed};
  };
  const int workers = choose_workers(batch.shape.N, detail::sequence_flops<Cell>(batch.shape));
  StopRequest stop;
  const detail::ForwardCall<Cell, T> call{batch,
                                          weights,
                                          initial,
                                          record,
                                          final_states,
                                          options,
                                          zeros.data(),
                                          operand(0, packed_early),
                                          operand(C_early, packed_late),
                                          stop};
  keep_blas_serial();
  for_each_slice(
      batch.shape.N, workers,
      [&](Slice slice) { detail::forward_slice(call, slice.begin, slice.end); },
      [&] { stop.poll(std::chrono::steady_clock::now()); });
}

template <typename Cell, typename T>
void Driver<Cell, T>::backward(const Batch<T>& batch, const Weights<T>& weights,
                               const ConstStates<T, S>& initial, const ConstRecord<T>& record,
                               const Upstream<T, S>& upstream, const InputGrads<T, S>& grads,
                               const Options& options, int truncate) {
  static_assert(Cell::kBiasRows == (Cell::kSplitRecurrent ? 2 : 1),
                "a split-recurrent cell has a bias row for each product, other cells one");
  BlasInUse blas_in_use;
  const SequenceShape& shape = batch.shape;
  const int64_t D = shape.D, H = shape.H, C = int64_t{Cell::kGates} * shape.H;
  const int64_t wx_size = D * C, wh_size = H * C;
  const auto n_rows = static_cast<size_t>(shape.N);
  // dZ rows a multiple of 1 KiB long (4H = 1024 floats at H = 256) put every step's rows of the
  // per-step product 4 KiB apart, aliasing in the L1 cache: pad them by 64 bytes.
  const int64_t cz = detail::unaliased_stride<T>(C, 1024);
  const RecycledArray<T> dZ(n_rows * shape.T * cz);
  const RecycledArray<T> dR(Cell::kSplitRecurrent ? n_rows * shape.T * cz : 0);
  const int64_t K = std::max<int64_t>(S * H, C);
  const RecycledArray<T> carry(n_rows * static_cast<size_t>(K));
  // Whᵀ for the per-step products, with rows off 1 KiB multiples too.
  const int64_t ld_WhT = detail::unaliased_stride<T>(H, 1024);
  const std::unique_ptr<T[]> WhT(new T[static_cast<size_t>(C * ld_WhT)]);
  transpose_into(WhT.get(), ld_WhT, weights.Wh, C, static_cast<int>(H), static_cast<int>(C));
  PackedMatrix<T> packed_WhT;
  if (detail::packs_step_operand<T>(shape.N, shape.T, static_cast<int>(C), static_cast<int>(H))) {
    packed_WhT = PackedMatrix<T>(WhT.get(), ld_WhT, static_cast<int>(C), static_cast<int>(H));
  }
  const std::vector<T> zeros(static_cast<size_t>(H), T(0));
  T* dR_or_dZ = Cell::kSplitRecurrent ? dR.get() : dZ.get();
  const detail::BackwardScratch<T> scratch{
      dZ.get(),
      dR_or_dZ,
      carry.get(),
      K,
      {WhT.get(), static_cast<int>(ld_WhT), packed_WhT.empty() ? nullptr : &packed_WhT},
      static_cast<int>(cz)};

  const int workers = choose_workers(shape.N, 2.0 * detail::sequence_flops<Cell>(shape));
  const int64_t b_size = int64_t{Cell::kBiasRows} * C;
  const int64_t cell_size = int64_t{Cell::kCellParams} * H;
  const int64_t per_worker = wx_size + wh_size + b_size + cell_size;
  std::vector<T> extra(static_cast<size_t>(std::max(0, workers - 1) * per_worker), T(0));
  const WeightGrads<T>& dw = grads.dw;
  std::fill_n(dw.dWx, wx_size, T(0));
  std::fill_n(dw.dWh, wh_size, T(0));
  std::fill_n(dw.db, b_size, T(0));
  if (cell_size > 0) std::fill_n(dw.d_cell, cell_size, T(0));
  auto grads_of = [&](int worker) {
    if (worker == 0) return dw;
    T* base = extra.data() + (worker - 1) * per_worker;
    return WeightGrads<T>{base, base + wx_size, base + wx_size + wh_size,
                          cell_size > 0 ? base + wx_size + wh_size + b_size : nullptr};
  };

  StopRequest stop;
  const detail::BackwardCall<Cell, T> call{batch,        weights,  initial, record,
                                           upstream,     grads,    options, scratch,
                                           zeros.data(), truncate, stop};
  keep_blas_serial();
  for_each_slice(
      shape.N, workers,
      [&](Slice slice) {
        detail::backward_slice(call, grads_of(slice.index), slice.begin, slice.end);
      },
      [&] { stop.poll(std::chrono::steady_clock::now()); });
  for (int w = 1; w < workers; ++w) {
    const WeightGrads<T> part = grads_of(w);
    detail::MatrixMap<T>(dw.dWx, D, C) += detail::MatrixMap<T>(part.dWx, D, C);
    detail::MatrixMap<T>(dw.dWh, H, C) += detail::MatrixMap<T>(part.dWh, H, C);
    detail::MatrixMap<T>(dw.db, 1, b_size) += detail::MatrixMap<T>(part.db, 1, b_size);
    if (cell_size > 0) {
      detail::MatrixMap<T>(dw.d_cell, 1, cell_size) +=
          detail::MatrixMap<T>(part.d_cell, 1, cell_size);
    }
  }
}

}  // namespace rnnkit::engine

// Compiles the driver for one cell in float32 and float64: one line in the cell's .cpp file.
#define RNNKIT_INSTANTIATE_DRIVER(Cell)                \
  template struct rnnkit::engine::Driver<Cell, float>; \
  template struct rnnkit::engine::Driver<Cell, double>;
