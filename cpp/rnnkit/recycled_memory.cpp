// The store of recycled_memory.hpp. Each block carries its size in a 64-byte header before the
// memory it hands out. Freed blocks of at least 1 MiB wait in a short list (the oldest leaves
// first); a request takes the smallest waiting block that holds it without wasting more than half,
// so that one large block is not spent on small requests. A sanitizer build recycles nothing, so
// that AddressSanitizer still sees every buffer's own bounds and lifetime.
#include "rnnkit/recycled_memory.hpp"

#include <pthread.h>

#include <array>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace rnnkit {

namespace {

constexpr std::size_t kHeader = 64;  // keeps the memory after it 64-byte aligned
constexpr std::size_t kSmallest = std::size_t{1} << 20;  // below: malloc reuses memory itself
constexpr std::size_t kMaxWaiting = 8;
constexpr std::size_t kMaxWaitingBytes = std::size_t{256} << 20;

struct Waiting {
  char* base;
  std::size_t bytes;  // usable bytes after the header
};

std::mutex store_mutex;
// Guarded by store_mutex; its room reserved up front, so that returning a block never allocates.
std::vector<Waiting> waiting = [] {
  std::vector<Waiting> list;
  list.reserve(kMaxWaiting);
  return list;
}();
std::size_t waiting_bytes = 0;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycle = false;
#else
constexpr bool kRecycle = true;
#endif

void free_block(char* base) {
  ::operator delete(base, std::align_val_t{64});
}

char* base_of(void* block) {
  return static_cast<char*>(block) - kHeader;
}

// A fork while another thread holds the store's lock would leave the child's copy locked.
void lock_store_for_fork() {
  store_mutex.lock();
}
void unlock_store_after_fork() {
  store_mutex.unlock();
}
const bool store_fork_handlers_registered = [] {
  return pthread_atfork(lock_store_for_fork, unlock_store_after_fork, unlock_store_after_fork) == 0;
}();

}  // namespace

void* acquire_memory(std::size_t bytes) {
  if (kRecycle && bytes >= kSmallest) {
    const std::lock_guard<std::mutex> lock(store_mutex);
    auto best = waiting.end();
    for (auto it = waiting.begin(); it != waiting.end(); ++it) {
      if (it->bytes >= bytes && it->bytes <= 2 * bytes &&
          (best == waiting.end() || it->bytes < best->bytes)) {
        best = it;
      }
    }
    if (best != waiting.end()) {
      char* base = best->base;
      waiting_bytes -= best->bytes;
      waiting.erase(best);
      return base + kHeader;
    }
  }
  char* base = static_cast<char*>(::operator new(kHeader + bytes, std::align_val_t{64}));
  *reinterpret_cast<std::size_t*>(base) = bytes;
  return base + kHeader;
}

void release_memory(void* block) noexcept {
  if (block == nullptr) return;
  char* base = base_of(block);
  const std::size_t bytes = *reinterpret_cast<std::size_t*>(base);
  if (kRecycle && bytes >= kSmallest && bytes <= kMaxWaitingBytes) {
    std::array<char*, kMaxWaiting> evicted{};
    std::size_t n_evicted = 0;
    {
      const std::lock_guard<std::mutex> lock(store_mutex);
      // Oldest out first until the newest fits.
      while (!waiting.empty() &&
             (waiting.size() >= kMaxWaiting || waiting_bytes + bytes > kMaxWaitingBytes)) {
        evicted[n_evicted++] = waiting.front().base;
        waiting_bytes -= waiting.front().bytes;
        waiting.erase(waiting.begin());
      }
      waiting.push_back({base, bytes});
      waiting_bytes += bytes;
    }
    for (std::size_t i = 0; i < n_evicted; ++i) free_block(evicted[i]);
    return;
  }
  free_block(base);
}

}  // namespace rnnkit
