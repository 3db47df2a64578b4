#include "rnnkit/threads.hpp"

#include <mutex>

#include "rnnkit/blas.hpp"

namespace rnnkit {
namespace {

std::mutex section_mutex;
int sections_open = 0;     // kernels currently running
int threads_outside = 1;   // the BLAS setting to restore when the last one ends

}  // namespace

int configured_threads() {
  std::lock_guard<std::mutex> lock(section_mutex);
  return sections_open > 0 ? threads_outside : blas::get_num_threads();
}

void set_configured_threads(int n) {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (sections_open > 0) {
    threads_outside = n;  // takes effect when the running kernels finish
  } else {
    blas::set_num_threads(n);
  }
}

SerialBlasSection::SerialBlasSection() {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (sections_open++ == 0) {
    threads_outside = blas::get_num_threads();
    if (threads_outside != 1) blas::set_num_threads(1);
  }
}

SerialBlasSection::~SerialBlasSection() {
  std::lock_guard<std::mutex> lock(section_mutex);
  if (--sections_open == 0 && threads_outside != 1) blas::set_num_threads(threads_outside);
}

}  // namespace rnnkit
