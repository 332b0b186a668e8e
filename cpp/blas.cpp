// OpenBLAS glue (scipy-openblas32). Not an ISA kernel: compiled once, OpenBLAS dispatches itself.
#include "fastnn/blas.h"

#include <atomic>
#include <string>

#include "fastnn/kernel_table.h"

// scipy-openblas32's cblas.h declares the prefixed names (scipy_cblas_sgemm, ...) directly.
#include <cblas.h>

namespace fastnn::blas {
namespace {

// What we last told OpenBLAS (0: not yet). OpenBLAS's own count is process-global.
std::atomic<int> g_blas_threads{0};

int threads_for(int64_t m, int64_t n, int64_t k, double threshold) {
  const double flops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return flops < threshold ? 1 : num_threads();
}

CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

}  // namespace

void set_threads(int n) {
  if (n < 1) n = 1;
  if (g_blas_threads.load(std::memory_order_relaxed) == n) return;
  scipy_openblas_set_num_threads(n);
  g_blas_threads.store(n, std::memory_order_relaxed);
}

int get_threads() { return scipy_openblas_get_num_threads(); }

void gemm_fixed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  scipy_cblas_sgemm(CblasRowMajor, tr(trans_a), tr(trans_b), static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  set_threads(threads_for(m, n, k, kSingleThreadFlopsF32));
  gemm_fixed(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_fixed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  scipy_cblas_dgemm(CblasRowMajor, tr(trans_a), tr(trans_b), static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  set_threads(threads_for(m, n, k, kSingleThreadFlopsF64));
  gemm_fixed(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string info() {
  return std::string("OpenBLAS ") + scipy_openblas_get_config() + " core " +
         scipy_openblas_get_corename();
}

}  // namespace fastnn::blas
