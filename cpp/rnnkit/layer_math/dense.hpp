// The dense (fully connected) layer over a batch of rows: y = act(x·W + b) and its backward.
// The products are the BLAS's, single-threaded inside rnnkit's workers (threads.hpp), so a
// training step of a Dense or TimeDistributed(Dense) layer never wakes a second thread pool.
#pragma once

#include <string>

namespace rnnkit::layer_math {

// rnnkit.activations' names (python/rnnkit/activations.py); softmax is over each row.
enum class DenseActivation { Linear, Tanh, Relu, Sigmoid, Softmax };

// std::invalid_argument naming the known ones for any other name.
DenseActivation parse_dense_activation(const std::string& name);

// Row-major shapes: x (rows × in), W (in × out), b (out) or null, y (rows × out).
struct DenseShape {
  int rows;
  int in;
  int out;
};

// y = act(x·W + b). float32's tanh is the kernels' rational one (relative error ~3e-7); every
// other function is the library's or exact.
template <typename T>
void dense_forward(const DenseShape& shape, const T* x, const T* W, const T* b, T* y,
                   DenseActivation act);

// What the backward reads and writes; any output may be null (not wanted).
template <typename T>
struct DenseGrads {
  T* dx;  // rows × in: da·Wᵀ
  T* dW;  // in × out: xᵀ·da
  T* db;  // out: the column sums of da
};

// da = dy ⊙ act′ (read off y = act(x·W + b)), then the products. dy and y are rows × out.
template <typename T>
void dense_backward(const DenseShape& shape, const T* x, const T* W, const T* y, const T* dy,
                    DenseActivation act, const DenseGrads<T>& grads);

}  // namespace rnnkit::layer_math
