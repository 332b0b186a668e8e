// Thread count shared by every kernel. Starts at OpenMP's default, which honours OMP_NUM_THREADS.
//
// Fork safety: GNU OpenMP keeps its worker pool across fork(), but the threads do not exist in the
// child, so the child's first parallel region hangs (seen here with multiprocessing's fork start
// method). A pthread_atfork handler therefore makes a child whose parent had started the pool run
// every kernel single-threaded: results are identical (elementwise work does not depend on the
// thread count; reductions use fixed chunking), only slower.
#include <omp.h>
#include <pthread.h>

#include <atomic>
#include <stdexcept>

#include "fastnn/kernel_table.h"

namespace fastnn {
namespace {
std::atomic<int> g_threads{0};
std::atomic<bool> g_pool_started{false};
std::atomic<bool> g_forked_child{false};

void in_child_after_fork() {
  if (g_pool_started.load(std::memory_order_relaxed)) g_forked_child.store(true);
}

struct RegisterForkHandler {
  RegisterForkHandler() { pthread_atfork(nullptr, nullptr, &in_child_after_fork); }
} register_fork_handler;
}  // namespace

int num_threads() {
  if (g_forked_child.load(std::memory_order_relaxed)) return 1;
  // Inside a parallel region, even a team of one (the fused training step gives each thread its
  // own share of the work), every kernel runs on the calling thread.
  if (omp_get_level() > 0) return 1;
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

void note_pool_started() {
  if (!g_pool_started.load(std::memory_order_relaxed)) g_pool_started.store(true);
}

bool in_forked_child() { return g_forked_child.load(std::memory_order_relaxed); }

}  // namespace fastnn
