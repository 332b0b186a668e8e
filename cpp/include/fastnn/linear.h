// Dense (linear) layer, forward and backward, on raw row-major buffers: the C++ API the bindings
// and the fused training step call. Matrix products go through OpenBLAS (fastnn/blas.h) or, for
// tiny products, fastnn's own register-blocked kernel; bias + activation are fused into an
// epilogue over cache-sized row blocks of the product. No validation here: callers check shapes.
// All pointers are C-contiguous, non-overlapping except where noted. Weight is (n, k) like
// torch.nn.Linear (out_features, in_features). Call from outside OpenMP parallel regions.
#pragma once
#include <cstdint>

#include "fastnn/kernel_table.h"

namespace fastnn {

// Products with fewer flops (2 m n k) than this, and at least kSmallGemmMinN output columns, use
// fastnn's own register-blocked kernel instead of BLAS (measured, BENCHMARKS.md "Linear"): in
// float64 it beats OpenBLAS by 5-20% up to 128^3; in float32 OpenBLAS's SkylakeX small-matrix
// kernels tie or win at every size, so it is off (0). Rechecked for the five products of the
// tiny training step (batch 64, 100 -> 64 -> 10; _bench_gemm with trans_a/trans_b, 1 thread,
// min us, OpenBLAS vs gemm_small): x W1^T 9.3 vs 9.6, h W2^T 1.07 vs 1.64, g2^T h 0.73 vs 1.35,
// g2 W2 0.81 vs 1.27, g1^T x 7.3 vs 10.7 -- OpenBLAS wins all five (its sgemm_tn packed path
// runs g1^T x at ~110 GFLOP/s, near one core's float32 peak), so there is no crossover to use.
inline constexpr double kSmallGemmFlopsF32 = 0.0;
inline constexpr double kSmallGemmFlopsF64 = 4.5e6;
inline constexpr int64_t kSmallGemmMinN = 16;
// Products from this many flops up to blas.h's kSingleThreadFlops are split across fastnn's
// OpenMP pool in slabs of at least kSplitGemmMinSlab output rows (or columns), one
// single-threaded BLAS call each (matmul_raw); below it one call is faster than the fork/join
// (on a quiet machine the split already wins from ~0.8 MFLOP, 1.3x, but with the other core busy
// a fork/join per product costs more than such a product).
inline constexpr double kSplitGemmFlops = 4.0e6;
inline constexpr int64_t kSplitGemmMinSlab = 16;
// Bytes of product per thread the forward computes before running the epilogue on it (L2-hot;
// Zen 4 has 1 MiB of L2 per core).
inline constexpr int64_t kEpilogueBlockBytes = 1024 * 1024;
// At least this many rows per BLAS call: each call repacks the weight (measured: 64-row blocks of
// 256 x 1024 -> 1024 cost 30% over one call).
inline constexpr int64_t kMinBlockRows = 256;

// True when the activation's backward can use the forward's output y (identity, step, relu,
// sigmoid, tanh); the others need the pre-activation z = x W^T + b.
bool linear_backward_uses_output(Act act);

// y (m, n) = act(x (m, k) @ w(n, k)^T + bias (n,)). bias may be null. preact (m, n), when not null,
// receives z = x w^T + bias (preact may equal y only for Act::identity).
template <class T>
void linear_forward_raw(const T* x, const T* w, const T* bias, T* y, T* preact, int64_t m,
                        int64_t k, int64_t n, Act act, const ActParams& p);

// Backward of linear_forward_raw. grad_out (m, n). v is preact (from_y = false) or, where
// linear_backward_uses_output(act), the output y (from_y = true); unused for identity (may be
// null). Outputs may each be null (not needed): grad_input (m, k) = g @ w; grad_weight (n, k)
// (+)= g^T @ x; grad_bias (n,) (+)= column sums of g (double accumulation), where
// g = grad_out * act'(.) and "+=" applies when accumulate. scratch: null, or m * n elements for g
// (allocated internally when null and act is not identity).
template <class T>
void linear_backward_raw(const T* grad_out, const T* x, const T* w, const T* v, bool from_y,
                         int64_t m, int64_t k, int64_t n, Act act, const ActParams& p,
                         T* grad_input, T* grad_weight, T* grad_bias, bool accumulate,
                         T* scratch = nullptr);

// C (m, n) (+)= op(A) @ op(B), row-major, through the small kernel or BLAS by size: the same
// dispatch linear_* use, for other native code (e.g. the fused training step).
template <class T>
void matmul_raw(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
                int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate);

}  // namespace fastnn
