// erfc(x) for the exact GELU. Temporary scalar form until the vectorized fit lands.
#pragma once
#include <cmath>

#include "fastnn/isa.h"
#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {
inline double erfc_core(double x) { return std::erfc(x); }
}  // namespace fastnn::FASTNN_ISA
