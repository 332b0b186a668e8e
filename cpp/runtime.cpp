// Thread count shared by every kernel. Starts at OpenMP's default, which honours OMP_NUM_THREADS.
#include <omp.h>

#include <atomic>
#include <stdexcept>

#include "fastnn/kernel_table.h"

namespace fastnn {
namespace {
std::atomic<int> g_threads{0};
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = omp_get_max_threads();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("n: the number of threads must be >= 1");
  g_threads.store(n, std::memory_order_relaxed);
}

}  // namespace fastnn
