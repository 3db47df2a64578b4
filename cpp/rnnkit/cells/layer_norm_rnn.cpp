#include "rnnkit/cells/layer_norm_rnn.hpp"

#include "rnnkit/engine/driver_impl.hpp"

RNNKIT_INSTANTIATE_DRIVER(rnnkit::cells::LayerNormRnn)
