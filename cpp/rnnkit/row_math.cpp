#include "rnnkit/row_math.hpp"

#include <cmath>

#include "rnnkit/elementwise.hpp"

namespace rnnkit {
namespace {

using elementwise::sigmoid_of;
using elementwise::tanh_of;

// The bodies, written once for both types. Pointers are __restrict: every array is a distinct
// range (the cells guarantee it), except the documented in/out ones, which are read at the same
// index before being written.
template <typename T>
inline void lstm_backward_body(T* __restrict d_gates, T* dc, const T* __restrict dh,
                               const T* __restrict gates, const T* __restrict c_prev,
                               const T* __restrict act_c, int H) {
  const T* __restrict i = gates;
  const T* __restrict f = gates + H;
  const T* __restrict g = gates + 2 * H;
  const T* __restrict o = gates + 3 * H;
  for (int j = 0; j < H; ++j) {
    const T tc = act_c[j];
    const T dcj = dc[j] + dh[j] * o[j] * (T(1) - tc * tc);
    d_gates[j] = dcj * g[j] * i[j] * (T(1) - i[j]);
    d_gates[H + j] = dcj * c_prev[j] * f[j] * (T(1) - f[j]);
    d_gates[2 * H + j] = dcj * i[j] * (T(1) - g[j] * g[j]);
    d_gates[3 * H + j] = dh[j] * tc * o[j] * (T(1) - o[j]);
    dc[j] = dcj * f[j];
  }
}

template <typename T>
inline void gru_forward_body(T* __restrict gates, const T* __restrict R, const T* __restrict h_prev,
                             T* __restrict h, int H) {
  T* __restrict z = gates;
  T* __restrict r = gates + H;
  T* __restrict n = gates + 2 * H;
  for (int j = 0; j < H; ++j) {
    const T zj = sigmoid_of(z[j] + R[j]);
    const T rj = sigmoid_of(r[j] + R[H + j]);
    const T nj = tanh_of(n[j] + rj * R[2 * H + j]);
    z[j] = zj;
    r[j] = rj;
    n[j] = nj;
    h[j] = zj * h_prev[j] + (T(1) - zj) * nj;
  }
}

template <typename T>
inline void gru_backward_body(T* __restrict d_gates, T* __restrict d_recurrent, T* dh,
                              const T* __restrict gates, const T* __restrict R_h,
                              const T* __restrict h_prev, int H) {
  const T* __restrict z = gates;
  const T* __restrict r = gates + H;
  const T* __restrict n = gates + 2 * H;
  for (int j = 0; j < H; ++j) {
    const T dhj = dh[j];
    const T dn = dhj * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
    const T dr = dn * R_h[j] * r[j] * (T(1) - r[j]);
    const T dz = dhj * (h_prev[j] - n[j]) * z[j] * (T(1) - z[j]);
    d_gates[j] = dz;
    d_gates[H + j] = dr;
    d_gates[2 * H + j] = dn;
    d_recurrent[j] = dz;
    d_recurrent[H + j] = dr;
    d_recurrent[2 * H + j] = dn * r[j];
    dh[j] = dhj * z[j];
  }
}

// Σ f(j) over j < H in kLanes partial sums: independent lanes vectorise without the compiler
// having to reassociate a single running sum.
constexpr int kLanes = 8;
template <typename T, typename F>
inline T lane_sum(int H, F f) {
  T acc[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= H; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += f(j + l);
  }
  for (; j < H; ++j) acc[0] += f(j);
  T total = 0;
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

template <typename T>
inline T layer_norm_forward_body(T* __restrict z, const T* __restrict gamma,
                                 const T* __restrict beta, T* __restrict out, T epsilon, int H) {
  const T mean = lane_sum<T>(H, [&](int j) { return z[j]; }) / T(H);
  const T var = lane_sum<T>(H, [&](int j) { return (z[j] - mean) * (z[j] - mean); }) / T(H);
  const T rstd = T(1) / std::sqrt(var + epsilon);
  for (int j = 0; j < H; ++j) {
    z[j] = (z[j] - mean) * rstd;
    out[j] = gamma[j] * z[j] + beta[j];
  }
  return rstd;
}

template <typename T>
inline void layer_norm_backward_body(T* __restrict da, const T* __restrict z_hat, T rstd,
                                     const T* __restrict gamma, T* __restrict d_gamma,
                                     T* __restrict d_beta, int H) {
  for (int j = 0; j < H; ++j) {
    d_gamma[j] += da[j] * z_hat[j];
    d_beta[j] += da[j];
    da[j] *= gamma[j];  // dL/dẑ
  }
  const T m1 = lane_sum<T>(H, [&](int j) { return da[j]; }) / T(H);
  const T m2 = lane_sum<T>(H, [&](int j) { return da[j] * z_hat[j]; }) / T(H);
  for (int j = 0; j < H; ++j) da[j] = rstd * (da[j] - m1 - z_hat[j] * m2);
}

}  // namespace

RNNKIT_MULTIVERSION
float layer_norm_forward(float* z, const float* gamma, const float* beta, float* out, float epsilon,
                         int H) {
  return layer_norm_forward_body(z, gamma, beta, out, epsilon, H);
}
double layer_norm_forward(double* z, const double* gamma, const double* beta, double* out,
                          double epsilon, int H) {
  return layer_norm_forward_body(z, gamma, beta, out, epsilon, H);
}

RNNKIT_MULTIVERSION
void layer_norm_backward(float* da, const float* z_hat, float rstd, const float* gamma,
                         float* d_gamma, float* d_beta, int H) {
  layer_norm_backward_body(da, z_hat, rstd, gamma, d_gamma, d_beta, H);
}
void layer_norm_backward(double* da, const double* z_hat, double rstd, const double* gamma,
                         double* d_gamma, double* d_beta, int H) {
  layer_norm_backward_body(da, z_hat, rstd, gamma, d_gamma, d_beta, H);
}

RNNKIT_MULTIVERSION
void lstm_backward_fused(float* d_gates, float* dc, const float* dh, const float* gates,
                         const float* c_prev, const float* act_c, int H) {
  lstm_backward_body(d_gates, dc, dh, gates, c_prev, act_c, H);
}
void lstm_backward_fused(double* d_gates, double* dc, const double* dh, const double* gates,
                         const double* c_prev, const double* act_c, int H) {
  lstm_backward_body(d_gates, dc, dh, gates, c_prev, act_c, H);
}

RNNKIT_MULTIVERSION
void gru_forward_fused(float* gates, const float* R, const float* h_prev, float* h, int H) {
  gru_forward_body(gates, R, h_prev, h, H);
}
void gru_forward_fused(double* gates, const double* R, const double* h_prev, double* h, int H) {
  gru_forward_body(gates, R, h_prev, h, H);
}

RNNKIT_MULTIVERSION
void gru_backward_fused(float* d_gates, float* d_recurrent, float* dh, const float* gates,
                        const float* R_h, const float* h_prev, int H) {
  gru_backward_body(d_gates, d_recurrent, dh, gates, R_h, h_prev, H);
}
void gru_backward_fused(double* d_gates, double* d_recurrent, double* dh, const double* gates,
                        const double* R_h, const double* h_prev, int H) {
  gru_backward_body(d_gates, d_recurrent, dh, gates, R_h, h_prev, H);
}

}  // namespace rnnkit
