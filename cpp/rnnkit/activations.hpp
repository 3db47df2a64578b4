// Element-wise activations of the recurrent cell and their backward passes, over contiguous rows.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace rnnkit {

enum class ActivationFunction { Tanh, Relu };

inline ActivationFunction parse_activation(const std::string& name) {
  if (name == "tanh") return ActivationFunction::Tanh;
  if (name == "relu") return ActivationFunction::Relu;
  throw std::invalid_argument("activation must be 'tanh' or 'relu', got '" + name + "'");
}

// v[i] = f(v[i]) for i < n.
void activate_inplace(ActivationFunction act, float* v, std::size_t n);
void activate_inplace(ActivationFunction act, double* v, std::size_t n);

// da[i] = (g1[i] + g2[i]) · f'(·) written through the output h[i] = f(a[i]); g2 may be null.
void activation_backward(ActivationFunction act, float* da, const float* g1, const float* g2,
                         const float* h, std::size_t n);
void activation_backward(ActivationFunction act, double* da, const double* g1, const double* g2,
                         const double* h, std::size_t n);

// The rational tanh used for float32, exposed so tests can compare it with std::tanh.
void fast_tanh(float* v, std::size_t n);

}  // namespace rnnkit
