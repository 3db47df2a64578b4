#include "rnnkit/cells/lstm.hpp"

#include "rnnkit/engine/driver_impl.hpp"

RNNKIT_INSTANTIATE_DRIVER(rnnkit::cells::Lstm)
