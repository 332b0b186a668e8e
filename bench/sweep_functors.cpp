// Float32 activation paths straight from the headers, without building the package: every
// stride-th float32 bit pattern (stride 1: all 2^32) through a functor's f32 path, against its
// own float64 path rounded to float32 (itself within 1e-14 of tests/reference.py), and the
// single-thread time over 65,536 cache-resident floats. Minutes instead of bench/sweep_float32.py's
// tens of minutes; use it to iterate on cpp/include/fastnn/*.h, then confirm with the tests.
//
//   g++ -std=c++20 -O3 -fno-math-errno -fno-trapping-math -fopenmp-simd -mavx2 -mfma -mbmi2 \
//       -mf16c -DFASTNN_ISA=avx2 -Icpp/include bench/sweep_functors.cpp -o /tmp/sweep_functors
//   /tmp/sweep_functors [sigmoid|tanh|elu|selu|silu|softplus|gelu|gelu_tanh|all] [stride]
//
// (-DFASTNN_ISA=scalar without the -m flags checks the portable level.) The ulp distance maps
// floats to monotonic integers, as tests/reference.py's ulp_distance; NaN must match NaN.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fastnn/activation_functors.h"

using namespace fastnn::FASTNN_ISA;
using fastnn::ActParams;

namespace {

int64_t ordered(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : i;
}

template <class A>
__attribute__((noinline)) void run(const float* x, float* y, int64_t n, const ActParams& p) {
  const ActParams q = p;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = A::f32(x[i], q);
}

template <class A>
void check(const char* name, uint64_t stride, ActParams p = {}) {
  const int64_t n = 65536;
  std::vector<float> x(n), y(n);
  std::mt19937 gen(1);
  std::normal_distribution<float> dist(0.f, 3.f);
  for (float& v : x) v = dist(gen);
  double best = 1e30;
  for (int rep = 0; rep < 300; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    run<A>(x.data(), y.data(), n, p);
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  int64_t worst = 0, nan_bad = 0;
  float worst_x = 0.0f;
  for (uint64_t b = 0; b < (1ull << 32);) {
    int64_t m = 0;
    for (; m < n && b < (1ull << 32); ++m, b += stride) {
      const uint32_t u = static_cast<uint32_t>(b);
      std::memcpy(&x[m], &u, 4);
    }
    run<A>(x.data(), y.data(), m, p);
    for (int64_t i = 0; i < m; ++i) {
      const float want = static_cast<float>(A::f(static_cast<double>(x[i]), p));
      if (std::isnan(want) || std::isnan(y[i])) {
        nan_bad += std::isnan(want) != std::isnan(y[i]);
        continue;
      }
      const int64_t d = std::llabs(ordered(want) - ordered(y[i]));
      if (d > worst) {
        worst = d;
        worst_x = x[i];
      }
    }
  }
  std::printf("%-10s %.3f ns/element  worst %lld ulp at %a  NaN mismatches %lld\n", name, best / n,
              static_cast<long long>(worst), worst_x, static_cast<long long>(nan_bad));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string w = argc > 1 ? argv[1] : "all";
  const uint64_t stride = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 97;
  ActParams elu;
  elu.a = 1.0;
  ActParams softplus;
  softplus.a = 1.0;
  softplus.b = 20.0;
  if (w == "all" || w == "sigmoid") check<Sigmoid>("sigmoid", stride);
  if (w == "all" || w == "tanh") check<Tanh>("tanh", stride);
  if (w == "all" || w == "elu") check<Elu>("elu", stride, elu);
  if (w == "all" || w == "selu") check<Selu>("selu", stride);
  if (w == "all" || w == "silu") check<Silu>("silu", stride);
  if (w == "all" || w == "softplus") check<Softplus>("softplus", stride, softplus);
  if (w == "all" || w == "gelu") check<Gelu>("gelu", stride);
  if (w == "all" || w == "gelu_tanh") check<GeluTanh>("gelu_tanh", stride);
}
