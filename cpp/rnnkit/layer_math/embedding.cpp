#include "rnnkit/layer_math/embedding.hpp"

#include <algorithm>

namespace rnnkit::layer_math {

// One thread: the adds are memory-bound and few (a batch of ids times D), a worker wake-up costs
// about as much, and splitting by id would need the ids sorted first.
template <typename T>
void embedding_scatter_add(T* out, int64_t V, int64_t D, const int64_t* ids, int64_t n,
                           const T* rows) {
  std::fill(out, out + V * D, T(0));
  for (int64_t i = 0; i < n; ++i) {
    T* target = out + ids[i] * D;
    const T* source = rows + i * D;
    for (int64_t j = 0; j < D; ++j) target[j] += source[j];
  }
}

template void embedding_scatter_add<float>(float*, int64_t, int64_t, const int64_t*, int64_t,
                                           const float*);
template void embedding_scatter_add<double>(double*, int64_t, int64_t, const int64_t*, int64_t,
                                            const double*);

}  // namespace rnnkit::layer_math
