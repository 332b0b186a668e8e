// Dense-layer kernels around the BLAS products (the products themselves are in cpp/blas.cpp, the
// driver in cpp/linear.cpp): the fused forward epilogue y = f(z + bias), the fused backward
// prologue g = grad_out * f'(.) with the bias gradient reduced in the same pass, and a
// register-blocked GEMM for products too small for BLAS to pay off. Every activation of
// activation_list.h is fused through its functor.
#include "fastnn/activation_functors.h"
#include "fastnn/parallel.h"

namespace fastnn::FASTNN_ISA {
namespace {

// Elements x cost per thread below which the epilogue stays on one thread (as activations.cpp).
constexpr int64_t kGrain = 65536;

template <class T>
struct Buf {  // scratch owned by this ISA's code (no std:: containers in kernel files)
  T* p;
  explicit Buf(int64_t n) : p(new T[n > 0 ? n : 1]) {}
  ~Buf() { delete[] p; }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

// Splits [0, rows) evenly over the pool when each thread gets >= min_rows rows.
template <class Body>
void parallel_rows(int64_t rows, int64_t min_rows, Body&& body) {
  const int nt = num_threads();
  const int64_t chunks = rows / (min_rows > 0 ? min_rows : 1);
  if (nt <= 1 || chunks < 2) {
    if (rows > 0) body(int64_t{0}, rows, 0);
    return;
  }
  const int used = static_cast<int>(imin(nt, chunks));
#pragma omp parallel num_threads(used)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t b = rows * t / T, e = rows * (t + 1) / T;
    if (b < e) body(b, e, static_cast<int>(t));
  }
}

template <class A>
int64_t min_rows(int64_t n) {
  return imax(1, kGrain / (imax(n, 1) * A::cost));
}

// ---- forward epilogue --------------------------------------------------------------------------

template <class A, class T>
void epilogue(const T* z, const T* bias, T* preact, T* y, int64_t rows, int64_t n,
              const ActParams& p) {
  const ActParams q = p;
  parallel_rows(rows, min_rows<A>(n), [=](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const T* zr = z + r * n;
      T* yr = y + r * n;
      if (preact != nullptr) {
        T* pr = preact + r * n;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
          const T v = bias != nullptr ? static_cast<T>(zr[j] + bias[j]) : zr[j];
          pr[j] = v;
          yr[j] = static_cast<T>(A::f(static_cast<double>(v), q));
        }
      } else if (bias != nullptr) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
          const T v = static_cast<T>(zr[j] + bias[j]);
          yr[j] = static_cast<T>(A::f(static_cast<double>(v), q));
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(A::f(static_cast<double>(zr[j]), q));
      }
    }
  });
}

// ---- backward prologue -------------------------------------------------------------------------

// g * f'(.) from the output y where that is exact: functors with backward_y (sigmoid, tanh), and
// those whose derivative depends only on the sign of x, which y keeps (identity, step, relu).
template <class A>
concept HasBackwardY = requires(double g, double y, const ActParams& p) { A::backward_y(g, y, p); };

template <class A>
inline double backward_from_y(double g, double y, const ActParams& p) {
  if constexpr (HasBackwardY<A>)
    return A::backward_y(g, y, p);
  else
    return A::backward(g, y, p);  // identity, step, relu: sign(y) == sign(x), NaN stays NaN
}

template <class A, bool FromY, class T>
inline void prep_rows(const T* go, const T* v, T* g, double* acc, int64_t b, int64_t e, int64_t n,
                      const ActParams& q) {
  for (int64_t r = b; r < e; ++r) {
    const T* gr = go + r * n;
    const T* vr = v + r * n;
    T* outr = g + r * n;
    if (acc != nullptr) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const double d = FromY ? backward_from_y<A>(gr[j], vr[j], q) : A::backward(gr[j], vr[j], q);
        const T t = static_cast<T>(d);
        outr[j] = t;
        acc[j] += static_cast<double>(t);
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const double d = FromY ? backward_from_y<A>(gr[j], vr[j], q) : A::backward(gr[j], vr[j], q);
        outr[j] = static_cast<T>(d);
      }
    }
  }
}

template <class A, class T>
void backward_prep(const T* grad_out, const T* v, bool from_y, T* g, T* grad_bias, bool accumulate,
                   int64_t rows, int64_t n, const ActParams& p) {
  const ActParams q = p;
  const int nt = num_threads();
  // One double accumulator row per thread, summed in thread order afterwards.
  Buf<double> acc(grad_bias != nullptr ? static_cast<int64_t>(nt) * n : 0);
  int used = 1;
  if (grad_bias != nullptr)
    for (int64_t i = 0; i < static_cast<int64_t>(nt) * n; ++i) acc.p[i] = 0.0;
  const int64_t mr = g != nullptr ? min_rows<A>(n) : imax(1, 4 * kGrain / imax(n, 1));
  {
    const int64_t chunks = rows / mr;
    used = (nt <= 1 || chunks < 2) ? 1 : static_cast<int>(imin(nt, chunks));
  }
  double* accp = grad_bias != nullptr ? acc.p : nullptr;
  parallel_rows(rows, mr, [=](int64_t b, int64_t e, int t) {
    double* a = accp != nullptr ? accp + static_cast<int64_t>(t) * n : nullptr;
    if (g == nullptr) {  // identity: the bias gradient is the column sum of grad_out
      if (a == nullptr) return;
      for (int64_t r = b; r < e; ++r) {
        const T* gr = grad_out + r * n;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) a[j] += static_cast<double>(gr[j]);
      }
    } else if (from_y) {
      prep_rows<A, true>(grad_out, v, g, a, b, e, n, q);
    } else {
      prep_rows<A, false>(grad_out, v, g, a, b, e, n, q);
    }
  });
  if (grad_bias == nullptr) return;
  for (int t = 1; t < used; ++t)
    for (int64_t j = 0; j < n; ++j) acc.p[j] += acc.p[static_cast<int64_t>(t) * n + j];
  for (int64_t j = 0; j < n; ++j)
    grad_bias[j] = accumulate ? static_cast<T>(static_cast<double>(grad_bias[j]) + acc.p[j])
                              : static_cast<T>(acc.p[j]);
}

// ---- small GEMM --------------------------------------------------------------------------------

// Two vectors of this ISA per row of the register tile.
template <class T>
constexpr int kNR =
#if defined(__AVX512F__)
    2 * 64 / static_cast<int>(sizeof(T));
#elif defined(__AVX2__)
    2 * 32 / static_cast<int>(sizeof(T));
#else
    2 * 16 / static_cast<int>(sizeof(T));
#endif
constexpr int kMR = 6;

// C[R rows, cols] (+)= A[R rows, k] @ panel[k, NR]; the tile lives in registers.
template <class T, int R, int NR>
inline void tile(int64_t k, const T* a, int64_t sai, int64_t sal, const T* panel, T* c, int64_t ldc,
                 int64_t cols, bool accumulate) {
  T s[R][NR];
  for (int r = 0; r < R; ++r)
#pragma omp simd
    for (int j = 0; j < NR; ++j) s[r][j] = T(0);
  for (int64_t l = 0; l < k; ++l) {
    const T* bl = panel + l * NR;
    for (int r = 0; r < R; ++r) {
      const T av = a[r * sai + l * sal];
#pragma omp simd
      for (int j = 0; j < NR; ++j) s[r][j] += av * bl[j];
    }
  }
  for (int r = 0; r < R; ++r) {
    T* cr = c + r * ldc;
    if (cols == NR) {
      if (accumulate) {
#pragma omp simd
        for (int j = 0; j < NR; ++j) cr[j] += s[r][j];
      } else {
#pragma omp simd
        for (int j = 0; j < NR; ++j) cr[j] = s[r][j];
      }
    } else {
      for (int64_t j = 0; j < cols; ++j) cr[j] = accumulate ? cr[j] + s[r][j] : s[r][j];
    }
  }
}

template <class T, int MR, int NR>
void gemm_panels(int64_t m, int64_t n, int64_t k, const T* a, int64_t sai, int64_t sal, const T* b,
                 int64_t sbl, int64_t sbj, T* c, int64_t ldc, bool accumulate) {
  const int64_t panels = (n + NR - 1) / NR;
  Buf<T> pk(panels * k * NR);  // B in column panels of NR, zero-padded
  for (int64_t pnl = 0; pnl < panels; ++pnl) {
    const int64_t j0 = pnl * NR, cols = imin(NR, n - j0);
    T* dst = pk.p + pnl * k * NR;
    for (int64_t l = 0; l < k; ++l) {
      const T* src = b + l * sbl + j0 * sbj;
      T* d = dst + l * NR;
      if (sbj == 1 && cols == NR) {
#pragma omp simd
        for (int j = 0; j < NR; ++j) d[j] = src[j];
      } else {
        for (int64_t j = 0; j < NR; ++j) d[j] = j < cols ? src[j * sbj] : T(0);
      }
    }
  }
  for (int64_t pnl = 0; pnl < panels; ++pnl) {
    const int64_t j0 = pnl * NR, cols = imin(NR, n - j0);
    const T* panel = pk.p + pnl * k * NR;
    int64_t i = 0;
    for (; i + MR <= m; i += MR)
      tile<T, MR, NR>(k, a + i * sai, sai, sal, panel, c + i * ldc + j0, ldc, cols, accumulate);
    for (; i + 2 <= m; i += 2)
      tile<T, 2, NR>(k, a + i * sai, sai, sal, panel, c + i * ldc + j0, ldc, cols, accumulate);
    if (i < m)
      tile<T, 1, NR>(k, a + i * sai, sai, sal, panel, c + i * ldc + j0, ldc, cols, accumulate);
  }
}

template <class T>
void gemm_small(int64_t m, int64_t n, int64_t k, const T* a, int64_t sai, int64_t sal, const T* b,
                int64_t sbl, int64_t sbj, T* c, int64_t ldc, bool accumulate) {
  constexpr int NR = kNR<T>;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = T(0);
    return;
  }
  // Narrow outputs (e.g. 10 classes): one vector per row, more rows per tile.
  if (n <= NR / 2)
    gemm_panels<T, 8, NR / 2>(m, n, k, a, sai, sal, b, sbl, sbj, c, ldc, accumulate);
  else
    gemm_panels<T, kMR, NR>(m, n, k, a, sai, sal, b, sbl, sbj, c, ldc, accumulate);
}

template <class T>
void fill(LinearKernels<T>& k) {
#define FASTNN_LINEAR_FILL(name, Functor, nparams, p0, d0, p1, d1, has_y) \
  k.epilogue[static_cast<int>(Act::name)] = &epilogue<Functor, T>;        \
  k.backward_prep[static_cast<int>(Act::name)] = &backward_prep<Functor, T>;
  FASTNN_ACTIVATIONS(FASTNN_LINEAR_FILL)
#undef FASTNN_LINEAR_FILL
  k.gemm_small = &gemm_small<T>;
}

}  // namespace

void fill_linear(KernelTable& t) {
  fill(t.f32.linear);
  fill(t.f64.linear);
}

}  // namespace fastnn::FASTNN_ISA
