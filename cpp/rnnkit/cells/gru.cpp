#include "rnnkit/cells/gru.hpp"

#include "rnnkit/engine/driver_impl.hpp"

RNNKIT_INSTANTIATE_DRIVER(rnnkit::cells::Gru)
