// Typed wrappers over the BLAS (scipy-openblas32, whose symbols all carry a `scipy_` prefix).
// This is the only file that names BLAS symbols; everything else calls rnnkit::blas.
#pragma once

#include <cblas.h>

namespace rnnkit::blas {

enum class Trans { No, Yes };

inline CBLAS_TRANSPOSE to_cblas(Trans t) {
  return t == Trans::Yes ? CblasTrans : CblasNoTrans;
}

// Row-major C (m×n, ldc) = alpha · op(A) · op(B) + beta · C, op(A) m×k, op(B) k×n.
inline void gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  scipy_cblas_sgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), m, n, k, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}
inline void gemm(Trans ta, Trans tb, int m, int n, int k, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  scipy_cblas_dgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), m, n, k, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}

// Row-major y (len m, or n when transposed) = alpha · op(A) · x + beta · y, A m×n with lda.
inline void gemv(Trans ta, int m, int n, float alpha, const float* A, int lda, const float* x,
                 float beta, float* y) {
  scipy_cblas_sgemv(CblasRowMajor, to_cblas(ta), m, n, alpha, A, lda, x, 1, beta, y, 1);
}
inline void gemv(Trans ta, int m, int n, double alpha, const double* A, int lda, const double* x,
                 double beta, double* y) {
  scipy_cblas_dgemv(CblasRowMajor, to_cblas(ta), m, n, alpha, A, lda, x, 1, beta, y, 1);
}

inline int get_num_threads() {
  return scipy_openblas_get_num_threads();
}
inline void set_num_threads(int n) {
  scipy_openblas_set_num_threads(n);
}
inline const char* config() {
  return scipy_openblas_get_config();
}
inline const char* core_name() {
  return scipy_openblas_get_corename();
}

}  // namespace rnnkit::blas
