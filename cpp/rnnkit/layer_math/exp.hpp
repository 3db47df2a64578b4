// exp(x) for x <= 0 as the softmaxes of layer_math need it: written so that loops calling it
// vectorise (the library's expf/exp are scalar calls, 5–10 ns each, slower than NumPy's SIMD
// exp on the (rows, classes) arrays of a cross-entropy). Internal to the C++ core.
#pragma once

#include <cstdint>
#include <cstring>

namespace rnnkit::layer_math {

// 2^k · p(r) with x = k·ln 2 + r, |r| <= ln(2)/2, and p the Taylor polynomial of exp(r) to
// degree 7 (float: truncation error 5e-9, below float's rounding) or 12 (double: 1e-15 relative).
// Inputs below the smallest normal result give that normal (~1e-38, ~1e-308) instead of a
// denormal or 0: the callers add these to a sum of at least 1 (the row maximum's term). Not for
// NaN or infinities: callers test their rows for those first and take the library's exp there.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  constexpr float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f,
                  ln2_lo = 1.428606765330187e-06f, round = 12582912.0f;  // 1.5 · 2^23
  const float kf = (x * log2e + round) - round;                          // nearest integer
  const float r = (x - kf * ln2_hi) - kf * ln2_lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(kf) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline double exp_nonpositive(double x) {
  x = x < -708.0 ? -708.0 : x;
  constexpr double log2e = 1.4426950408889634, ln2_hi = 0.6931471803691238,
                   ln2_lo = 1.9082149292705877e-10, round = 6755399441055744.0;  // 1.5 · 2^52
  const double kf = (x * log2e + round) - round;
  const double r = (x - kf * ln2_hi) - kf * ln2_lo;
  double p = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const int64_t bits = (static_cast<int64_t>(kf) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace rnnkit::layer_math
