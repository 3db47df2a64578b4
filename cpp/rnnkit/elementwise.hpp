// Per-element functions shared by the vectorised element-wise code (activations.cpp,
// row_math.cpp): inline, so the loops that call them vectorise, and the multiversioning macro.
// Internal to the C++ core.
#pragma once

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

namespace rnnkit::elementwise {

// tanh as a [13/6] rational function of x on [-c, c], the form Eigen uses for float: std::tanh
// costs 17–28 ns per element and dominated the recurrence (docs/performance.md, "Vectorised
// tanh"); this vectorises to under 1 ns with a maximum relative error near 3e-7, below float32's
// own rounding of the GEMMs. Inline, so the loops that call it vectorise.
inline float tanh_rational(float v) {
  constexpr float clamp = 7.90531110763549805f;
  constexpr float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f,
                  a5 = 1.48572235717979e-05f, a7 = 5.12229709037114e-08f,
                  a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
                  a13 = -2.76076847742355e-16f;
  constexpr float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f,
                  b4 = 1.18534705686654e-04f, b6 = 1.19825839466702e-06f;
  // On |x| with the sign put back: exactly odd, whatever the rounding of vector and tail code.
  const float x = std::min(clamp, std::fabs(v));
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
  return (v != v) ? v : std::copysign(p / q, v);
}

// NaN passes through every function unchanged (a comparison with NaN is false).
template <typename T>
inline T relu(T v) {
  return v > T(0) ? v : (v != v ? v : T(0));
}
template <typename T>
inline T hard_sigmoid(T v) {
  const T y = v * T(1.0 / 6.0) + T(0.5);
  return y > T(1) ? T(1) : (y < T(0) ? T(0) : y);
}

// The float path's tanh and sigmoid are the rational function's; float64 keeps the library's,
// as the accuracy reference. σ(a) = (1 + tanh(a/2)) / 2: the same rational function.
inline float tanh_of(float v) {
  return tanh_rational(v);
}
inline double tanh_of(double v) {
  return std::tanh(v);
}
inline float sigmoid_of(float v) {
  return 0.5f + 0.5f * tanh_rational(0.5f * v);
}
inline double sigmoid_of(double v) {
  const double e = std::exp(-std::fabs(v));  // never exp of a large positive number
  return v >= 0 ? 1.0 / (1.0 + e) : (v != v ? v : e / (1.0 + e));
}

}  // namespace rnnkit::elementwise
