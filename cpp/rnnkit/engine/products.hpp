// The matrix products of the sequence driver, each picking the BLAS call that measured fastest
// for its shape (docs/performance.md, "Kernel tricks").
#pragma once

#include <algorithm>
#include <cstdint>

#include "rnnkit/blas.hpp"
#include "rnnkit/packed_product.hpp"

namespace rnnkit::engine {

using blas::Trans;

// A right operand of the per-step products (Wh, or Whᵀ): its rows as the BLAS reads them, and
// the same matrix packed once per call when that pays (packed_product.hpp). The products pick.
template <typename T>
struct StepOperand {
  const T* rows;  // row-major, rows ld apart
  int ld;
  const PackedMatrix<T>* packed;  // nullptr: the BLAS does the products
};

// out (M×C, rows ld_out apart) += h (M×H, rows ld_h apart) · Wh (H×C). Unpacked, one row is a
// gemv, whose call costs a fifth of a one-row gemm.
template <typename T>
void add_times_Wh(T* out, int ld_out, const T* h, int ld_h, const StepOperand<T>& Wh, int M, int H,
                  int C) {
  if (Wh.packed) {
    Wh.packed->multiply({out, ld_out, true}, h, ld_h, M, 0, H);
  } else if (M == 1) {
    blas::gemv(Trans::Yes, H, C, T(1), Wh.rows, Wh.ld, h, T(1), out);
  } else {
    blas::gemm(Trans::No, Trans::No, M, C, H, T(1), h, ld_h, Wh.rows, Wh.ld, T(1), out, ld_out);
  }
}

// out (M×C, rows ld_out apart) = bias (C) + h · Wh, or the bias alone when h is null (no
// previous state). Packed, the kernel adds the bias as it stores; otherwise the rows get the bias
// first and the BLAS adds onto it.
template <typename T>
void bias_plus_times_Wh(T* out, int ld_out, const T* h, int ld_h, const StepOperand<T>& Wh, int M,
                        int H, int C, const T* bias) {
  if (h && Wh.packed) {
    Wh.packed->multiply({out, ld_out, false, bias}, h, ld_h, M, 0, H);
    return;
  }
  for (int m = 0; m < M; ++m) std::copy_n(bias, C, out + static_cast<int64_t>(m) * ld_out);
  if (h) add_times_Wh(out, ld_out, h, ld_h, Wh, M, H, C);
}

// out (M×H, rows ld_out apart) = dZ (M×C, rows ld_dZ apart) · Whᵀ[k0 : k0+C, :], or += with
// accumulate. WhT holds Whᵀ (rows of H) row-major: OpenBLAS's kernels for the other orientation
// ran at half the speed, both the small gemm (M = H = 32, where this product is half of the
// backward pass) and the gemv (N = 1, H = 32).
template <typename T>
void times_Wh_transposed(T* out, int ld_out, const T* dZ, int ld_dZ, const StepOperand<T>& WhT,
                         int k0, int M, int H, int C, bool accumulate) {
  const T beta = accumulate ? T(1) : T(0);
  const T* rows = WhT.rows + static_cast<int64_t>(k0) * WhT.ld;
  if (WhT.packed) {
    WhT.packed->multiply({out, ld_out, accumulate}, dZ, ld_dZ, M, k0, k0 + C);
  } else if (M == 1) {
    blas::gemv(Trans::Yes, C, H, T(1), rows, WhT.ld, dZ, beta, out);
  } else {
    blas::gemm(Trans::No, Trans::No, M, H, C, T(1), dZ, ld_dZ, rows, WhT.ld, beta, out, ld_out);
  }
}

// out (m×n, rows ld_out apart) += Aᵀ·B, A (k×m, rows lda apart) and B (k×n, rows ldb apart): a
// weight gradient summed over k rows. For small outputs the rows go in chunks: OpenBLAS's
// small-matrix kernel, which it picks for these shapes, halves its rate once k passes ~1000
// rows (32×32 outputs: 105 GFLOP/s at k = 1600, 200 in chunks of 128).
template <typename T>
void accumulate_At_B(T* out, int ld_out, const T* A, int lda, const T* B, int ldb, int64_t k, int m,
                     int n) {
  const int64_t chunk = static_cast<int64_t>(m) * n <= 64 * 64 ? 128 : k;
  for (int64_t k0 = 0; k0 < k; k0 += chunk) {
    const int kk = static_cast<int>(std::min(chunk, k - k0));
    blas::gemm(Trans::Yes, Trans::No, m, n, kk, T(1), A + k0 * lda, lda, B + k0 * ldb, ldb, T(1),
               out, ld_out);
  }
}

// dst (cols × rows, rows ld_dst apart) = srcᵀ, src (rows × cols, rows ld_src apart), in 16×16
// blocks: the element-by-element transpose of Eigen's assignment walked src down its columns,
// a new cache line (and, at 4 KiB strides, the same cache set) per element: Whᵀ of an LSTM at
// H = 256 took 740 µs that way, 125 µs in blocks; at H = 128, 167 µs against 17.
template <typename T>
void transpose_into(T* dst, int64_t ld_dst, const T* src, int64_t ld_src, int rows, int cols) {
  constexpr int kBlock = 16;
  for (int i0 = 0; i0 < rows; i0 += kBlock) {
    const int i1 = std::min(i0 + kBlock, rows);
    for (int j0 = 0; j0 < cols; j0 += kBlock) {
      const int j1 = std::min(j0 + kBlock, cols);
      for (int j = j0; j < j1; ++j) {
        for (int i = i0; i < i1; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
      }
    }
  }
}

// out (C) += the column sums of rows (n_rows × C, rows ld apart): a bias gradient summed over
// time, row by row. Eigen's column-wise sum of a row-major map walked down each column of four,
// which read the matrix from memory four times over (4.4% of a GRU backward pass at
// (64, 100, 128, 256)).
template <typename T>
void accumulate_column_sums(T* out, const T* rows, int64_t n_rows, int C, int64_t ld) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* row = rows + r * ld;
    for (int j = 0; j < C; ++j) out[j] += row[j];
  }
}

// The same with every matrix contiguous.
template <typename T>
void accumulate_At_B(T* out, const T* A, const T* B, int64_t k, int m, int n) {
  accumulate_At_B(out, n, A, m, B, n, k, m, n);
}

}  // namespace rnnkit::engine
