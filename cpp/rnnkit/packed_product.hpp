// Products C (+)= A·B whose right operand B is packed once and read by many products: the
// recurrent weights, which every step of a sequence multiplies. A BLAS call packs B into its
// panel layout on each call; for the per-step products of a recurrent layer (few rows, B of
// 0.1–4 MB) that copy cost as much as the arithmetic (docs/performance.md, "Packed recurrent
// products"). Internal to the C++ core; no Python in here.
#pragma once

#include <cstdint>
#include <memory>

namespace rnnkit {

// The micro-kernel a process uses: the widest this CPU runs, unless the environment variable
// RNNKIT_PACKED_KERNEL says "avx512", "avx2" or "off" (read once; the tests run every kernel
// this way). "off", any other value, or a CPU with neither leaves the products to the BLAS.
enum class PackedKernel { Off, Avx2, Avx512 };
PackedKernel packed_kernel();
const char* packed_kernel_name(PackedKernel kernel);

// Where a product goes and what it adds to: C (rows ldc apart) = A·B, plus C's old values with
// accumulate, plus the row vector `bias` (N values) on every row when given.
template <typename T>
struct ProductOutput {
  T* C;
  int64_t ldc;
  bool accumulate = false;
  const T* bias = nullptr;

  // The same output from row `row` and column `column` on.
  ProductOutput at(int64_t row, int column) const {
    return {C + row * ldc + column, ldc, accumulate, bias ? bias + column : nullptr};
  }
};

template <typename T>
class PackedMatrix {
 public:
  // Whether packing a K×N right operand pays off (for products of 2 rows and more): below
  // about 32 K elements the BLAS's small-matrix kernels, which pack nothing, were faster.
  static bool pays(int K, int N);

  PackedMatrix() = default;
  // Packs B (K×N, row-major, rows ldb apart). Call only when packed_kernel() is not Off.
  PackedMatrix(const T* B, int64_t ldb, int K, int N);

  bool empty() const { return K_ == 0; }

  // out's M×N block = A·B[k0:k1, :] plus what out adds; A is M×(k1−k0), rows lda apart. A row
  // range of B reads a part of each panel, so one packing serves products over some of B's
  // rows too.
  void multiply(const ProductOutput<T>& out, const T* A, int64_t lda, int M, int k0, int k1) const;

 private:
  std::unique_ptr<T[]> storage_;
  T* panels_ = nullptr;  // ⌈N/NR⌉ panels of K rows × NR columns, 64-byte aligned, zero-padded
  int K_ = 0, N_ = 0, NR_ = 0;
  PackedKernel kernel_ = PackedKernel::Off;
};

extern template class PackedMatrix<float>;
extern template class PackedMatrix<double>;

}  // namespace rnnkit
