#include "rnnkit/activations.hpp"

#include <algorithm>
#include <cmath>

#include "rnnkit/elementwise.hpp"

namespace rnnkit {
namespace {

using F = ActivationFunction;
using elementwise::hard_sigmoid;
using elementwise::relu;

// float64 uses std::tanh and std::exp: it is the accuracy reference, not the speed path;
// float32 the vectorised rational tanh (elementwise.hpp).
template <typename T>
inline void activate_generic(F f, T* v, std::size_t n) {
  switch (f) {
    case F::Tanh:
      for (std::size_t i = 0; i < n; ++i) v[i] = elementwise::tanh_of(v[i]);
      break;
    case F::Sigmoid:
      for (std::size_t i = 0; i < n; ++i) v[i] = elementwise::sigmoid_of(v[i]);
      break;
    case F::Relu:
      for (std::size_t i = 0; i < n; ++i) v[i] = relu(v[i]);
      break;
    case F::HardSigmoid:
      for (std::size_t i = 0; i < n; ++i) v[i] = hard_sigmoid(v[i]);
      break;
    case F::Linear:
      break;
  }
}

RNNKIT_MULTIVERSION
void activate_float(F f, float* v, std::size_t n) {
  activate_generic(f, v, n);
}

// Calls body(i, derivative at i) for every i < n, with the switch outside the loop.
template <typename T, typename Body>
inline void for_each_derivative(F f, const T* y, std::size_t n, Body body) {
  switch (f) {
    case F::Tanh:
      for (std::size_t i = 0; i < n; ++i) body(i, T(1) - y[i] * y[i]);
      break;
    case F::Sigmoid:
      for (std::size_t i = 0; i < n; ++i) body(i, y[i] * (T(1) - y[i]));
      break;
    case F::Relu:
      for (std::size_t i = 0; i < n; ++i) body(i, y[i] > T(0) ? T(1) : T(0));
      break;
    case F::HardSigmoid:
      for (std::size_t i = 0; i < n; ++i) {
        body(i, (y[i] > T(0) && y[i] < T(1)) ? T(1.0 / 6.0) : T(0));
      }
      break;
    case F::Linear:
      for (std::size_t i = 0; i < n; ++i) body(i, T(1));
      break;
  }
}

template <typename T>
inline void backward_generic(F f, T* da, const T* g1, const T* g2, const T* y, std::size_t n) {
  if (g2) {
    for_each_derivative(f, y, n, [&](std::size_t i, T d) { da[i] = (g1[i] + g2[i]) * d; });
  } else {
    for_each_derivative(f, y, n, [&](std::size_t i, T d) { da[i] = g1[i] * d; });
  }
}

template <typename T>
inline void scale_generic(F f, T* g, const T* y, std::size_t n) {
  if (f == F::Linear) return;
  for_each_derivative(f, y, n, [&](std::size_t i, T d) { g[i] *= d; });
}

RNNKIT_MULTIVERSION
void backward_float(F f, float* da, const float* g1, const float* g2, const float* y,
                    std::size_t n) {
  backward_generic(f, da, g1, g2, y, n);
}

RNNKIT_MULTIVERSION
void scale_float(F f, float* g, const float* y, std::size_t n) {
  scale_generic(f, g, y, n);
}

}  // namespace

void fast_tanh(float* v, std::size_t n) {
  activate_float(F::Tanh, v, n);
}

void activate_inplace(F f, float* v, std::size_t n) {
  activate_float(f, v, n);
}
void activate_inplace(F f, double* v, std::size_t n) {
  activate_generic(f, v, n);
}

void activation_backward(F f, float* da, const float* g1, const float* g2, const float* y,
                         std::size_t n) {
  backward_float(f, da, g1, g2, y, n);
}
void activation_backward(F f, double* da, const double* g1, const double* g2, const double* y,
                         std::size_t n) {
  backward_generic(f, da, g1, g2, y, n);
}

void scale_by_derivative(F f, float* g, const float* y, std::size_t n) {
  scale_float(f, g, y, n);
}
void scale_by_derivative(F f, double* g, const double* y, std::size_t n) {
  scale_generic(f, g, y, n);
}

}  // namespace rnnkit
