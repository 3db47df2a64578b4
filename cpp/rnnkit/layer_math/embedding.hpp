// The gradient of an embedding lookup: the rows of the upstream gradient added into the rows of
// the table gradient their ids name (NumPy's np.add.at, a scatter-add).
#pragma once

#include <cstdint>

namespace rnnkit::layer_math {

// out (V × D) = 0, then out[ids[i]] += rows[i] for i < n (rows is n × D). The ids must lie in
// [0, V) (the caller checked); rows of one id are added in index order.
template <typename T>
void embedding_scatter_add(T* out, int64_t V, int64_t D, const int64_t* ids, int64_t n,
                           const T* rows);

}  // namespace rnnkit::layer_math
