// Sparse categorical cross-entropy and its gradient in one pass over the rows, from logits or
// from probabilities (rnnkit.losses.SparseCategoricalCrossentropy: python/rnnkit/losses.py).
#pragma once

#include <cstdint>

namespace rnnkit::layer_math {

// Rows of C class scores with one label each; the weight of each row (sample weights, with
// masked steps given weight 0 and `valid` 0) and the factor every gradient is scaled by (the
// mean's 1/count).
template <typename T>
struct CrossEntropyRows {
  const T* scores;        // rows × C: logits, or probabilities
  const int64_t* labels;  // rows, each in [0, C)
  const double* weights;  // rows, or null for 1
  const uint8_t* valid;   // rows, or null for all: an invalid row adds nothing, gradient 0, and
                          // is never read (NaN there stays unseen)
  int rows;
  int C;
};

// From logits: loss_r = logsumexp(z_r) − z_r[label], gradient softmax(z_r) − onehot.
// From probabilities (Keras's): q = clip(p / sum(p), 1e-7, 1 − 1e-7), loss_r = −log q[label],
// the gradient through the normalisation and zero through the clip.
// Writes grad (rows × C) = weight_r · scale · ∂loss_r/∂scores and returns Σ weight_r · loss_r
// over the valid rows (summed in double).
template <typename T>
double sparse_cross_entropy(const CrossEntropyRows<T>& rows, bool from_logits, double scale,
                            T* grad);

}  // namespace rnnkit::layer_math
