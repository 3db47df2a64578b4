// Forward and backward kernels of a vanilla (Elman) RNN layer over whole sequences.
//
// Layout is batch-first and row-major throughout, as NumPy hands it over:
//   x (N,T,D)  Wx (D,H)  Wh (H,H)  b (H)  h0 (N,H)  hs (N,T,H)  h_last (N,H)
// Step t of every sequence is the strided row set {n·T + t}, so each per-step product is one
// GEMM with leading dimension T·H, and no time-major copy is ever made.
//
// Cell:  a_t = x_t·Wx + h_{t−1}·Wh + b,   h_t = f(a_t),   f ∈ {tanh, relu}.
// Packed sequences: row n is valid for t < lengths[n]; padded steps output zeros, carry no
// gradient, and h_last[n] is the state after the last valid step (h0[n] when lengths[n] = 0).
#pragma once

#include <cstdint>

#include "rnnkit/activations.hpp"

namespace rnnkit {

struct RnnShape {
  int N;  // batch
  int T;  // time steps
  int D;  // input features
  int H;  // hidden units
};

// Outputs: hs, h_last. Inputs: x, Wx, Wh, b, h0 (null = zeros), lengths (null = all T).
template <typename T>
void rnn_forward(T* hs, T* h_last,
                 const T* x, const T* Wx, const T* Wh, const T* b, const T* h0,
                 const int64_t* lengths, RnnShape shape, Activation act);

// Outputs: dx, dWx, dWh, db, dh0 (all overwritten). Upstream: dhs, dh_last (null = zeros).
// Saved from the forward: x, Wx, Wh, h0, hs, lengths. truncate = k > 0 cuts the gradient through
// h between steps t−1 and t whenever t is a positive multiple of k; 0 means full BPTT.
template <typename T>
void rnn_backward(T* dx, T* dWx, T* dWh, T* db, T* dh0,
                  const T* dhs, const T* dh_last,
                  const T* x, const T* Wx, const T* Wh, const T* h0, const T* hs,
                  const int64_t* lengths, RnnShape shape, Activation act, int truncate);

}  // namespace rnnkit
