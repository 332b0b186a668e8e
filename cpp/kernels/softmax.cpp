// softmax / log_softmax along one axis, forward and backward. The array is viewed as
// (outer, len, inner); rows (inner == 1) are the common case and run along contiguous memory,
// other axes run across `inner` contiguous columns. Sums are accumulated in double.
#include <limits>

#include "fastnn/parallel.h"
#include "fastnn/row_tile.h"
#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {
namespace {

constexpr int64_t kGrainElems = 32768;

inline double max_nan(double m, double v) { return (v > m || isnan_(v)) ? v : m; }

// One row: a vectorized max (NaN-aware), then exp(x - m) once per element into the double
// scratch e (len), then the scaling pass.
template <class T, bool kLog>
void softmax_row(const T* x, T* y, int64_t len, double* e) {
  const double m = row_max(x, len);
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < len; ++i) {
    const double ei = exp_core(static_cast<double>(x[i]) - m);
    if constexpr (!kLog) e[i] = ei;
    s += ei;
  }
  if constexpr (kLog) {
    const double shift = m + log_pos(s);
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) y[i] = static_cast<T>(static_cast<double>(x[i]) - shift);
  } else {
    const double inv = 1.0 / s;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) y[i] = static_cast<T>(e[i] * inv);
  }
}

constexpr int64_t kNarrowLen = kTileCols;  // rows up to this long take the row-transposed tile

// Rows [0, nb) (nb <= kLaneRows) of length len <= kNarrowLen, transposed into a (len,
// kLaneRows) tile so each pass is a full-width vector loop across rows instead of a mostly empty
// one along a short row. Same arithmetic per row as softmax_row.
template <class T, bool kLog>
void softmax_tile(const T* x, T* y, int64_t len, int64_t nb) {
  alignas(64) double xt[kNarrowLen][kLaneRows];
  alignas(64) double m[kLaneRows], s[kLaneRows], f[kLaneRows];
  load_tile(x, len, nb, xt, m);
  for (int i = 0; i < kLaneRows; ++i) s[i] = 0.0;
  for (int64_t j = 0; j < len; ++j) {
#pragma omp simd
    for (int i = 0; i < kLaneRows; ++i) {
      const double ei = exp_core(xt[j][i] - m[i]);
      if constexpr (!kLog) xt[j][i] = ei;
      s[i] += ei;
    }
  }
#pragma omp simd
  for (int i = 0; i < kLaneRows; ++i) f[i] = kLog ? m[i] + log_pos(s[i]) : 1.0 / s[i];
  for (int i = 0; i < nb; ++i)
    for (int64_t j = 0; j < len; ++j)
      y[i * len + j] = static_cast<T>(kLog ? xt[j][i] - f[i] : xt[j][i] * f[i]);
}

template <class T, bool kLog>
void softmax_rows(const T* x, T* y, int64_t len, int64_t b, int64_t e) {
  if (len <= kNarrowLen) {
    for (int64_t o = b; o < e; o += kLaneRows)
      softmax_tile<T, kLog>(x + o * len, y + o * len, len, imin(kLaneRows, e - o));
    return;
  }
  Scratch ex(kLog ? 1 : len);
  for (int64_t o = b; o < e; ++o) softmax_row<T, kLog>(x + o * len, y + o * len, len, ex.p);
}

template <class T>
void softmax_cols(const T* x, T* y, int64_t len, int64_t inner, bool log, double* m, double* s) {
  for (int64_t j = 0; j < inner; ++j) {
    m[j] = -std::numeric_limits<double>::infinity();
    s[j] = 0.0;
  }
  for (int64_t i = 0; i < len; ++i) {
    const T* xi = x + i * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) m[j] = isnan_(m[j]) ? m[j] : max_nan(m[j], xi[j]);
  }
  for (int64_t i = 0; i < len; ++i) {
    const T* xi = x + i * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) s[j] += exp_core(static_cast<double>(xi[j]) - m[j]);
  }
  for (int64_t j = 0; j < inner; ++j) s[j] = log ? m[j] + log_pos(s[j]) : 1.0 / s[j];
  for (int64_t i = 0; i < len; ++i) {
    const T* xi = x + i * inner;
    T* yi = y + i * inner;
    if (log) {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) yi[j] = static_cast<T>(static_cast<double>(xi[j]) - s[j]);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j)
        yi[j] = static_cast<T>(exp_core(static_cast<double>(xi[j]) - m[j]) * s[j]);
    }
  }
}

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, bool log) {
  if (outer == 0 || len == 0 || inner == 0) return;  // empty: also keeps the grain division safe
  const int64_t grain = imax(1, kGrainElems / (len * inner));
  parallel_for(outer, grain, [=](int64_t b, int64_t e) {
    if (inner == 1) {
      if (log)
        softmax_rows<T, true>(x, y, len, b, e);
      else
        softmax_rows<T, false>(x, y, len, b, e);
    } else {
      Scratch ms(2 * inner);
      for (int64_t o = b; o < e; ++o)
        softmax_cols(x + o * len * inner, y + o * len * inner, len, inner, log, ms.p, ms.p + inner);
    }
  });
}

// softmax:     dx = y * (g - sum(g * y))
// log_softmax: dx = g - exp(y) * sum(g)
template <class T>
void softmax_backward_line(const T* g, const T* y, T* out, int64_t len, int64_t inner, bool log) {
  double s = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    const double gi = g[i * inner];
    s += log ? gi : gi * static_cast<double>(y[i * inner]);
  }
  for (int64_t i = 0; i < len; ++i) {
    const double gi = g[i * inner], yi = y[i * inner];
    out[i * inner] = static_cast<T>(log ? gi - exp_core(yi) * s : yi * (gi - s));
  }
}

template <class T>
void softmax_backward(const T* g, const T* y, T* out, int64_t outer, int64_t len, int64_t inner,
                      bool log) {
  if (outer == 0 || len == 0 || inner == 0) return;  // empty: also keeps the grain division safe
  const int64_t grain = imax(1, kGrainElems / (len * inner));
  parallel_for(outer, grain, [=](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t base = o * len * inner;
      if (inner == 1) {
        const T* go = g + base;
        const T* yo = y + base;
        T* oo = out + base;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < len; ++i)
          s += log ? static_cast<double>(go[i]) : static_cast<double>(go[i]) * yo[i];
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          const double gi = go[i], yi = yo[i];
          oo[i] = static_cast<T>(log ? gi - exp_core(yi) * s : yi * (gi - s));
        }
      } else {
        for (int64_t j = 0; j < inner; ++j)
          softmax_backward_line(g + base + j, y + base + j, out + base + j, len, inner, log);
      }
    }
  });
}

}  // namespace

void fill_softmax(KernelTable& t) {
  t.f32.softmax = {&softmax_forward<float>, &softmax_backward<float>};
  t.f64.softmax = {&softmax_forward<double>, &softmax_backward<double>};
}

}  // namespace fastnn::FASTNN_ISA
