// Dense layer driver (compiled once): BLAS or small-kernel products plus the ISA epilogues of
// kernels/linear.cpp. See fastnn/linear.h.
#include "fastnn/linear.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "fastnn/blas.h"

namespace fastnn {

namespace {

// C = op(A) op(B) (+ C) split across the OpenMP pool by slabs of output rows (by_rows) or
// columns, each slab one single-threaded BLAS call. For mid-size products: OpenBLAS keeps them on
// one thread (waking its own pool costs more than it saves, see blas.h) but fastnn's pool is
// already spinning. Returns false when the product is better left to one call.
template <class T>
bool matmul_split(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate,
                  double flops) {
  const int nt = num_threads();
  const double single =
      std::is_same_v<T, float> ? blas::kSingleThreadFlopsF32 : blas::kSingleThreadFlopsF64;
  if (nt < 2 || flops < kSplitGemmFlops || flops >= single || omp_in_parallel()) return false;
  const bool by_rows = m >= n;
  const int64_t dim = by_rows ? m : n;
  const int parts = static_cast<int>(std::min<int64_t>(nt, dim / kSplitGemmMinSlab));
  if (parts < 2) return false;
  blas::set_threads(1);
  note_pool_started();
  const T beta = accumulate ? T(1) : T(0);
#pragma omp parallel num_threads(parts)
  {
    const int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
    const int64_t per = ((dim + tn - 1) / tn + 15) & ~int64_t{15};
    const int64_t lo = std::min(dim, t * per), hi = std::min(dim, lo + per);
    if (lo < hi) {
      if (by_rows)
        blas::gemm_fixed(trans_a, trans_b, hi - lo, n, k, T(1), a + lo * (trans_a ? 1 : lda), lda,
                         b, ldb, beta, c + lo * ldc, ldc);
      else
        blas::gemm_fixed(trans_a, trans_b, m, hi - lo, k, T(1), a, lda,
                         b + lo * (trans_b ? ldb : 1), ldb, beta, c + lo, ldc);
    }
  }
  return true;
}

}  // namespace

bool linear_backward_uses_output(Act act) {
  return act == Act::identity || act == Act::step || act == Act::relu || act == Act::sigmoid ||
         act == Act::tanh;
}

template <class T>
void matmul_raw(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
                int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, sizeof(T) * n);
    return;
  }
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const double small = std::is_same_v<T, float> ? kSmallGemmFlopsF32 : kSmallGemmFlopsF64;
  if (flops < small && n >= kSmallGemmMinN) {
    // A(i, l) and B(l, j) as strides.
    const int64_t sai = trans_a ? 1 : lda, sal = trans_a ? lda : 1;
    const int64_t sbl = trans_b ? 1 : ldb, sbj = trans_b ? ldb : 1;
    kernels().get<T>().linear.gemm_small(m, n, k, a, sai, sal, b, sbl, sbj, c, ldc, accumulate);
    return;
  }
  if (matmul_split<T>(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate, flops)) return;
  blas::gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, accumulate ? T(1) : T(0), c, ldc);
}

template <class T>
void linear_forward_raw(const T* x, const T* w, const T* bias, T* y, T* preact, int64_t m,
                        int64_t k, int64_t n, Act act, const ActParams& p) {
  if (m <= 0 || n <= 0) return;
  const auto& lk = kernels().get<T>().linear;
  const bool epi = bias != nullptr || act != Act::identity || (preact != nullptr && preact != y);
  T* z = preact != nullptr ? preact : y;  // where the product lands
  const int64_t block = epi ? std::max<int64_t>(kMinBlockRows, kEpilogueBlockBytes * num_threads() /
                                                                   (n * int64_t(sizeof(T))))
                            : m;
  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t rows = std::min(block, m - r0);
    matmul_raw<T>(false, true, rows, n, k, x + r0 * k, k, w, k, z + r0 * n, n, false);
    if (epi)
      lk.epilogue[static_cast<int>(act)](z + r0 * n, bias, preact ? preact + r0 * n : nullptr,
                                         y + r0 * n, rows, n, p);
  }
}

template <class T>
void linear_backward_raw(const T* grad_out, const T* x, const T* w, const T* v, bool from_y,
                         int64_t m, int64_t k, int64_t n, Act act, const ActParams& p,
                         T* grad_input, T* grad_weight, T* grad_bias, bool accumulate, T* scratch) {
  const auto& lk = kernels().get<T>().linear;
  const T* g = grad_out;
  std::unique_ptr<T[]> owned;
  if (m > 0 && n > 0) {
    if (act == Act::identity) {
      if (grad_bias != nullptr)
        lk.backward_prep[static_cast<int>(Act::identity)](grad_out, nullptr, false, nullptr,
                                                          grad_bias, accumulate, m, n, p);
    } else {
      if (scratch == nullptr) {
        owned.reset(new T[static_cast<size_t>(m * n)]);
        scratch = owned.get();
      }
      lk.backward_prep[static_cast<int>(act)](grad_out, v, from_y, scratch, grad_bias, accumulate,
                                              m, n, p);
      g = scratch;
    }
  } else if (grad_bias != nullptr && !accumulate) {
    for (int64_t j = 0; j < n; ++j) grad_bias[j] = T(0);
  }
  // grad_input (m, k) = g (m, n) @ w (n, k)
  if (grad_input != nullptr) matmul_raw<T>(false, false, m, k, n, g, n, w, k, grad_input, k, false);
  // grad_weight (n, k) (+)= g^T (n, m) @ x (m, k)
  if (grad_weight != nullptr)
    matmul_raw<T>(true, false, n, k, m, g, n, x, k, grad_weight, k, accumulate);
}

#define FASTNN_INSTANTIATE(T)                                                                     \
  template void matmul_raw<T>(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, \
                              int64_t, T*, int64_t, bool);                                        \
  template void linear_forward_raw<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t,     \
                                      int64_t, Act, const ActParams&);                            \
  template void linear_backward_raw<T>(const T*, const T*, const T*, const T*, bool, int64_t,     \
                                       int64_t, int64_t, Act, const ActParams&, T*, T*, T*, bool, \
                                       T*);
FASTNN_INSTANTIATE(float)
FASTNN_INSTANTIATE(double)
#undef FASTNN_INSTANTIATE

}  // namespace fastnn
