// The optimizers' per-parameter updates and the squared norm for gradient clipping, each one
// pass over a parameter's arrays (rnnkit.optimizers, python/rnnkit/optimizers.py, holds the
// formulas and the state; these only compute).
#pragma once

#include <cstddef>

namespace rnnkit::layer_math {

// Adam, Keras's epsilon-hat form: m += (1 − β1)(g − m); v += (1 − β2)(g² − v);
// p −= lr_t · m / (√v + ε), with lr_t the step's bias-corrected rate. n entries each.
template <typename T>
struct AdamArrays {
  T* p;
  const T* g;
  T* m;
  T* v;
  std::size_t n;
};
struct AdamRates {
  double lr_t;
  double beta_1;
  double beta_2;
  double epsilon;
};
template <typename T>
void adam_update(const AdamArrays<T>& arrays, const AdamRates& rates);

// SGD with momentum (Keras's): v = μ·v − lr·g, then p += v, or p += μ·v − lr·g (Nesterov).
template <typename T>
void sgd_momentum_update(T* p, const T* g, T* v, std::size_t n, double lr, double momentum,
                         bool nesterov);

// Σ g², accumulated in double (rnnkit.clipping's norms are float64 for any gradient dtype).
template <typename T>
double sum_of_squares(const T* g, std::size_t n);

}  // namespace rnnkit::layer_math
