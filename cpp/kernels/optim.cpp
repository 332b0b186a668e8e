// Fused multi-tensor optimizer steps (SGD, Adagrad, RMSprop, Adam/AdamW) with torch.optim's exact
// formulas, and the two passes of gradient-norm clipping. Every update is one read-modify-write
// pass over param, grad and state. Arithmetic is in T (float32 parameters are updated in float32
// like torch), with the scalars that depend on the step formed in double on the host.
//
// A list of tensors is processed as one concatenated range [0, sum n_i): parallel_for splits that
// range once across the pool (one OpenMP region per call, not one per tensor), and each thread
// walks the tensor segments inside its block. Every element's result depends only on its own
// inputs, so results are bitwise independent of the thread count.
#include <limits>
#include <type_traits>

#include "fastnn/parallel.h"
#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {
namespace {

constexpr int64_t kGrainElems = 32768;  // elements per thread before the pool is woken
constexpr int64_t kNormBlock = 16384;   // fixed reduction block: thread-count independent sums

struct I64Buf {
  int64_t* p;
  explicit I64Buf(int64_t n) : p(new int64_t[n > 0 ? n : 1]) {}
  ~I64Buf() { delete[] p; }
  I64Buf(const I64Buf&) = delete;
  I64Buf& operator=(const I64Buf&) = delete;
};

struct F64Buf {
  double* p;
  explicit F64Buf(int64_t n) : p(new double[n > 0 ? n : 1]) {}
  ~F64Buf() { delete[] p; }
  F64Buf(const F64Buf&) = delete;
  F64Buf& operator=(const F64Buf&) = delete;
};

// Calls seg(k, b, e) for every tensor k and element range [b, e) of it, the concatenated range
// split across threads in one parallel region.
template <class N, class Seg>
void for_segments(N size_of, int64_t count, Seg&& seg) {
  if (count <= 0) return;
  I64Buf off(count + 1);
  off.p[0] = 0;
  for (int64_t k = 0; k < count; ++k) off.p[k + 1] = off.p[k] + size_of(k);
  const int64_t total = off.p[count];
  if (total == 0) return;
  const int64_t* o = off.p;
  parallel_for(total, kGrainElems, [&](int64_t b, int64_t e) {
    // Last tensor whose start is <= b.
    int64_t lo = 0, hi = count;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (o[mid] <= b)
        lo = mid;
      else
        hi = mid;
    }
    for (int64_t k = lo; k < count && o[k] < e; ++k) {
      const int64_t s = imax(b, o[k]) - o[k];
      const int64_t t = imin(e, o[k + 1]) - o[k];
      if (s < t) seg(k, s, t);
    }
  });
}

template <class T>
inline T sqrt_t(T x) {
  if constexpr (sizeof(T) == 4)
    return __builtin_sqrtf(x);
  else
    return __builtin_sqrt(x);
}

// torch.maximum: NaN in either operand propagates.
template <class T>
inline T max_nan(T a, T b) {
  return (a > b || a != a) ? a : b;
}

// Calls f(std::bool_constant<b0>{}, std::bool_constant<b1>{}, ...) for runtime flags, so each
// option combination runs its own straight-line, vectorized instantiation of a segment kernel.
template <class F>
inline void with_flags(F&& f) {
  f();
}
template <class F, class... Rest>
inline void with_flags(F&& f, bool first, Rest... rest) {
  if (first)
    with_flags([&](auto... c) { f(std::true_type{}, c...); }, rest...);
  else
    with_flags([&](auto... c) { f(std::false_type{}, c...); }, rest...);
}

// ---------------------------------------------------------------------------------------------
// SGD: g += wd p; b = g (first) or mu b + (1 - tau) g; g = g + mu b (nesterov) or b; p -= lr g
template <class T, bool kWd, bool kMom, bool kFirst, bool kNesterov>
void sgd_seg(const OptimTensor<T>& t, int64_t b, int64_t e, const OptimHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1);
  const T wd = static_cast<T>(h.weight_decay), mu = static_cast<T>(h.momentum);
  const T damp = static_cast<T>(1.0 - h.dampening), nlr = static_cast<T>(-h.lr);
  T* __restrict p = t.param + b;
  const T* __restrict gr = t.grad + b;
  T* __restrict buf = kMom ? t.s0 + b : nullptr;
  const int64_t n = e - b;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i];
    T g = gr[i] * sign;
    if constexpr (kWd) g = g + wd * pi;
    if constexpr (kMom) {
      T bi;
      if constexpr (kFirst)
        bi = g;
      else
        bi = buf[i] * mu + damp * g;
      buf[i] = bi;
      if constexpr (kNesterov)
        g = g + mu * bi;
      else
        g = bi;
    }
    p[i] = pi + nlr * g;
  }
}

template <class T>
void sgd(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) {
  const bool wd = h.weight_decay != 0.0, mom = h.momentum != 0.0, nest = h.nesterov;
  for_segments([ts](int64_t k) { return ts[k].n; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 const OptimTensor<T>& t = ts[k];
                 with_flags([&](auto kWd, auto kMom, auto kFirst,
                                auto kNest) { sgd_seg<T, kWd, kMom, kFirst, kNest>(t, b, e, h); },
                            wd, mom, mom && t.c0 != 0.0, mom && nest);
               });
}

// ---------------------------------------------------------------------------------------------
// Adagrad: g += wd p; s += g^2; p -= clr g / (sqrt(s) + eps)
template <class T, bool kWd>
void adagrad_seg(const OptimTensor<T>& t, int64_t b, int64_t e, const OptimHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1);
  const T wd = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps);
  const T nclr = static_cast<T>(t.c0);
  T* __restrict p = t.param + b;
  const T* __restrict gr = t.grad + b;
  T* __restrict sum = t.s0 + b;
  const int64_t n = e - b;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i];
    T g = gr[i] * sign;
    if constexpr (kWd) g = g + wd * pi;
    const T s = sum[i] + g * g;
    sum[i] = s;
    p[i] = pi + (nclr * g) / (sqrt_t(s) + eps);
  }
}

template <class T>
void adagrad(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) {
  const bool wd = h.weight_decay != 0.0;
  for_segments([ts](int64_t k) { return ts[k].n; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 with_flags([&](auto kWd) { adagrad_seg<T, kWd>(ts[k], b, e, h); }, wd);
               });
}

// ---------------------------------------------------------------------------------------------
// RMSprop: g += wd p; v = a v + (1-a) g^2; [ga = lerp(ga, g, 1-a); v~ = v - ga^2];
//          avg = sqrt(v~) + eps; momentum: b = mu b + g / avg, p -= lr b; else p -= lr g / avg
template <class T, bool kWd, bool kCentered, bool kMom, bool kSmall>
void rmsprop_seg(const OptimTensor<T>& t, int64_t b, int64_t e, const OptimHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1);
  const T wd = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps);
  const T alpha = static_cast<T>(h.alpha), c = static_cast<T>(1.0 - h.alpha);
  const T w1m = T(1) - c;
  const T mu = static_cast<T>(h.momentum), nlr = static_cast<T>(-h.lr);
  T* __restrict p = t.param + b;
  const T* __restrict gr = t.grad + b;
  T* __restrict sq = t.s0 + b;
  T* __restrict ga = kCentered ? t.s1 + b : nullptr;
  T* __restrict buf = kMom ? t.s2 + b : nullptr;
  const int64_t n = e - b;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i];
    T g = gr[i] * sign;
    if constexpr (kWd) g = g + wd * pi;
    const T v = sq[i] * alpha + (c * g) * g;
    sq[i] = v;
    T vt = v;
    if constexpr (kCentered) {
      const T a0 = ga[i];
      T a;
      if constexpr (kSmall)
        a = a0 + c * (g - a0);
      else
        a = g - (g - a0) * w1m;
      ga[i] = a;
      vt = v - a * a;
    }
    const T avg = sqrt_t(vt) + eps;
    if constexpr (kMom) {
      const T bi = buf[i] * mu + g / avg;
      buf[i] = bi;
      p[i] = pi + nlr * bi;
    } else {
      p[i] = pi + (nlr * g) / avg;
    }
  }
}

template <class T>
void rmsprop(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) {
  const T c = static_cast<T>(1.0 - h.alpha);
  const bool small = (c < T(0) ? -c : c) < T(0.5);
  for_segments([ts](int64_t k) { return ts[k].n; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 with_flags(
                     [&](auto kWd, auto kCentered, auto kMom, auto kSmall) {
                       rmsprop_seg<T, kWd, kCentered, kMom, kSmall>(ts[k], b, e, h);
                     },
                     h.weight_decay != 0.0, h.centered, h.momentum > 0.0, small);
               });
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW:
//   AdamW: p *= 1 - lr wd;  Adam: g += wd p
//   m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; [vmax = max(vmax, v)]
//   p += (-lr / bc1) m / (sqrt(v or vmax) / sqrt(bc2) + eps)
// The options that change the loop body are template parameters: every variant is a straight-line
// loop the compiler vectorizes (loop-invariant selects defeated GCC's vectorizer here).
// maximize and decoupled decay are multiplications by exact constants (-1 or 1; 1 - lr wd or 1).
template <class T, bool kAmsgrad, bool kL2, bool kSmall>
void adam_seg(const OptimTensor<T>& t, int64_t b, int64_t e, const OptimHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1);
  const bool has_wd = h.weight_decay != 0.0;
  const T wd = static_cast<T>(h.weight_decay);
  const T shrink = (has_wd && h.decoupled) ? static_cast<T>(1.0 - h.lr * h.weight_decay) : T(1);
  const T w = static_cast<T>(1.0 - h.beta1), w1m = T(1) - w;
  const T b2 = static_cast<T>(h.beta2), c2 = static_cast<T>(1.0 - h.beta2);
  const T eps = static_cast<T>(h.eps);
  const T nstep = static_cast<T>(t.c0), bc2s = static_cast<T>(t.c1);
  T* __restrict p = t.param + b;
  const T* __restrict gr = t.grad + b;
  T* __restrict m = t.s0 + b;
  T* __restrict v = t.s1 + b;
  T* __restrict vmax = kAmsgrad ? t.s2 + b : nullptr;
  const int64_t n = e - b;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i] * shrink;
    T g = gr[i] * sign;
    if constexpr (kL2) g = g + wd * pi;
    const T m0 = m[i];
    T mi;
    if constexpr (kSmall)
      mi = m0 + w * (g - m0);
    else
      mi = g - (g - m0) * w1m;
    const T vi = v[i] * b2 + (c2 * g) * g;
    m[i] = mi;
    v[i] = vi;
    T vx = vi;
    if constexpr (kAmsgrad) {
      const T old = vmax[i];
      vx = (old > vi || old != old) ? old : vi;
      vmax[i] = vx;
    }
    const T denom = sqrt_t(vx) / bc2s + eps;
    p[i] = pi + (nstep * mi) / denom;
  }
}

template <class T>
void adam(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) {
  const bool l2 = h.weight_decay != 0.0 && !h.decoupled;
  const T w = static_cast<T>(1.0 - h.beta1);
  const bool small = (w < T(0) ? -w : w) < T(0.5);  // torch's lerp picks its formula by |w|
  for_segments([ts](int64_t k) { return ts[k].n; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 with_flags([&](auto kAms, auto kL2,
                                auto kSmall) { adam_seg<T, kAms, kL2, kSmall>(ts[k], b, e, h); },
                            h.amsgrad, l2, small);
               });
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping.

// kind: 0 = sum |x|, 1 = sum x^2, 2 = max |x| (NaN propagates).
template <class T>
double block_reduce(const T* x, int64_t n, int kind) {
  if (kind == 2) {
    double m = 0.0;
    bool nan = false;
#pragma omp simd reduction(max : m) reduction(| : nan)
    for (int64_t i = 0; i < n; ++i) {
      const double a = fabs_(static_cast<double>(x[i]));
      m = a > m ? a : m;
      nan = nan | (a != a);
    }
    return nan ? std::numeric_limits<double>::quiet_NaN() : m;
  }
  double s = 0.0;
  if (kind == 0) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += fabs_(static_cast<double>(x[i]));
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) {
      const double a = static_cast<double>(x[i]);
      s += a * a;
    }
  }
  return s;
}

template <class T>
double norm_reduce(const T* const* xs, const int64_t* ns, int64_t count, double p) {
  const int kind = p == 1.0 ? 0 : (p == 2.0 ? 1 : 2);
  if (count <= 0) return 0.0;
  // Fixed blocks of kNormBlock elements per tensor, reduced in block order.
  I64Buf first(count + 1);
  first.p[0] = 0;
  for (int64_t k = 0; k < count; ++k)
    first.p[k + 1] = first.p[k] + (ns[k] + kNormBlock - 1) / kNormBlock;
  const int64_t nblocks = first.p[count];
  if (nblocks == 0) return 0.0;
  F64Buf part(nblocks);
  const int64_t* f = first.p;
  double* out = part.p;
  // Blocks are the work unit: at least two blocks per thread before the pool is used.
  parallel_for(nblocks, 2, [&](int64_t b, int64_t e) {
    int64_t lo = 0, hi = count;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (f[mid] <= b)
        lo = mid;
      else
        hi = mid;
    }
    for (int64_t k = lo; k < count && f[k] < e; ++k) {
      for (int64_t j = imax(b, f[k]); j < imin(e, f[k + 1]); ++j) {
        const int64_t s = (j - f[k]) * kNormBlock;
        out[j] = block_reduce(xs[k] + s, imin(ns[k] - s, kNormBlock), kind);
      }
    }
  });
  double r = 0.0;
  if (kind == 2) {
    for (int64_t j = 0; j < nblocks; ++j) r = max_nan(out[j], r);
  } else {
    for (int64_t j = 0; j < nblocks; ++j) r += out[j];
  }
  return r;
}

template <class T>
void scale(T* const* xs, const int64_t* ns, int64_t count, double s) {
  const T c = static_cast<T>(s);
  for_segments([ns](int64_t k) { return ns[k]; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 T* x = xs[k];
#pragma omp simd
                 for (int64_t i = b; i < e; ++i) x[i] = x[i] * c;
               });
}

template <class T>
void clamp(T* const* xs, const int64_t* ns, int64_t count, double lo_d, double hi_d) {
  const T lo = static_cast<T>(lo_d), hi = static_cast<T>(hi_d);
  // As torch.clamp (and np.clip): a NaN bound makes every element NaN.
  const bool nan_bound = isnan_(lo_d) || isnan_(hi_d);
  const T nan = static_cast<T>(lo_d + hi_d);
  for_segments([ns](int64_t k) { return ns[k]; }, count,
               [&](int64_t k, int64_t b, int64_t e) {
                 T* x = xs[k];
#pragma omp simd
                 for (int64_t i = b; i < e; ++i) {
                   const T v = x[i];
                   const T a = v < lo ? lo : v;
                   const T c = a > hi ? hi : a;  // NaN compares false both times: kept
                   x[i] = nan_bound ? nan : c;
                 }
               });
}

}  // namespace

void fill_optim(KernelTable& t) {
  t.f32.optim = {&sgd<float>,         &adagrad<float>, &rmsprop<float>, &adam<float>,
                 &norm_reduce<float>, &scale<float>,   &clamp<float>};
  t.f64.optim = {&sgd<double>,         &adagrad<double>, &rmsprop<double>, &adam<double>,
                 &norm_reduce<double>, &scale<double>,   &clamp<double>};
}

}  // namespace fastnn::FASTNN_ISA
