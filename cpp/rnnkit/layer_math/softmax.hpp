// Row softmax shared by the dense layer's softmax activation and the softmax cross-entropy.
// Internal to the C++ core.
#pragma once

#include <cmath>

#include "rnnkit/layer_math/exp.hpp"

namespace rnnkit::layer_math {

// Reductions run in kLanes independent lanes (one 512-bit vector's worth), which vectorise
// without the compiler being allowed to reassociate (as row_math.hpp's sums do); then the lanes
// are combined and a scalar tail finishes.
template <typename T>
constexpr int kLanes = static_cast<int>(64 / sizeof(T));

// Whether every entry of v[0..n) is finite: v·0 is 0 for finite v and NaN for NaN or ±inf, and
// the sum vectorises where a branch per entry would not.
template <typename T>
inline bool all_finite(const T* v, int n) {
  constexpr int L = kLanes<T>;
  T acc[L] = {};
  int i = 0;
  for (; i + L <= n; i += L) {
    for (int k = 0; k < L; ++k) acc[k] += v[i + k] * T(0);
  }
  T total = T(0);
  for (; i < n; ++i) total += v[i] * T(0);
  for (int k = 0; k < L; ++k) total += acc[k];
  return total == T(0);
}

// The largest entry of a finite row (n >= 1).
template <typename T>
inline T row_max(const T* v, int n) {
  constexpr int L = kLanes<T>;
  T lanes[L];
  for (int k = 0; k < L; ++k) lanes[k] = v[0];
  int i = 0;
  for (; i + L <= n; i += L) {
    for (int k = 0; k < L; ++k) lanes[k] = v[i + k] > lanes[k] ? v[i + k] : lanes[k];
  }
  T m = v[0];
  for (; i < n; ++i) m = v[i] > m ? v[i] : m;
  for (int k = 0; k < L; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

// out[i] = exp(v[i] − max) for a finite row; returns the sum, at least 1. out may be v.
template <typename T>
inline T shifted_exp(const T* v, T max, T* out, int n) {
  constexpr int L = kLanes<T>;
  T acc[L] = {};
  int i = 0;
  for (; i + L <= n; i += L) {
    for (int k = 0; k < L; ++k) {
      out[i + k] = exp_nonpositive(v[i + k] - max);
      acc[k] += out[i + k];
    }
  }
  T sum = T(0);
  for (; i < n; ++i) {
    out[i] = exp_nonpositive(v[i] - max);
    sum += out[i];
  }
  for (int k = 0; k < L; ++k) sum += acc[k];
  return sum;
}

// The same with the library's exp, for rows holding NaN or infinities: the results propagate
// them exactly as NumPy's formulation does (NaN wherever NumPy has NaN).
template <typename T>
inline T shifted_exp_library(const T* v, T max, T* out, int n) {
  T sum = T(0);
  for (int i = 0; i < n; ++i) {
    out[i] = std::exp(v[i] - max);
    sum += out[i];
  }
  return sum;
}

// y = softmax(v) over one row of n entries; y may be v.
template <typename T>
inline void softmax_row(const T* v, T* y, int n) {
  if (n <= 0) return;
  T max = row_max(v, n);
  T sum;
  if (all_finite(v, n)) {
    sum = shifted_exp(v, max, y, n);
  } else {
    for (int i = 0; i < n; ++i) max = (v[i] != v[i]) ? v[i] : max;  // NaN wins, as np.max
    sum = shifted_exp_library(v, max, y, n);
  }
  const T inverse = T(1) / sum;
  for (int i = 0; i < n; ++i) y[i] *= inverse;
}

}  // namespace rnnkit::layer_math
