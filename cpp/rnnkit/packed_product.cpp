// The packed products (packed_product.hpp): packing, the micro-kernels and their choice.
//
// A micro-kernel keeps a tile of MR rows × NR columns of C in vector registers and runs down the
// whole K dimension: per k, NR/L vector loads of the packed panel and MR broadcasts of A, MR·NR/L
// fused multiply-adds. AVX-512: MR = 12, NR = 2 vectors (24 accumulators of 32); AVX2: MR = 6,
// NR = 2 vectors (12 of 16). The maths is written once with GCC's vector extensions; each target
// function below instantiates it for one instruction set (this file compiles with
// -ffp-contract=fast so that `acc += a * b` becomes one FMA), and the CPU picks at run time.
#include "rnnkit/packed_product.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#define RNNKIT_PACKED_X86 1
#endif

namespace rnnkit {

namespace {

#define RNNKIT_ALWAYS_INLINE inline __attribute__((always_inline))

// out's tile (MR×NV vectors, `cols` ≤ NR valid columns) = A tile · one panel, plus what out
// says to add (its old values, a bias row).
template <typename V, typename T, int MR, int NV>
RNNKIT_ALWAYS_INLINE void tile(const T* A, int64_t lda, const T* panel, int K,
                               const ProductOutput<T>& out, int cols) {
  constexpr int L = sizeof(V) / sizeof(T);
  constexpr int NR = NV * L;
  T* C = out.C;
  const int64_t ldc = out.ldc;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  }
  if (out.accumulate) {
    // C's rows lie far apart (a step's gates in a sequence-long buffer), out of every cache when
    // their step comes: ask for them now, so that they arrive while the K loop runs.
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) __builtin_prefetch(C + r * ldc + v * L, 1);
    }
  }
  for (int k = 0; k < K; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&b[v], panel + k * NR + v * L, sizeof(V));
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      // A broadcast. Not `V{} + x`: with signed zeros that is an addition before the
      // broadcast, two vector instructions where one load-and-broadcast will do, and on Intel's
      // cores both compete with the FMAs for the same port (half the speed there).
      const V a = A[r * lda + k] - V{};
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
  if (cols == NR) {
    V bias[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      bias[v] = V{};
      if (out.bias) std::memcpy(&bias[v], out.bias + v * L, sizeof(V));
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        V c = acc[r][v] + bias[v];
        if (out.accumulate) {
          V old;
          std::memcpy(&old, C + r * ldc + v * L, sizeof(V));
          c += old;
        }
        std::memcpy(C + r * ldc + v * L, &c, sizeof(V));
      }
    }
    return;
  }
  for (int r = 0; r < MR; ++r) {  // the last panel: only its valid columns reach C
    T row[NR];
    std::memcpy(row, acc[r], sizeof(row));
    T* dst = C + r * ldc;
    for (int j = 0; j < cols; ++j) {
      const T start = (out.accumulate ? dst[j] : T(0)) + (out.bias ? out.bias[j] : T(0));
      dst[j] = start + row[j];
    }
  }
}

template <typename V, typename T, int MR, int NV>
RNNKIT_ALWAYS_INLINE void tile_row(const T* A, int64_t lda, const T* panels, int64_t panel_size,
                                   int K, int N, const ProductOutput<T>& out) {
  constexpr int NR = NV * static_cast<int>(sizeof(V) / sizeof(T));
  for (int j = 0; j < N; j += NR) {
    tile<V, T, MR, NV>(A, lda, panels + (j / NR) * panel_size, K, out.at(0, j),
                       std::min(NR, N - j));
  }
}

// One row tile of `rows` ≤ R rows: the kernel compiled for exactly that many.
template <typename V, typename T, int R, int NV>
RNNKIT_ALWAYS_INLINE void tile_rows(int rows, const T* A, int64_t lda, const T* panels,
                                    int64_t panel_size, int K, int N, const ProductOutput<T>& out) {
  if constexpr (R > 0) {
    if (rows == R) {
      tile_row<V, T, R, NV>(A, lda, panels, panel_size, K, N, out);
    } else {
      tile_rows<V, T, R - 1, NV>(rows, A, lda, panels, panel_size, K, N, out);
    }
  }
}

// One row of C over NP ≤ 4 panels at once. A single row gives a tile only 2·NP accumulators,
// one dependent chain of FMAs each, and an FMA's result comes 4 cycles after it starts while two
// start per cycle: under 8 chains the kernel waits on itself (H = 32: one panel, 2 chains, a
// quarter of the rate). So the row runs 8 / (2·NP) interleaved partial sums over k (PH phases),
// added together at the end.
template <typename V, typename T, int NP>
RNNKIT_ALWAYS_INLINE void row_tile(const T* a, const T* panels, int64_t panel_size, int K,
                                   const ProductOutput<T>& out, int cols) {
  constexpr int L = sizeof(V) / sizeof(T);
  constexpr int NR = 2 * L;
  constexpr int PH = NP == 1 ? 4 : NP == 2 ? 2 : 1;
  V acc[PH][NP][2];
#pragma GCC unroll 4
  for (int p = 0; p < PH; ++p) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) acc[p][q][0] = acc[p][q][1] = V{};
  }
  int k = 0;
  for (; k + PH <= K; k += PH) {
#pragma GCC unroll 4
    for (int p = 0; p < PH; ++p) {
      const V x = a[k + p] - V{};  // a broadcast (see tile)
#pragma GCC unroll 4
      for (int q = 0; q < NP; ++q) {
        const T* b = panels + q * panel_size + int64_t{k + p} * NR;
        V b0, b1;
        std::memcpy(&b0, b, sizeof(V));
        std::memcpy(&b1, b + L, sizeof(V));
        acc[p][q][0] += x * b0;
        acc[p][q][1] += x * b1;
      }
    }
  }
  for (; k < K; ++k) {
    const V x = a[k] - V{};
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) {
      const T* b = panels + q * panel_size + int64_t{k} * NR;
      V b0, b1;
      std::memcpy(&b0, b, sizeof(V));
      std::memcpy(&b1, b + L, sizeof(V));
      acc[0][q][0] += x * b0;
      acc[0][q][1] += x * b1;
    }
  }
#pragma GCC unroll 4
  for (int p = 1; p < PH; ++p) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) {
      acc[0][q][0] += acc[p][q][0];
      acc[0][q][1] += acc[p][q][1];
    }
  }
  T row[NP * NR];
  std::memcpy(row, acc[0], sizeof(row));
  T* dst = out.C;
  for (int j = 0; j < cols; ++j) {
    const T start = (out.accumulate ? dst[j] : T(0)) + (out.bias ? out.bias[j] : T(0));
    dst[j] = start + row[j];
  }
}

// C's one row (M = 1: a step of a single sequence), four panels at a time.
template <typename V, typename T>
RNNKIT_ALWAYS_INLINE void multiply_row(const T* a, const T* panels, int64_t panel_size, int K,
                                       int N, const ProductOutput<T>& out) {
  constexpr int NR = 2 * static_cast<int>(sizeof(V) / sizeof(T));
  const int n_panels = (N + NR - 1) / NR;
  for (int p = 0; p < n_panels; p += 4) {
    const T* first = panels + p * panel_size;
    const ProductOutput<T> part = out.at(0, p * NR);
    const int cols = std::min(4 * NR, N - p * NR);
    switch (std::min(4, n_panels - p)) {
      case 4:
        row_tile<V, T, 4>(a, first, panel_size, K, part, cols);
        break;
      case 3:
        row_tile<V, T, 3>(a, first, panel_size, K, part, cols);
        break;
      case 2:
        row_tile<V, T, 2>(a, first, panel_size, K, part, cols);
        break;
      default:
        row_tile<V, T, 1>(a, first, panel_size, K, part, cols);
    }
  }
}

// All of C, in row tiles of at most MR rows, as even as they go (16 rows as 8 + 8, not 12 + 4:
// a 4-row tile is limited by its loads).
template <typename V, typename T, int MR, int NV>
RNNKIT_ALWAYS_INLINE void multiply_tiles(const T* A, int64_t lda, const T* panels,
                                         int64_t panel_size, int K, int N, int M,
                                         const ProductOutput<T>& out) {
  if (M == 1) {
    static_assert(NV == 2, "multiply_row reads panels two vectors wide");
    multiply_row<V, T>(A, panels, panel_size, K, N, out);
    return;
  }
  const int tiles = (M + MR - 1) / MR;
  int m = 0;
  for (int i = 0; i < tiles; ++i) {
    const int rows = M / tiles + (i < M % tiles ? 1 : 0);
    tile_rows<V, T, MR, NV>(rows, A + m * lda, lda, panels, panel_size, K, N, out.at(m, 0));
    m += rows;
  }
}

template <typename T>
using KernelFunction = void (*)(const T* A, int64_t lda, const T* panels, int64_t panel_size, int K,
                                int N, int M, const ProductOutput<T>& out);

#ifdef RNNKIT_PACKED_X86
// One function per instruction set, each instantiated for float and double. The vector type is
// declared inside, where the target attribute lets GCC give it that set's registers.
template <typename T>
__attribute__((target("avx512f,fma"))) void avx512_kernel(const T* A, int64_t lda, const T* panels,
                                                          int64_t panel_size, int K, int N, int M,
                                                          const ProductOutput<T>& out) {
  typedef T V __attribute__((vector_size(64)));
  multiply_tiles<V, T, 12, 2>(A, lda, panels, panel_size, K, N, M, out);
}

template <typename T>
__attribute__((target("avx2,fma"))) void avx2_kernel(const T* A, int64_t lda, const T* panels,
                                                     int64_t panel_size, int K, int N, int M,
                                                     const ProductOutput<T>& out) {
  typedef T V __attribute__((vector_size(32)));
  multiply_tiles<V, T, 6, 2>(A, lda, panels, panel_size, K, N, M, out);
}
#endif

PackedKernel best_kernel() {
#ifdef RNNKIT_PACKED_X86
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  PackedKernel best = avx512 ? PackedKernel::Avx512 : avx2 ? PackedKernel::Avx2 : PackedKernel::Off;
  const char* wanted = std::getenv("RNNKIT_PACKED_KERNEL");
  if (wanted == nullptr) return best;
  const std::string choice(wanted);
  // Never a kernel this CPU cannot run: asking for more than it has gets what it has. A value
  // it does not know (a typo) gets the BLAS, which is always right, never a guess.
  if (choice == "avx512") return best;
  if (choice == "avx2") return avx2 ? PackedKernel::Avx2 : PackedKernel::Off;
  return PackedKernel::Off;
#else
  return PackedKernel::Off;
#endif
}

// Columns per panel: two vectors.
template <typename T>
int panel_width(PackedKernel kernel) {
  const int vector_bytes = kernel == PackedKernel::Avx512 ? 64 : 32;
  return 2 * vector_bytes / static_cast<int>(sizeof(T));
}

template <typename T>
KernelFunction<T> kernel_function(PackedKernel kernel) {
#ifdef RNNKIT_PACKED_X86
  if (kernel == PackedKernel::Avx512) return avx512_kernel<T>;
  if (kernel == PackedKernel::Avx2) return avx2_kernel<T>;
#endif
  (void)kernel;
  return nullptr;
}

}  // namespace

PackedKernel packed_kernel() {
  static const PackedKernel chosen = best_kernel();
  return chosen;
}

const char* packed_kernel_name(PackedKernel kernel) {
  switch (kernel) {
    case PackedKernel::Avx512:
      return "avx512";
    case PackedKernel::Avx2:
      return "avx2";
    default:
      return "off";
  }
}

template <typename T>
bool PackedMatrix<T>::pays(int K, int N) {
  return packed_kernel() != PackedKernel::Off && int64_t{K} * N >= 32 * 1024;
}

template <typename T>
PackedMatrix<T>::PackedMatrix(const T* B, int64_t ldb, int K, int N)
    : K_(K), N_(N), kernel_(packed_kernel()) {
  NR_ = panel_width<T>(kernel_);
  const int64_t panels = (N + NR_ - 1) / NR_;
  const int64_t size = panels * K * NR_;
  constexpr int64_t align = 64 / sizeof(T);
  storage_.reset(new T[static_cast<size_t>(size + align)]);
  const auto address = reinterpret_cast<uintptr_t>(storage_.get());
  panels_ = storage_.get() + ((64 - address % 64) % 64) / sizeof(T);
  std::fill_n(panels_, size, T(0));
  for (int64_t p = 0; p < panels; ++p) {
    const int j0 = static_cast<int>(p) * NR_;
    const int cols = std::min(NR_, N - j0);
    T* panel = panels_ + p * K * NR_;
    for (int k = 0; k < K; ++k) std::copy_n(B + k * ldb + j0, cols, panel + int64_t{k} * NR_);
  }
}

template <typename T>
void PackedMatrix<T>::multiply(const ProductOutput<T>& out, const T* A, int64_t lda, int M, int k0,
                               int k1) const {
  if (M <= 0 || N_ == 0) return;
  if (k1 <= k0) {  // an empty product: C = its start
    for (int m = 0; m < M; ++m) {
      T* row = out.C + m * out.ldc;
      for (int j = 0; j < N_; ++j) {
        row[j] = (out.accumulate ? row[j] : T(0)) + (out.bias ? out.bias[j] : T(0));
      }
    }
    return;
  }
  kernel_function<T>(kernel_)(A, lda, panels_ + int64_t{k0} * NR_, int64_t{K_} * NR_, k1 - k0, N_,
                              M, out);
}

template class PackedMatrix<float>;
template class PackedMatrix<double>;

}  // namespace rnnkit
