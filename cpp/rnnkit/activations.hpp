// Element-wise activation functions of the cells and their derivatives, over contiguous rows.
// Every derivative is read off the function's output y = f(a), which is what the cells keep:
// tanh′ = 1 − y², sigmoid′ = y(1 − y), relu′ = [y > 0], hard_sigmoid′ = [0 < y < 1]/6, linear′ = 1.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace rnnkit {

// Keras's names; hard_sigmoid is Keras 3's: clip(a/6 + 1/2, 0, 1).
enum class ActivationFunction { Tanh, Relu, Sigmoid, HardSigmoid, Linear };

inline ActivationFunction parse_activation(const std::string& name) {
  if (name == "tanh") return ActivationFunction::Tanh;
  if (name == "relu") return ActivationFunction::Relu;
  if (name == "sigmoid") return ActivationFunction::Sigmoid;
  if (name == "hard_sigmoid") return ActivationFunction::HardSigmoid;
  if (name == "linear") return ActivationFunction::Linear;
  throw std::invalid_argument(
      "activation must be one of 'tanh', 'relu', 'sigmoid', 'hard_sigmoid', 'linear', got '" +
      name + "'");
}

// v[i] = f(v[i]) for i < n.
void activate_inplace(ActivationFunction f, float* v, std::size_t n);
void activate_inplace(ActivationFunction f, double* v, std::size_t n);

// da[i] = (g1[i] + g2[i]) · f′ read off y[i] = f(a[i]); g2 may be null.
void activation_backward(ActivationFunction f, float* da, const float* g1, const float* g2,
                         const float* y, std::size_t n);
void activation_backward(ActivationFunction f, double* da, const double* g1, const double* g2,
                         const double* y, std::size_t n);

// g[i] ·= f′ read off y[i] = f(a[i]).
void scale_by_derivative(ActivationFunction f, float* g, const float* y, std::size_t n);
void scale_by_derivative(ActivationFunction f, double* g, const double* y, std::size_t n);

// The rational tanh used for float32, exposed so tests can compare it with std::tanh.
void fast_tanh(float* v, std::size_t n);

}  // namespace rnnkit
