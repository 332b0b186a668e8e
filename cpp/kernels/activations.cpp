// Elementwise activation kernels: one generic driver applies each functor's forward, derivative
// and fused backward over contiguous arrays, vectorized by the compiler for this file's ISA.
#include "fastnn/activation_functors.h"
#include "fastnn/parallel.h"

namespace fastnn::FASTNN_ISA {
namespace {

// Elements per thread below which threading costs more than it saves (measured: bench/).
constexpr int64_t kGrainCheap = 65536;

// kPerThreadParams: each thread body copies the ActParams into its own frame. Read through the
// lambda capture, the loop reloads p.a every element (a store through y may alias it for double)
// from the calling thread's stack, and that line is also written by the caller's spills: the
// false sharing made 2-thread leaky_relu 12x slower than 1 thread at 1.6e7.

template <class A>
constexpr int64_t grain() {
  return kGrainCheap / A::cost;
}

// Functors may restrict their float paths to some parameters (softplus: beta = 1).
template <class A>
bool float_path_ok(const ActParams& p) {
  if constexpr (requires { A::f32_ok(p); }) {
    return A::f32_ok(p);
  } else {
    return true;
  }
}

template <class A, class T>
void forward(const T* x, T* y, int64_t n, const ActParams& p) {
  const ActParams pc = p;
  if constexpr (std::is_same_v<T, float> && requires { A::f32(0.0f, p); }) {
    if (float_path_ok<A>(p)) {
      parallel_for(n, grain<A>() * 2, [=](int64_t b, int64_t e) {
        const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
        for (int64_t i = b; i < e; ++i) y[i] = A::f32(x[i], q);
      });
      return;
    }
  }
  parallel_for(n, grain<A>(), [=](int64_t b, int64_t e) {
    const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<T>(A::f(static_cast<double>(x[i]), q));
  });
}

template <class A, class T>
void derivative(const T* x, T* y, int64_t n, const ActParams& p) {
  const ActParams pc = p;
  if constexpr (std::is_same_v<T, float> && requires { A::backward32(1.0f, 0.0f, p); }) {
    if (float_path_ok<A>(p)) {
      parallel_for(n, grain<A>() * 2, [=](int64_t b, int64_t e) {
        const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
        for (int64_t i = b; i < e; ++i) y[i] = A::backward32(1.0f, x[i], q);
      });
      return;
    }
  }
  parallel_for(n, grain<A>(), [=](int64_t b, int64_t e) {
    const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
    for (int64_t i = b; i < e; ++i)
      y[i] = static_cast<T>(A::backward(1.0, static_cast<double>(x[i]), q));
  });
}

template <class A, class T>
void backward(const T* g, const T* x, T* out, int64_t n, const ActParams& p) {
  const ActParams pc = p;
  if constexpr (std::is_same_v<T, float> && requires { A::backward32(1.0f, 0.0f, p); }) {
    if (float_path_ok<A>(p)) {
      parallel_for(n, grain<A>() * 2, [=](int64_t b, int64_t e) {
        const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
        for (int64_t i = b; i < e; ++i) out[i] = A::backward32(g[i], x[i], q);
      });
      return;
    }
  }
  parallel_for(n, grain<A>(), [=](int64_t b, int64_t e) {
    const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
    for (int64_t i = b; i < e; ++i)
      out[i] = static_cast<T>(A::backward(static_cast<double>(g[i]), static_cast<double>(x[i]), q));
  });
}

template <class A, class T>
void backward_from_output(const T* g, const T* y, T* out, int64_t n, const ActParams& p) {
  const ActParams pc = p;
  parallel_for(n, grain<A>(), [=](int64_t b, int64_t e) {
    const ActParams q = pc;  // per-thread copy, see kPerThreadParams
#pragma omp simd
    for (int64_t i = b; i < e; ++i)
      out[i] =
          static_cast<T>(A::backward_y(static_cast<double>(g[i]), static_cast<double>(y[i]), q));
  });
}

template <class A, bool HasY, class T>
ActivationKernels<T> make() {
  ActivationKernels<T> k;
  k.forward = &forward<A, T>;
  k.derivative = &derivative<A, T>;
  k.backward = &backward<A, T>;
  if constexpr (HasY) k.backward_from_output = &backward_from_output<A, T>;
  return k;
}

}  // namespace

void fill_activations(KernelTable& t) {
#define FASTNN_ACT_FILL(name, Functor, nparams, p0, d0, p1, d1, has_y)    \
  t.f32.act[static_cast<int>(Act::name)] = make<Functor, has_y, float>(); \
  t.f64.act[static_cast<int>(Act::name)] = make<Functor, has_y, double>();
  FASTNN_ACTIVATIONS(FASTNN_ACT_FILL)
#undef FASTNN_ACT_FILL
}

}  // namespace fastnn::FASTNN_ISA
