// Static split of [0, n) across the OpenMP pool, only when each thread gets at least `grain`
// elements: below that a single thread is faster than waking the pool.
#pragma once
#include <omp.h>

#include <cstdint>

#include "fastnn/isa.h"
#include "fastnn/kernel_table.h"

namespace fastnn::FASTNN_ISA {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// A scratch buffer owned by this ISA's code (no std:: containers in kernels: one compiled with
// AVX-512 flags could be the copy the linker keeps for every ISA).
struct Scratch {
  double* p;
  explicit Scratch(int64_t n) : p(new double[n > 0 ? n : 1]) {}
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

template <class Body>
inline void parallel_for(int64_t n, int64_t grain, Body&& body) {
  const int nt = num_threads();
  const int64_t chunks = grain > 0 ? n / grain : n;
  if (nt <= 1 || chunks < 2) {
    if (n > 0) body(int64_t{0}, n);
    return;
  }
  const int used = static_cast<int>(imin(nt, chunks));
  note_pool_started();
#pragma omp parallel num_threads(used)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t T = omp_get_num_threads();
    // Blocks are multiples of 64 elements so no two threads share a cache line of output.
    const int64_t per = ((n + T - 1) / T + 63) & ~int64_t{63};
    const int64_t b = imin(n, t * per);
    const int64_t e = imin(n, b + per);
    if (b < e) body(b, e);
  }
}

}  // namespace fastnn::FASTNN_ISA
