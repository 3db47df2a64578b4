#include "rnnkit/layer_math/cross_entropy.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "rnnkit/elementwise.hpp"
#include "rnnkit/layer_math/softmax.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit::layer_math {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras's backend epsilon, as rnnkit/_loss_base.py

// One row from logits; returns its loss. g receives softmax(z)·factor − onehot·factor.
template <typename T>
inline double logits_row(const T* z, int64_t label, int C, T factor, T* g) {
  T max = row_max(z, C);
  T sum;
  if (all_finite(z, C)) {
    sum = shifted_exp(z, max, g, C);
  } else {
    for (int i = 0; i < C; ++i) max = (z[i] != z[i]) ? z[i] : max;
    sum = shifted_exp_library(z, max, g, C);
  }
  const T inverse = factor / sum;
  for (int i = 0; i < C; ++i) g[i] *= inverse;
  g[label] -= factor;
  return std::log(static_cast<double>(sum)) - static_cast<double>(z[label] - max);
}

// One row from probabilities (Keras's clipped form), as rnnkit.losses._probability_ce with a
// one-hot target: only the label's entry of dL/dq is non-zero.
template <typename T>
inline double probabilities_row(const T* p, int64_t label, int C, T factor, T* g) {
  T s = T(0);
  for (int i = 0; i < C; ++i) s += p[i];
  const T q_raw = p[label] / s;
  const T eps = static_cast<T>(kEpsilon), one_minus = static_cast<T>(1 - kEpsilon);
  const T q = std::min(std::max(q_raw, eps), one_minus);
  const bool inside = q_raw > eps && q_raw < one_minus;
  const T g_q = inside ? -T(1) / q : T(0);
  // dL/dp_k = (g_q·[k = label] − g_q·q_raw) / s
  const T common = -(g_q * q_raw) / s * factor;
  for (int i = 0; i < C; ++i) g[i] = common;
  g[label] += g_q / s * factor;
  return -std::log(static_cast<double>(q));
}

template <typename T>
double rows_loss(const CrossEntropyRows<T>& in, bool from_logits, double scale, T* grad, int begin,
                 int end) {
  double total = 0;
  for (int r = begin; r < end; ++r) {
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(r) * in.C;
    T* g = grad + offset;
    if (in.valid && !in.valid[r]) {
      std::fill(g, g + in.C, T(0));
      continue;
    }
    const double weight = in.weights ? in.weights[r] : 1.0;
    const T factor = static_cast<T>(weight * scale);
    const double loss = from_logits
                            ? logits_row(in.scores + offset, in.labels[r], in.C, factor, g)
                            : probabilities_row(in.scores + offset, in.labels[r], in.C, factor, g);
    total += weight * loss;
  }
  return total;
}

// The vectorised clones of the row loops (elementwise.hpp's multiversioning).
RNNKIT_MULTIVERSION
double rows_loss_float(const CrossEntropyRows<float>& in, bool from_logits, double scale,
                       float* grad, int begin, int end) {
  return rows_loss(in, from_logits, scale, grad, begin, end);
}
RNNKIT_MULTIVERSION
double rows_loss_double(const CrossEntropyRows<double>& in, bool from_logits, double scale,
                        double* grad, int begin, int end) {
  return rows_loss(in, from_logits, scale, grad, begin, end);
}
double rows_loss_typed(const CrossEntropyRows<float>& in, bool from_logits, double scale,
                       float* grad, int begin, int end) {
  return rows_loss_float(in, from_logits, scale, grad, begin, end);
}
double rows_loss_typed(const CrossEntropyRows<double>& in, bool from_logits, double scale,
                       double* grad, int begin, int end) {
  return rows_loss_double(in, from_logits, scale, grad, begin, end);
}

// exp and a few operations per score: the cost that decides whether workers pay.
constexpr double kFlopsPerScore = 20.0;

}  // namespace

template <typename T>
double sparse_cross_entropy(const CrossEntropyRows<T>& in, bool from_logits, double scale,
                            T* grad) {
  if (in.rows == 0) return 0.0;
  const int workers = choose_workers(in.rows, kFlopsPerScore * in.rows * static_cast<double>(in.C));
  // One partial sum per worker, added in worker order: the same total for the same split.
  std::vector<double> partial(static_cast<std::size_t>(workers), 0.0);
  for_each_slice(
      in.rows, workers,
      [&](Slice slice) {
        partial[static_cast<std::size_t>(slice.index)] =
            rows_loss_typed(in, from_logits, scale, grad, slice.begin, slice.end);
      },
      [] {});
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

template double sparse_cross_entropy<float>(const CrossEntropyRows<float>&, bool, double, float*);
template double sparse_cross_entropy<double>(const CrossEntropyRows<double>&, bool, double,
                                             double*);

}  // namespace rnnkit::layer_math
