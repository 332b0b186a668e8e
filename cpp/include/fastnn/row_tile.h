// Row helpers shared by the softmax and cross-entropy kernels (per ISA): the NaN-aware maximum of
// a row, and the "row tile" that transposes up to kLaneRows short rows so each pass over their
// columns is one full-width vector loop across rows.
#pragma once
#include <cstdint>
#include <limits>

#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {

inline constexpr int kLaneRows = 16;      // rows side by side, one per SIMD lane
inline constexpr int64_t kTileCols = 32;  // longest row a tile holds

// max over x[0, len) in double; NaN when the row holds a NaN (-inf for an empty row).
template <class T>
FASTNN_INLINE double row_max(const T* x, int64_t len) {
  double m = -std::numeric_limits<double>::infinity();
  int has_nan = 0;
#pragma omp simd reduction(max : m) reduction(| : has_nan)
  for (int64_t j = 0; j < len; ++j) {
    const double v = static_cast<double>(x[j]);
    m = v > m ? v : m;
    has_nan |= isnan_(v) ? 1 : 0;
  }
  return has_nan ? std::numeric_limits<double>::quiet_NaN() : m;
}

// xt[j][i] = x[i * len + j] for the nb <= kLaneRows rows (zeros in the padding rows), and m[i]
// = row_max of row i, lane by lane.
template <class T>
FASTNN_INLINE void load_tile(const T* x, int64_t len, int64_t nb, double (*xt)[kLaneRows],
                             double* m) {
  for (int64_t j = 0; j < len; ++j)
    for (int i = 0; i < kLaneRows; ++i)
      xt[j][i] = i < nb ? static_cast<double>(x[i * len + j]) : 0.0;
  alignas(64) int nan_row[kLaneRows];
  for (int i = 0; i < kLaneRows; ++i) {
    m[i] = -std::numeric_limits<double>::infinity();
    nan_row[i] = 0;
  }
  for (int64_t j = 0; j < len; ++j) {
#pragma omp simd
    for (int i = 0; i < kLaneRows; ++i) {
      const double v = xt[j][i];
      m[i] = v > m[i] ? v : m[i];
      nan_row[i] |= isnan_(v) ? 1 : 0;
    }
  }
  for (int i = 0; i < kLaneRows; ++i)
    if (nan_row[i]) m[i] = std::numeric_limits<double>::quiet_NaN();
}

}  // namespace fastnn::FASTNN_ISA
