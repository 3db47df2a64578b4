#include "rnnkit/rnn.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <memory>
#include <vector>

#include "rnnkit/blas.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit {
namespace {

using blas::Trans;
template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

inline int64_t valid_steps(const int64_t* lengths, int n, int T) {
  return lengths ? lengths[n] : T;
}

inline bool has_padding(const int64_t* lengths, int n0, int n1, int T) {
  if (!lengths) return false;
  return std::any_of(lengths + n0, lengths + n1, [T](int64_t len) { return len < T; });
}

// Multiply-adds of one direction (forward or backward) over the whole batch.
inline double sequence_flops(RnnShape s) {
  return 2.0 * s.N * s.T * static_cast<double>(s.H) * (s.D + s.H);
}

// (M×H, rows ld apart) += (M×H, rows ld_prev apart) · Wh; one gemv when there is one row, whose
// call costs a fifth of a one-row gemm (design.md §5).
template <typename T>
void add_times_Wh(T* out, int ld_out, const T* h, int ld_h, const T* Wh, int M, int H) {
  if (M == 1) {
    blas::gemv(Trans::Yes, H, H, T(1), Wh, H, h, T(1), out);
  } else {
    blas::gemm(Trans::No, Trans::No, M, H, H, T(1), h, ld_h, Wh, H, T(1), out, ld_out);
  }
}

// out (M×H, contiguous) = dA (M×H, rows ld apart) · Whᵀ. WhT holds Whᵀ row-major: OpenBLAS's
// kernels for the other orientation ran at half the speed, both the small-matrix gemm (measured
// at M = H = 32, where this product is half of the backward pass) and the gemv (N = 1, H = 32).
template <typename T>
void times_Wh_transposed(T* out, const T* dA, int ld_dA, const T* WhT, int M, int H) {
  if (M == 1) {
    blas::gemv(Trans::Yes, H, H, T(1), WhT, H, dA, T(0), out);
  } else {
    blas::gemm(Trans::No, Trans::No, M, H, H, T(1), dA, ld_dA, WhT, H, T(0), out, H);
  }
}

// out (m×n) += Aᵀ·B, A (k×m) and B (k×n) contiguous: a weight gradient summed over k rows. For
// small outputs the rows go in chunks: OpenBLAS's small-matrix kernel, which it picks for these
// shapes, halves its rate once k passes ~1000 rows (32×32 outputs: 105 GFLOP/s at k = 1600,
// 200 in chunks of 128).
template <typename T>
void accumulate_At_B(T* out, const T* A, const T* B, int64_t k, int m, int n) {
  const int64_t chunk = static_cast<int64_t>(m) * n <= 64 * 64 ? 128 : k;
  for (int64_t k0 = 0; k0 < k; k0 += chunk) {
    const int kk = static_cast<int>(std::min(chunk, k - k0));
    blas::gemm(Trans::Yes, Trans::No, m, n, kk, T(1), A + k0 * m, m, B + k0 * n, n, T(1), out, n);
  }
}

// The forward pass of batch rows [n0, n1).
template <typename T>
void forward_slice(T* hs, T* h_last, const T* x, const T* Wx, const T* Wh, const T* b,
                   const T* h0, const int64_t* lengths, RnnShape s, Activation act, int n0,
                   int n1) {
  const int M = n1 - n0;
  const int steps = s.T, D = s.D, H = s.H;
  const int ld = steps * H;  // from step t of one sequence to step t of the next
  const int64_t rows = static_cast<int64_t>(M) * steps;
  T* hs_s = hs + static_cast<int64_t>(n0) * ld;
  const T* x_s = x + static_cast<int64_t>(n0) * steps * D;

  if (rows > 0) {
    // The input projection of every step at once: a = x·Wx + b.
    if (D == 1) {
      // A univariate series: an outer product plus the bias, row by row. A plain loop: as a
      // K = 1 product, Eigen's general kernel took 15% of the forward pass at H = 32.
      for (int64_t r = 0; r < rows; ++r) {
        T* a = hs_s + r * H;
        const T xr = x_s[r];
        for (int j = 0; j < H; ++j) a[j] = b[j] + xr * Wx[j];
      }
    } else {
      MatrixMap<T>(hs_s, rows, H).rowwise() = ConstRowVectorMap<T>(b, H);
      blas::gemm(Trans::No, Trans::No, static_cast<int>(rows), H, D, T(1), x_s, D, Wx, H, T(1),
                 hs_s, H);
    }
  }

  for (int t = 0; t < steps; ++t) {
    T* a_t = hs_s + static_cast<int64_t>(t) * H;
    if (t > 0) {
      add_times_Wh(a_t, ld, a_t - H, ld, Wh, M, H);
    } else if (h0) {
      add_times_Wh(a_t, ld, h0 + static_cast<int64_t>(n0) * H, H, Wh, M, H);
    }
    for (int m = 0; m < M; ++m) {
      T* row = a_t + static_cast<int64_t>(m) * ld;
      if (t < valid_steps(lengths, n0 + m, steps)) {
        activate_inplace(act, row, H);
      } else {
        std::fill_n(row, H, T(0));  // padding: zero output, and padded x never reaches anything
      }
    }
  }

  for (int n = n0; n < n1; ++n) {
    const int64_t len = valid_steps(lengths, n, steps);
    T* dst = h_last + static_cast<int64_t>(n) * H;
    if (len > 0) {
      std::copy_n(hs + (static_cast<int64_t>(n) * steps + len - 1) * H, H, dst);
    } else if (h0) {
      std::copy_n(h0 + static_cast<int64_t>(n) * H, H, dst);
    } else {
      std::fill_n(dst, H, T(0));
    }
  }
}

// Parameter gradients one worker accumulates; zero on entry.
template <typename T>
struct ParamGrads {
  T* dWx;
  T* dWh;
  T* db;
};

// The backward pass of batch rows [n0, n1). dA is the caller's (N,T,H) scratch and carry its
// (N,H) scratch; this slice only touches its own rows of both.
template <typename T>
void backward_slice(T* dx, ParamGrads<T> g, T* dh0, T* dA, T* carry, const T* dhs,
                    const T* dh_last, const T* x, const T* Wx, const T* WhT, const T* h0,
                    const T* hs, const int64_t* lengths, RnnShape s, Activation act,
                    int truncate, int n0, int n1) {
  const int M = n1 - n0;
  const int steps = s.T, D = s.D, H = s.H;
  const int ld = steps * H;
  const int64_t rows = static_cast<int64_t>(M) * steps;
  const int64_t offset = static_cast<int64_t>(n0) * ld;
  T* dA_s = dA + offset;
  const T* hs_s = hs + offset;
  const T* dhs_s = dhs ? dhs + offset : nullptr;
  const T* x_s = x + static_cast<int64_t>(n0) * steps * D;
  T* dx_s = dx + static_cast<int64_t>(n0) * steps * D;
  T* carry_s = carry + static_cast<int64_t>(n0) * H;  // dL/dh_t arriving from step t + 1
  T* dh0_s = dh0 + static_cast<int64_t>(n0) * H;

  for (int t = steps - 1; t >= 0; --t) {
    for (int m = 0; m < M; ++m) {
      const int n = n0 + m;
      const int64_t len = valid_steps(lengths, n, steps);
      const int64_t at = static_cast<int64_t>(m) * ld + static_cast<int64_t>(t) * H;
      T* da = dA_s + at;
      if (t >= len) {
        std::fill_n(da, H, T(0));
        continue;
      }
      // The last valid step receives dh_last; earlier ones what flowed back from step t + 1.
      const T* from_later = (t == len - 1)
                                ? (dh_last ? dh_last + static_cast<int64_t>(n) * H : nullptr)
                                : carry_s + static_cast<int64_t>(m) * H;
      const T* from_output = dhs_s ? dhs_s + at : nullptr;
      if (!from_output) std::swap(from_output, from_later);
      if (from_output) {
        activation_backward(act, da, from_output, from_later, hs_s + at, H);
      } else {
        std::fill_n(da, H, T(0));
      }
    }
    const T* dA_t = dA_s + static_cast<int64_t>(t) * H;
    if (t == 0) {
      times_Wh_transposed(dh0_s, dA_t, ld, WhT, M, H);
    } else if (truncate > 0 && t % truncate == 0) {
      std::fill_n(carry_s, static_cast<int64_t>(M) * H, T(0));  // truncated BPTT: cut here
    } else {
      times_Wh_transposed(carry_s, dA_t, ld, WhT, M, H);
    }
  }
  for (int m = 0; m < M; ++m) {
    const int n = n0 + m;
    if (valid_steps(lengths, n, steps) == 0) {
      // The state passed through every (padded) step unchanged.
      T* dst = dh0_s + static_cast<int64_t>(m) * H;
      if (dh_last) {
        std::copy_n(dh_last + static_cast<int64_t>(n) * H, H, dst);
      } else {
        std::fill_n(dst, H, T(0));
      }
    }
  }
  if (rows == 0) return;
  const int r = static_cast<int>(rows);

  // dx = dA·Wxᵀ over all steps at once.
  if (D == 1) {
    blas::gemv(Trans::No, r, H, T(1), dA_s, H, Wx, T(0), dx_s);
  } else {
    blas::gemm(Trans::No, Trans::Yes, r, D, H, T(1), dA_s, H, Wx, H, T(0), dx_s, D);
  }

  // dWx = xᵀ·dA. With padding, only valid steps are read, so padded x (even NaN) stays unseen.
  if (has_padding(lengths, n0, n1, steps)) {
    for (int m = 0; m < M; ++m) {
      const int len = static_cast<int>(valid_steps(lengths, n0 + m, steps));
      if (len == 0) continue;
      accumulate_At_B(g.dWx, x_s + static_cast<int64_t>(m) * steps * D,
                      dA_s + static_cast<int64_t>(m) * ld, len, D, H);
    }
  } else if (D == 1) {
    blas::gemv(Trans::Yes, r, H, T(1), dA_s, H, x_s, T(1), g.dWx);
  } else {
    accumulate_At_B(g.dWx, x_s, dA_s, r, D, H);
  }

  // dWh = Σ_t h_{t−1}ᵀ·dA_t. Row i of hs is h_{t−1} for row i + 1 of dA, except across sequence
  // boundaries, where dA's row is a first step pairing with h0: set those rows apart (in carry,
  // now free) so the rest is one GEMM over hs rows [0, r−1) and dA rows [1, r).
  T* first_steps = carry_s;
  for (int m = 0; m < M; ++m) {
    T* row = dA_s + static_cast<int64_t>(m) * ld;
    std::copy_n(row, H, first_steps + static_cast<int64_t>(m) * H);
    std::fill_n(row, H, T(0));
  }
  if (r > 1) {
    accumulate_At_B(g.dWh, hs_s, dA_s + H, r - 1, H, H);
  }
  if (h0) {
    blas::gemm(Trans::Yes, Trans::No, H, H, M, T(1), h0 + static_cast<int64_t>(n0) * H, H,
               first_steps, H, T(1), g.dWh, H);
  }
  for (int m = 0; m < M; ++m) {
    std::copy_n(first_steps + static_cast<int64_t>(m) * H, H, dA_s + static_cast<int64_t>(m) * ld);
  }

  Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> db(g.db, H);
  db += ConstMatrixMap<T>(dA_s, rows, H).colwise().sum();
}

}  // namespace

template <typename T>
void rnn_forward(T* hs, T* h_last, const T* x, const T* Wx, const T* Wh, const T* b, const T* h0,
                 const int64_t* lengths, RnnShape shape, Activation act) {
  const int workers = choose_workers(shape.N, sequence_flops(shape));
  SerialBlasSection serial_blas;
  for_each_slice(shape.N, workers, [&](Slice slice) {
    forward_slice(hs, h_last, x, Wx, Wh, b, h0, lengths, shape, act, slice.begin, slice.end);
  });
}

template <typename T>
void rnn_backward(T* dx, T* dWx, T* dWh, T* db, T* dh0, const T* dhs, const T* dh_last,
                  const T* x, const T* Wx, const T* Wh, const T* h0, const T* hs,
                  const int64_t* lengths, RnnShape shape, Activation act, int truncate) {
  const int64_t D = shape.D, H = shape.H;
  const int64_t wx_size = D * H, wh_size = H * H;
  // Scratch, all allocated before any thread starts: nothing is allocated inside the time loop.
  // Left uninitialised: every row of dA and carry is written before it is read, and zeroing
  // dA alone cost ~10% of a small backward pass.
  const std::unique_ptr<T[]> dA(new T[static_cast<size_t>(shape.N) * shape.T * H]);
  const std::unique_ptr<T[]> carry(new T[static_cast<size_t>(shape.N) * H]);
  const std::unique_ptr<T[]> WhT(new T[static_cast<size_t>(wh_size)]);
  MatrixMap<T>(WhT.get(), H, H) = ConstMatrixMap<T>(Wh, H, H).transpose();
  const int workers = choose_workers(shape.N, 2.0 * sequence_flops(shape));
  const int64_t per_worker = wx_size + wh_size + H;
  std::vector<T> extra(static_cast<size_t>(std::max(0, workers - 1) * per_worker), T(0));
  std::fill_n(dWx, wx_size, T(0));
  std::fill_n(dWh, wh_size, T(0));
  std::fill_n(db, H, T(0));

  auto grads_of = [&](int worker) {
    if (worker == 0) return ParamGrads<T>{dWx, dWh, db};
    T* base = extra.data() + (worker - 1) * per_worker;
    return ParamGrads<T>{base, base + wx_size, base + wx_size + wh_size};
  };
  SerialBlasSection serial_blas;
  for_each_slice(shape.N, workers, [&](Slice slice) {
    backward_slice(dx, grads_of(slice.index), dh0, dA.get(), carry.get(), dhs, dh_last, x, Wx,
                   WhT.get(), h0, hs, lengths, shape, act, truncate, slice.begin, slice.end);
  });
  for (int w = 1; w < workers; ++w) {
    const ParamGrads<T> part = grads_of(w);
    MatrixMap<T>(dWx, D, H) += MatrixMap<T>(part.dWx, D, H);
    MatrixMap<T>(dWh, H, H) += MatrixMap<T>(part.dWh, H, H);
    MatrixMap<T>(db, 1, H) += MatrixMap<T>(part.db, 1, H);
  }
}

#define RNNKIT_INSTANTIATE(T)                                                                   \
  template void rnn_forward<T>(T*, T*, const T*, const T*, const T*, const T*, const T*,        \
                               const int64_t*, RnnShape, Activation);                           \
  template void rnn_backward<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*,     \
                                const T*, const T*, const T*, const int64_t*, RnnShape,         \
                                Activation, int);
RNNKIT_INSTANTIATE(float)
RNNKIT_INSTANTIATE(double)
#undef RNNKIT_INSTANTIATE

}  // namespace rnnkit
