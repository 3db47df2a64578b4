// What a recurrent kernel call receives and produces, as small named structs: the batch, the
// weights, the states, the forward's record, the upstream gradients and the gradients out.
//
// Layout is batch-first and row-major throughout, as NumPy hands it over (G = Cell::kGates):
//   x (N,T,D)  Wx (D,G·H)  Wh (H,G·H)  b (kBiasRows·G·H)  states (N,H) each
//   hs (N,T,H)  saved (N,T,W) with W = Cell::saved_width(H)
// Step t of every sequence is the strided row set {n·T + t}, so each per-step product is one
// GEMM with a leading dimension of T rows, and no time-major copy is ever made.
//
// Packed sequences: row n is valid for t < lengths[n]; padded steps output zeros, carry no
// gradient, and the final states of row n are those after its last valid step (its initial
// states when lengths[n] = 0). Step masks (Batch::step_mask): any steps may be masked; a masked
// step carries the states, so hs holds the state after every step and the final states are those
// after step T−1. See docs/architecture.md, "Numerical conventions".
#pragma once

#include <array>
#include <cstdint>

namespace rnnkit::engine {

struct SequenceShape {
  int N;  // batch
  int T;  // time steps
  int D;  // input features
  int H;  // hidden units
};

// The inputs of a forward call: the batch and how much of each row is valid.
template <typename T>
struct Batch {
  const T* x;              // (N,T,D)
  const int64_t* lengths;  // (N,), or null: every row has T valid steps
  SequenceShape shape;
  // (N,H), or null: recurrent dropout. Row n's h_{t−1} is multiplied by it (the same mask at
  // every step) where it enters the recurrent product, and nowhere else.
  const T* recurrent_mask = nullptr;
  // (N,T), or null; never given with lengths. Keras's masks: step t of row n is valid where it
  // is nonzero; a masked step carries every state through unchanged (hs holds the carried h),
  // passes the gradients of the states straight back, and gives x no gradient.
  const uint8_t* step_mask = nullptr;
};

template <typename T>
struct Weights {
  const T* Wx;              // (D, G·H)
  const T* Wh;              // (H, G·H)
  const T* b;               // (kBiasRows·G·H)
  const T* cell = nullptr;  // (kCellParams·H): the cell's own parameters, e.g. a layer norm's
};

template <typename T>
struct WeightGrads {
  T* dWx;               // (D, G·H)
  T* dWh;               // (H, G·H)
  T* db;                // (kBiasRows·G·H)
  T* d_cell = nullptr;  // (kCellParams·H)
};

// One pointer per recurrent state (h first, then the cell's others, e.g. c), each (N,H).
// In inputs a null pointer means zeros.
template <typename T, int S>
using States = std::array<T*, S>;
template <typename T, int S>
using ConstStates = std::array<const T*, S>;

// What the forward records for the backward: the output sequence and the cell's saved columns.
template <typename T>
struct Record {
  T* hs;     // (N,T,H): h_t, zeros at padded steps
  T* saved;  // (N,T,W), null when the cell saves nothing beyond hs
};
template <typename T>
struct ConstRecord {
  const T* hs;
  const T* saved;
};

// Gradients arriving from above: through the output sequence and through the final states.
template <typename T, int S>
struct Upstream {
  const T* dhs;               // (N,T,H), or null: zeros
  ConstStates<T, S> d_final;  // (N,H) each, or null: zeros
};

// Gradients a backward call writes (every array is overwritten).
template <typename T, int S>
struct InputGrads {
  T* dx;                   // (N,T,D)
  WeightGrads<T> dw;       // shaped like the weights
  States<T, S> d_initial;  // (N,H) each: also when no initial state was given
};

}  // namespace rnnkit::engine
