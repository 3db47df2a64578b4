#include "rnnkit/activations.hpp"

#include <algorithm>
#include <cmath>

// A portable build still runs AVX-512 or AVX2 code on CPUs that have it: GCC emits one clone per
// target and picks at load time (the AVX-512 clone took the forward pass at (32,50,1,32) from
// 57 to 47 µs on a Sapphire Rapids host; Zen 3 hosts take the AVX2 one). A native build
// compiles for the host only.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(RNNKIT_NATIVE_BUILD)
#define RNNKIT_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNNKIT_MULTIVERSION
#endif

namespace rnnkit {
namespace {

// tanh as a [13/6] rational function of x on [-c, c], the form Eigen uses for float: std::tanh
// costs 17–28 ns per element and dominated the recurrence (docs/performance.md, "Vectorised
// tanh"); this vectorises to under 1 ns with a maximum relative error near 3e-7, below float32's
// own rounding of the GEMMs.
RNNKIT_MULTIVERSION
void tanh_rational(float* v, std::size_t n) {
  constexpr float clamp = 7.90531110763549805f;
  constexpr float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f,
                  a5 = 1.48572235717979e-05f, a7 = 5.12229709037114e-08f,
                  a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
                  a13 = -2.76076847742355e-16f;
  constexpr float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f,
                  b4 = 1.18534705686654e-04f, b6 = 1.19825839466702e-06f;
  for (std::size_t i = 0; i < n; ++i) {
    // On |x| with the sign put back: exactly odd, whatever the rounding of vector and tail code.
    const float x = std::min(clamp, std::fabs(v[i]));
    const float x2 = x * x;
    float p = a13;
    p = p * x2 + a11;
    p = p * x2 + a9;
    p = p * x2 + a7;
    p = p * x2 + a5;
    p = p * x2 + a3;
    p = p * x2 + a1;
    p = p * x;
    float q = b6;
    q = q * x2 + b4;
    q = q * x2 + b2;
    q = q * x2 + b0;
    // Keep NaN as NaN: min above would otherwise turn it into the clamp bound.
    v[i] = (v[i] != v[i]) ? v[i] : std::copysign(p / q, v[i]);
  }
}

RNNKIT_MULTIVERSION
void relu_inplace(float* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > 0.0f ? v[i] : (v[i] != v[i] ? v[i] : 0.0f);
}

template <typename T>
void relu_inplace_generic(T* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? v[i] : (v[i] != v[i] ? v[i] : T(0));
}

// tanh'(a) = 1 − h², relu'(a) = [h > 0], both read off the stored output h.
template <typename T>
void backward_generic(ActivationFunction act, T* da, const T* g1, const T* g2, const T* h,
                      std::size_t n) {
  if (act == ActivationFunction::Tanh) {
    if (g2) {
      for (std::size_t i = 0; i < n; ++i) da[i] = (g1[i] + g2[i]) * (T(1) - h[i] * h[i]);
    } else {
      for (std::size_t i = 0; i < n; ++i) da[i] = g1[i] * (T(1) - h[i] * h[i]);
    }
  } else {
    if (g2) {
      for (std::size_t i = 0; i < n; ++i) da[i] = h[i] > T(0) ? g1[i] + g2[i] : T(0);
    } else {
      for (std::size_t i = 0; i < n; ++i) da[i] = h[i] > T(0) ? g1[i] : T(0);
    }
  }
}

RNNKIT_MULTIVERSION
void backward_float(ActivationFunction act, float* da, const float* g1, const float* g2,
                    const float* h, std::size_t n) {
  backward_generic(act, da, g1, g2, h, n);
}

}  // namespace

void fast_tanh(float* v, std::size_t n) {
  tanh_rational(v, n);
}

void activate_inplace(ActivationFunction act, float* v, std::size_t n) {
  if (act == ActivationFunction::Tanh) {
    tanh_rational(v, n);
  } else {
    relu_inplace(v, n);
  }
}

// float64 keeps std::tanh: it is the accuracy reference, not the speed path.
void activate_inplace(ActivationFunction act, double* v, std::size_t n) {
  if (act == ActivationFunction::Tanh) {
    for (std::size_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
  } else {
    relu_inplace_generic(v, n);
  }
}

void activation_backward(ActivationFunction act, float* da, const float* g1, const float* g2,
                         const float* h, std::size_t n) {
  backward_float(act, da, g1, g2, h, n);
}

void activation_backward(ActivationFunction act, double* da, const double* g1, const double* g2,
                         const double* h, std::size_t n) {
  backward_generic(act, da, g1, g2, h, n);
}

}  // namespace rnnkit
