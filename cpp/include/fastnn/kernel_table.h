// The per-instruction-set table of kernels. Every kernel family is compiled once per ISA
// (scalar baseline, AVX2+FMA, AVX-512) and fills its slots here; dispatch picks one table.
#pragma once
#include <cstdint>
#include <type_traits>

#include "fastnn/activation_list.h"
#include "fastnn/loss_kernels.h"
#include "fastnn/optim_kernels.h"

namespace fastnn {

struct ActParams {
  double a = 0.0;
  double b = 0.0;
};

enum class Act : int {
#define FASTNN_ACT_ENUM(name, Functor, nparams, p0, d0, p1, d1, has_y) name,
  FASTNN_ACTIVATIONS(FASTNN_ACT_ENUM)
#undef FASTNN_ACT_ENUM
      count
};
inline constexpr int kNumActivations = static_cast<int>(Act::count);

template <class T>
struct ActivationKernels {
  void (*forward)(const T* x, T* y, int64_t n, const ActParams& p) = nullptr;
  void (*derivative)(const T* x, T* y, int64_t n, const ActParams& p) = nullptr;
  // grad_out * f'(x), one pass.
  void (*backward)(const T* g, const T* x, T* out, int64_t n, const ActParams& p) = nullptr;
  // grad_out * f'(x) written in terms of y = f(x) (sigmoid, tanh); null where f has no such form.
  void (*backward_from_output)(const T* g, const T* y, T* out, int64_t n,
                               const ActParams& p) = nullptr;
};

// An array seen as (outer, len, inner) with the softmax axis in the middle.
template <class T>
struct SoftmaxKernels {
  void (*forward)(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, bool log) = nullptr;
  void (*backward)(const T* g, const T* y, T* out, int64_t outer, int64_t len, int64_t inner,
                   bool log) = nullptr;
};

// Dense layer pieces around the BLAS products (kernels/linear.cpp; the driver is cpp/linear.cpp).
template <class T>
struct LinearKernels {
  // y = f(z + bias) over (rows, n) row-major; bias (n,) may be null; preact, when not null,
  // receives z + bias. z may be the same buffer as y or preact (elementwise, in place).
  void (*epilogue[kNumActivations])(const T* z, const T* bias, T* preact, T* y, int64_t rows,
                                    int64_t n, const ActParams& p) = {};
  // g = grad_out * f'(v), v the pre-activation or (from_y) the output; g may be null (identity:
  // only the reduction). grad_bias, when not null, gets (accumulate: += ) the column sums of g,
  // accumulated in double.
  void (*backward_prep[kNumActivations])(const T* grad_out, const T* v, bool from_y, T* g,
                                         T* grad_bias, bool accumulate, int64_t rows, int64_t n,
                                         const ActParams& p) = {};
  // Single-threaded register-blocked C (m, n) = A @ B (+ C when accumulate) for small products.
  // A(i, l) = a[i * sai + l * sal]; B(l, j) = b[l * sbl + j * sbj] (packed when sbj != 1).
  void (*gemm_small)(int64_t m, int64_t n, int64_t k, const T* a, int64_t sai, int64_t sal,
                     const T* b, int64_t sbl, int64_t sbj, T* c, int64_t ldc,
                     bool accumulate) = nullptr;
};

template <class T>
struct DtypeKernels {
  ActivationKernels<T> act[kNumActivations];
  SoftmaxKernels<T> softmax;
  OptimKernels<T> optim;
  LossKernels<T> loss;
  LinearKernels<T> linear;
};

struct KernelTable {
  const char* isa = "";
  DtypeKernels<float> f32;
  DtypeKernels<double> f64;

  template <class T>
  const DtypeKernels<T>& get() const {
    if constexpr (std::is_same_v<T, float>)
      return f32;
    else
      return f64;
  }
};

// One table per ISA; each is defined in kernels/kernel_table.cpp compiled with that ISA's flags.
namespace scalar {
const KernelTable& kernel_table();
}
namespace avx2 {
const KernelTable& kernel_table();
}
namespace avx512 {
const KernelTable& kernel_table();
}

// The table in use (dispatch.cpp).
const KernelTable& kernels();

// Threads available to kernels (runtime.cpp); set by fastnn.set_num_threads.
// In a child forked after the OpenMP pool started, num_threads() is 1 (see runtime.cpp).
int num_threads();
void set_num_threads(int n);
void note_pool_started();
bool in_forked_child();

}  // namespace fastnn
