// The BLAS behind fastnn's matrix products: OpenBLAS from the scipy-openblas32 wheel (symbols
// prefixed scipy_, 32-bit integers, pthreads). Compiled once (not per ISA): OpenBLAS picks its own
// kernels for the CPU at load time. Every call happens outside OpenMP parallel regions.
#pragma once
#include <cstdint>
#include <string>

namespace fastnn::blas {

// Largest dimension / leading dimension a call may take (blasint is int32).
inline constexpr int64_t kMaxDim = 2147483647;

// Row-major C[m, n] = alpha * op(A) @ op(B) + beta * C, op(X) = X^T when trans_x. A is (m, k) or,
// transposed, (k, m) with leading dimension lda; likewise B. beta == 0 ignores C's contents.
// Threads: 1 below kSingleThreadFlops, else fastnn::num_threads() (see set_threads_for).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

// The same product on whatever thread count OpenBLAS is set to (benchmarks, pinned policies).
void gemm_fixed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc);
void gemm_fixed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                int64_t ldc);

// Below this many flops (2 m n k) a product runs on one BLAS thread: waking the BLAS pool costs
// more than it saves (measured, see BENCHMARKS.md "Linear": float32 2 threads lose up to
// 64x256x256 = 8.4 MFLOP and win from 256^3 = 34 MFLOP; float64 2 threads win from 128^3 = 4.2).
inline constexpr double kSingleThreadFlopsF32 = 16.0e6;
inline constexpr double kSingleThreadFlopsF64 = 2.0e6;

// Sets OpenBLAS's thread count (cached: a no-op when unchanged). gemm() calls it itself with 1 or
// fastnn::num_threads(); fastnn.set_num_threads also calls it.
void set_threads(int n);
int get_threads();

// "OpenBLAS <version> <corename> <config>" for show_config.
std::string info();

}  // namespace fastnn::blas
