#include "rnnkit/layer_math/optimizer_updates.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "rnnkit/elementwise.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit::layer_math {
namespace {

// Entries per worker below which a second thread costs more than it saves (a wake-up is a few
// microseconds; an update of this many entries takes about as long).
constexpr double kFlopsPerEntry = 10.0;

int workers_for(std::size_t n) {
  const int units = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
  return choose_workers(std::max(units, 1), kFlopsPerEntry * static_cast<double>(n));
}

// Calls fn(begin, end) over near-equal index ranges of [0, n) on rnnkit's workers.
template <typename Fn>
void for_each_range(std::size_t n, Fn&& fn) {
  const int workers = workers_for(n);
  if (workers == 1) {
    fn(std::size_t{0}, n);
    return;
  }
  for_each_slice(
      workers, workers,
      [&](Slice slice) {
        fn(n * static_cast<std::size_t>(slice.begin) / static_cast<std::size_t>(workers),
           n * static_cast<std::size_t>(slice.end) / static_cast<std::size_t>(workers));
      },
      [] {});
}

// In T's precision with T-rounded coefficients, as NumPy's float32 arithmetic with Python
// floats (weak scalars) computes the same formulas.
template <typename T>
void adam_range(const AdamArrays<T>& a, const AdamRates& rates, std::size_t begin,
                std::size_t end) {
  const T c1 = static_cast<T>(1 - rates.beta_1), c2 = static_cast<T>(1 - rates.beta_2);
  const T lr_t = static_cast<T>(rates.lr_t), eps = static_cast<T>(rates.epsilon);
  for (std::size_t i = begin; i < end; ++i) {
    const T g = a.g[i];
    const T m = a.m[i] + c1 * (g - a.m[i]);
    const T v = a.v[i] + c2 * (g * g - a.v[i]);
    a.m[i] = m;
    a.v[i] = v;
    a.p[i] -= lr_t * m / (std::sqrt(v) + eps);
  }
}

RNNKIT_MULTIVERSION
void adam_float(const AdamArrays<float>& a, const AdamRates& r, std::size_t b, std::size_t e) {
  adam_range(a, r, b, e);
}
RNNKIT_MULTIVERSION
void adam_double(const AdamArrays<double>& a, const AdamRates& r, std::size_t b, std::size_t e) {
  adam_range(a, r, b, e);
}
void adam_typed(const AdamArrays<float>& a, const AdamRates& r, std::size_t b, std::size_t e) {
  adam_float(a, r, b, e);
}
void adam_typed(const AdamArrays<double>& a, const AdamRates& r, std::size_t b, std::size_t e) {
  adam_double(a, r, b, e);
}

// Eight lanes, so the sum vectorises without reassociation being allowed (row_math.hpp does
// the same).
template <typename T>
double squares_range(const T* g, std::size_t begin, std::size_t end) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    for (int k = 0; k < 8; ++k) {
      const double v = static_cast<double>(g[i + k]);
      lanes[k] += v * v;
    }
  }
  for (; i < end; ++i) lanes[0] += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

RNNKIT_MULTIVERSION
double squares_float(const float* g, std::size_t b, std::size_t e) {
  return squares_range(g, b, e);
}
RNNKIT_MULTIVERSION
double squares_double(const double* g, std::size_t b, std::size_t e) {
  return squares_range(g, b, e);
}
double squares_typed(const float* g, std::size_t b, std::size_t e) {
  return squares_float(g, b, e);
}
double squares_typed(const double* g, std::size_t b, std::size_t e) {
  return squares_double(g, b, e);
}

}  // namespace

template <typename T>
void adam_update(const AdamArrays<T>& arrays, const AdamRates& rates) {
  for_each_range(arrays.n, [&](std::size_t b, std::size_t e) { adam_typed(arrays, rates, b, e); });
}

template <typename T>
void sgd_momentum_update(T* p, const T* g, T* v, std::size_t n, double lr, double momentum,
                         bool nesterov) {
  const T mu = static_cast<T>(momentum), rate = static_cast<T>(lr);
  for_each_range(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const T step = rate * g[i];
      v[i] = mu * v[i] - step;
      p[i] += nesterov ? mu * v[i] - step : v[i];
    }
  });
}

template <typename T>
double sum_of_squares(const T* g, std::size_t n) {
  const int workers = workers_for(n);
  std::vector<double> partial(static_cast<std::size_t>(workers), 0.0);
  if (workers == 1) return squares_typed(g, 0, n);
  for_each_slice(
      workers, workers,
      [&](Slice slice) {
        const std::size_t w = static_cast<std::size_t>(workers);
        partial[static_cast<std::size_t>(slice.index)] =
            squares_typed(g, n * static_cast<std::size_t>(slice.begin) / w,
                          n * static_cast<std::size_t>(slice.end) / w);
      },
      [] {});
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

template void adam_update<float>(const AdamArrays<float>&, const AdamRates&);
template void adam_update<double>(const AdamArrays<double>&, const AdamRates&);
template void sgd_momentum_update<float>(float*, const float*, float*, std::size_t, double, double,
                                         bool);
template void sgd_momentum_update<double>(double*, const double*, double*, std::size_t, double,
                                          double, bool);
template double sum_of_squares<float>(const float*, std::size_t);
template double sum_of_squares<double>(const double*, std::size_t);

}  // namespace rnnkit::layer_math
