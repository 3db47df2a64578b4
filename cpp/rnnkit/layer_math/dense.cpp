#include "rnnkit/layer_math/dense.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "rnnkit/activations.hpp"
#include "rnnkit/blas.hpp"
#include "rnnkit/elementwise.hpp"
#include "rnnkit/layer_math/softmax.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit::layer_math {
namespace {

using blas::Trans;

void no_wait() {}

// The element-wise functions the recurrent cells share (activations.hpp), where they agree with
// rnnkit.activations: tanh, relu and linear. Sigmoid is not among them: the cells' float32
// sigmoid is 0.5 + 0.5·tanh(a/2), whose absolute error near 0 becomes a large relative error for
// very negative a, where a Dense output layer's probabilities live.
ActivationFunction shared_function(DenseActivation act) {
  switch (act) {
    case DenseActivation::Tanh:
      return ActivationFunction::Tanh;
    case DenseActivation::Relu:
      return ActivationFunction::Relu;
    default:
      return ActivationFunction::Linear;
  }
}

template <typename T>
void sigmoid_rows(T* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = static_cast<T>(elementwise::sigmoid_of(static_cast<double>(v[i])));
  }
}

// Bias and activation over rows [begin, end) of y, which hold x·W.
template <typename T>
void finish_rows(const DenseShape& s, const T* b, T* y, int begin, int end, DenseActivation act) {
  const int U = s.out;
  if (b) {
    for (int r = begin; r < end; ++r) {
      T* row = y + static_cast<std::ptrdiff_t>(r) * U;
      for (int j = 0; j < U; ++j) row[j] += b[j];
    }
  }
  T* first = y + static_cast<std::ptrdiff_t>(begin) * U;
  const auto count = static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(U);
  switch (act) {
    case DenseActivation::Softmax:
      for (int r = begin; r < end; ++r) {
        T* row = y + static_cast<std::ptrdiff_t>(r) * U;
        softmax_row(row, row, U);
      }
      break;
    case DenseActivation::Sigmoid:
      sigmoid_rows(first, count);
      break;
    default:
      activate_inplace(shared_function(act), first, count);
  }
}

// da = dy ⊙ act′ over rows [begin, end).
template <typename T>
void activation_grad_rows(const DenseShape& s, const T* y, const T* dy, T* da, int begin, int end,
                          DenseActivation act) {
  const int U = s.out;
  const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(begin) * U;
  const auto count = static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(U);
  switch (act) {
    case DenseActivation::Softmax:
      for (int r = begin; r < end; ++r) {
        const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(r) * U;
        T dot = T(0);
        for (int j = 0; j < U; ++j) dot += dy[o + j] * y[o + j];
        for (int j = 0; j < U; ++j) da[o + j] = y[o + j] * (dy[o + j] - dot);
      }
      break;
    case DenseActivation::Sigmoid:
      for (std::size_t i = 0; i < count; ++i) {
        const T v = y[offset + i];
        da[offset + i] = dy[offset + i] * v * (T(1) - v);
      }
      break;
    case DenseActivation::Linear:
      std::copy(dy + offset, dy + offset + count, da + offset);
      break;
    default:
      activation_backward(shared_function(act), da + offset, dy + offset, nullptr, y + offset,
                          count);
  }
}

double product_flops(const DenseShape& s) {
  return 2.0 * s.rows * static_cast<double>(s.in) * s.out;
}

}  // namespace

DenseActivation parse_dense_activation(const std::string& name) {
  if (name == "linear") return DenseActivation::Linear;
  if (name == "tanh") return DenseActivation::Tanh;
  if (name == "relu") return DenseActivation::Relu;
  if (name == "sigmoid") return DenseActivation::Sigmoid;
  if (name == "softmax") return DenseActivation::Softmax;
  throw std::invalid_argument(
      "activation must be one of 'linear', 'tanh', 'relu', 'sigmoid', 'softmax', got '" + name +
      "'");
}

template <typename T>
void dense_forward(const DenseShape& s, const T* x, const T* W, const T* b, T* y,
                   DenseActivation act) {
  BlasInUse blas_in_use;
  keep_blas_serial();
  if (s.rows == 0 || s.out == 0) return;
  const int workers = choose_workers(s.rows, product_flops(s));
  for_each_slice(
      s.rows, workers,
      [&](Slice slice) {
        const int rows = slice.end - slice.begin;
        if (rows == 0) return;
        T* y_rows = y + static_cast<std::ptrdiff_t>(slice.begin) * s.out;
        if (s.in == 0) {
          std::fill(y_rows, y_rows + static_cast<std::ptrdiff_t>(rows) * s.out, T(0));
        } else {
          blas::gemm(Trans::No, Trans::No, rows, s.out, s.in, T(1),
                     x + static_cast<std::ptrdiff_t>(slice.begin) * s.in, s.in, W, s.out, T(0),
                     y_rows, s.out);
        }
        finish_rows(s, b, y, slice.begin, slice.end, act);
      },
      no_wait);
}

template <typename T>
void dense_backward(const DenseShape& s, const T* x, const T* W, const T* y, const T* dy,
                    DenseActivation act, const DenseGrads<T>& grads) {
  BlasInUse blas_in_use;
  keep_blas_serial();
  const std::size_t size = static_cast<std::size_t>(s.rows) * static_cast<std::size_t>(s.out);
  // Not zeroed: every entry is written before it is read.
  std::unique_ptr<T[]> da_buffer(new T[std::max<std::size_t>(size, 1)]);
  T* da = da_buffer.get();
  // Rows: da and dx = da·Wᵀ. Then columns of dW (rows of x's transpose) and of db, which need
  // every row of da: no partial sums to add up, so the results do not depend on the split.
  const int row_workers = choose_workers(std::max(s.rows, 1), product_flops(s));
  for_each_slice(
      s.rows, row_workers,
      [&](Slice slice) {
        const int rows = slice.end - slice.begin;
        if (rows == 0) return;
        activation_grad_rows(s, y, dy, da, slice.begin, slice.end, act);
        if (!grads.dx || s.in == 0) return;
        T* dx_rows = grads.dx + static_cast<std::ptrdiff_t>(slice.begin) * s.in;
        if (s.out == 0) {
          std::fill(dx_rows, dx_rows + static_cast<std::ptrdiff_t>(rows) * s.in, T(0));
          return;
        }
        blas::gemm(Trans::No, Trans::Yes, rows, s.in, s.out, T(1),
                   da + static_cast<std::ptrdiff_t>(slice.begin) * s.out, s.out, W, s.out, T(0),
                   dx_rows, s.in);
      },
      no_wait);
  // The weight gradients: slice `in` (dW's rows) and, as one more unit of work, db.
  const int units = s.in + 1;
  const int column_workers = choose_workers(units, product_flops(s));
  for_each_slice(
      units, column_workers,
      [&](Slice slice) {
        const int end_in = std::min(slice.end, s.in);
        if (grads.dW && end_in > slice.begin) {
          T* dW_rows = grads.dW + static_cast<std::ptrdiff_t>(slice.begin) * s.out;
          const int m = end_in - slice.begin;
          if (s.rows == 0) {
            std::fill(dW_rows, dW_rows + static_cast<std::ptrdiff_t>(m) * s.out, T(0));
          } else if (s.out > 0) {
            blas::gemm(Trans::Yes, Trans::No, m, s.out, s.rows, T(1), x + slice.begin, s.in, da,
                       s.out, T(0), dW_rows, s.out);
          }
        }
        if (grads.db && slice.end == units) {
          std::fill(grads.db, grads.db + s.out, T(0));
          for (int r = 0; r < s.rows; ++r) {
            const T* row = da + static_cast<std::ptrdiff_t>(r) * s.out;
            for (int j = 0; j < s.out; ++j) grads.db[j] += row[j];
          }
        }
      },
      no_wait);
}

template void dense_forward<float>(const DenseShape&, const float*, const float*, const float*,
                                   float*, DenseActivation);
template void dense_forward<double>(const DenseShape&, const double*, const double*, const double*,
                                    double*, DenseActivation);
template void dense_backward<float>(const DenseShape&, const float*, const float*, const float*,
                                    const float*, DenseActivation, const DenseGrads<float>&);
template void dense_backward<double>(const DenseShape&, const double*, const double*, const double*,
                                     const double*, DenseActivation, const DenseGrads<double>&);

}  // namespace rnnkit::layer_math
