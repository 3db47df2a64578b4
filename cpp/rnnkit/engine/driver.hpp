// The sequence driver: forward and backward of any cell (cell.hpp) over whole sequences.
//
// Forward, per batch slice:  Z = x·Wx + b for all steps (one GEMM); then per step
// Z_t += h_{t−1}·Wh (one GEMM, or gemv for one row, over all gates) and the cell's row function.
// Backward, per slice, per step from the last: the cell's row function gives dZ_t, then
// dh_{t−1} = dZ_t·Whᵀ (one GEMM); after the loop dx, dWx, dWh and db are single GEMMs over all
// steps. Batch slices run on the worker pool with the BLAS single-threaded (threads.hpp).
// Shapes and packed-sequence semantics: sequence.hpp.
//
// This header declares; driver_impl.hpp defines, and only a cell's own .cpp file includes it
// (RNNKIT_INSTANTIATE_DRIVER), so each cell compiles once, in its own translation unit.
#pragma once

#include "rnnkit/engine/sequence.hpp"

namespace rnnkit::engine {

template <typename Cell, typename T>
struct Driver {
  static constexpr int S = Cell::kStates;
  using Options = typename Cell::Options;

  static void forward(const Batch<T>& batch, const Weights<T>& weights,
                      const ConstStates<T, S>& initial, const Record<T>& record,
                      const States<T, S>& final_states, const Options& options);

  // truncate = k > 0 cuts the gradient through the states between steps t−1 and t whenever t
  // is a positive multiple of k; 0 means full BPTT.
  static void backward(const Batch<T>& batch, const Weights<T>& weights,
                       const ConstStates<T, S>& initial, const ConstRecord<T>& record,
                       const Upstream<T, S>& upstream, const InputGrads<T, S>& grads,
                       const Options& options, int truncate);
};

}  // namespace rnnkit::engine
