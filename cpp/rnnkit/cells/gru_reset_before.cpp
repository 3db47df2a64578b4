#include "rnnkit/cells/gru_reset_before.hpp"

#include "rnnkit/engine/driver_impl.hpp"

RNNKIT_INSTANTIATE_DRIVER(rnnkit::cells::GruResetBefore)
