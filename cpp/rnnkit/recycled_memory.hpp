// Large buffers recycled from one kernel call to the next. A fresh allocation of tens of MB is
// mapped anew by the C library, and every one of its pages faults and is zeroed by the kernel on
// first touch: at the LSTM's (64, 100, 128, 256) that was 8% of a forward+backward call on one
// thread (docs/performance.md, "Recycled buffers"). The store keeps a few freed blocks and hands
// them back to calls that need as much. Internal to the C++ core; no Python in here.
#pragma once

#include <cstddef>
#include <memory>

namespace rnnkit {

// At least `bytes` of 64-byte-aligned, uninitialised memory; give it back with release_memory.
void* acquire_memory(std::size_t bytes);
// Returns a block from acquire_memory: kept for a later call if it is large and the store has
// room (8 blocks, 256 MiB at most), else freed. Thread-safe; safe across fork.
void release_memory(void* block) noexcept;

struct ReleaseMemory {
  void operator()(void* block) const noexcept { release_memory(block); }
};

// An uninitialised array of `count` T from the store, owned.
template <typename T>
class RecycledArray {
 public:
  explicit RecycledArray(std::size_t count)
      : block_(count > 0 ? acquire_memory(count * sizeof(T)) : nullptr) {}
  T* get() const { return static_cast<T*>(block_.get()); }

 private:
  std::unique_ptr<void, ReleaseMemory> block_;
};

}  // namespace rnnkit
