// Branch-free double-precision exp / expm1 / log / log1p that GCC vectorizes inside
// `#pragma omp simd` loops. float32 kernels compute through these in double and round once, which
// keeps them within 1 ulp of the correctly rounded result; float64 results are within ~2 ulp.
// Range reduction x = k ln2 + r, |r| <= ln2/2; the exponent is built from integer bits with the
// 1.5*2^52 shifter trick so no double->int64 conversion (absent before AVX-512DQ) is needed.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

// Hot helpers called inside `omp simd` loops: GCC may otherwise keep them as calls, which
// stops vectorization.
#ifndef FASTNN_INLINE
#define FASTNN_INLINE inline __attribute__((always_inline))
#endif

namespace fastnn::FASTNN_ISA {

FASTNN_INLINE int64_t as_i64(double x) { return __builtin_bit_cast(int64_t, x); }
FASTNN_INLINE double as_f64(int64_t i) { return __builtin_bit_cast(double, i); }
FASTNN_INLINE double fabs_(double x) { return as_f64(as_i64(x) & INT64_C(0x7fffffffffffffff)); }
FASTNN_INLINE double copysign_(double mag, double sgn) {
  return as_f64((as_i64(mag) & INT64_C(0x7fffffffffffffff)) |
                (as_i64(sgn) & INT64_C(-0x7fffffffffffffff - 1)));
}
FASTNN_INLINE bool isnan_(double x) { return x != x; }

constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;  // 21 significant bits: k*kLn2Hi is exact
constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
constexpr double kLog2e = 0x1.71547652b82fep0;
constexpr double kShifter = 0x1.8p52;

// exp(r) - 1 for |r| <= ln2/2: Taylor series to r^13 (truncation < 5e-18).
FASTNN_INLINE double expm1_reduced(double r) {
  double q = 1.0 / 6227020800.0;  // 1/13!
  q = q * r + 1.0 / 479001600.0;  // 1/12!
  q = q * r + 1.0 / 39916800.0;   // 1/11!
  q = q * r + 1.0 / 3628800.0;    // 1/10!
  q = q * r + 1.0 / 362880.0;     // 1/9!
  q = q * r + 1.0 / 40320.0;      // 1/8!
  q = q * r + 1.0 / 5040.0;       // 1/7!
  q = q * r + 1.0 / 720.0;        // 1/6!
  q = q * r + 1.0 / 120.0;        // 1/5!
  q = q * r + 1.0 / 24.0;         // 1/4!
  q = q * r + 1.0 / 6.0;          // 1/3!
  q = q * r + 0.5;                // 1/2!
  return r + (r * r) * q;
}

// exp(x) for all doubles: 0 below -745.13, inf above 709.78, subnormals rounded once, NaN kept.
FASTNN_INLINE double exp_core(double x) {
  const double xc = x < -760.0 ? -760.0 : (x > 710.0 ? 710.0 : x);
  const double kd = xc * kLog2e + kShifter;
  const double k = kd - kShifter;
  double r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  const double p = 1.0 + expm1_reduced(r);
  // 2^k as two factors so both stay normal while the product reaches subnormals and overflow.
  const int64_t ki = as_i64(kd) - as_i64(kShifter);
  const int64_t k1 = ki >> 1;
  const int64_t k2 = ki - k1;
  const double s1 = as_f64((k1 + 1023) << 52);
  const double s2 = as_f64((k2 + 1023) << 52);
  const double y = (p * s1) * s2;
  return isnan_(x) ? x : y;
}

// expm1(x) for x <= 0 (the callers' domain); exact form near 0, -1 below -40. NaN kept.
FASTNN_INLINE double expm1_nonpos(double x) {
  const double xc = x < -40.0 ? -40.0 : (x > 0.0 ? 0.0 : x);
  const double kd = xc * kLog2e + kShifter;
  const double k = kd - kShifter;
  double r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  const double p = expm1_reduced(r);
  const int64_t ki = as_i64(kd) - as_i64(kShifter);
  const double s = as_f64((ki + 1023) << 52);
  const double y = s * p + (s - 1.0);      // 2^k (1 + p) - 1 without cancelling p
  return (isnan_(x) || x == 0.0) ? x : y;  // keeps -0
}

// log(u) for finite normal u > 0 (the callers pass sums >= 1 or 1 + e, e in [0, 1]).
FASTNN_INLINE double log_pos(double u) {
  const int64_t bits = as_i64(u);
  // Mantissa in [1, 2) and the unbiased exponent as a double, without int->double conversion.
  double m = as_f64((bits & INT64_C(0x000fffffffffffff)) | INT64_C(0x3ff0000000000000));
  double e =
      as_f64(((bits >> 52) & 0x7ff) | INT64_C(0x4330000000000000)) - (kShifter / 1.5 + 1023.0);
  const bool big = m > 0x1.6a09e667f3bcdp0;  // sqrt(2)
  m = big ? 0.5 * m : m;
  e = big ? e + 1.0 : e;
  // log(m) = 2 atanh(f), f = (m-1)/(m+1), |f| <= 0.1716: odd series to f^23 (error < 1e-18).
  const double f = (m - 1.0) / (m + 1.0);
  const double s = f * f;
  double q = 2.0 / 23.0;
  q = q * s + 2.0 / 21.0;
  q = q * s + 2.0 / 19.0;
  q = q * s + 2.0 / 17.0;
  q = q * s + 2.0 / 15.0;
  q = q * s + 2.0 / 13.0;
  q = q * s + 2.0 / 11.0;
  q = q * s + 2.0 / 9.0;
  q = q * s + 2.0 / 7.0;
  q = q * s + 2.0 / 5.0;
  q = q * s + 2.0 / 3.0;
  const double logm = 2.0 * f + f * s * q;
  const double y = e * kLn2Hi + (logm + e * kLn2Lo);
  return isnan_(u) ? u : y;
}

// log1p(e) for e in [0, 1]: log(1 + e) corrected for the rounding of 1 + e.
FASTNN_INLINE double log1p_unit(double e) {
  const double u = 1.0 + e;
  const double c = (u - 1.0) - e;
  return log_pos(u) - c / u;
}

// ---- double helpers for float32 outputs: the argument and the arithmetic stay in double, but
// the polynomials only need float accuracy (relative error ~1e-10, far below a float ulp).

// exp(r) - 1 on |r| <= ln2/2: Taylor to r^8 (truncation < 1.6e-10 relative).
FASTNN_INLINE double expm1_reduced_ff(double r) {
  double q = 1.0 / 40320.0;
  q = q * r + 1.0 / 5040.0;
  q = q * r + 1.0 / 720.0;
  q = q * r + 1.0 / 120.0;
  q = q * r + 1.0 / 24.0;
  q = q * r + 1.0 / 6.0;
  q = q * r + 0.5;
  return r + (r * r) * q;
}

// exp(x) for x <= 0 for float32 results: 0 below -708 (far under any float), NaN kept.
FASTNN_INLINE double exp_nonpos_ff(double x) {
  const double xc = x < -708.0 ? -708.0 : (x > 0.0 ? 0.0 : x);
  const double kd = xc * kLog2e + kShifter;
  const double k = kd - kShifter;
  double r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  const double p = 1.0 + expm1_reduced_ff(r);
  const int64_t ki = as_i64(kd) - as_i64(kShifter);
  const double y = p * as_f64((ki + 1023) << 52);
  return isnan_(x) ? x : (x < -708.0 ? 0.0 : y);
}

}  // namespace fastnn::FASTNN_ISA

// ---- float32 forms, used where the exhaustive 2^32 sweep (bench/sweep_float32.py) shows the
// result stays within the documented ulp bound: twice the lanes of the double path.
namespace fastnn::FASTNN_ISA {

FASTNN_INLINE int32_t as_i32(float x) { return __builtin_bit_cast(int32_t, x); }
FASTNN_INLINE float as_f32(int32_t i) { return __builtin_bit_cast(float, i); }
FASTNN_INLINE float fabsf_(float x) { return as_f32(as_i32(x) & 0x7fffffff); }
FASTNN_INLINE float copysignf_(float mag, float sgn) {
  return as_f32((as_i32(mag) & 0x7fffffff) | (as_i32(sgn) & static_cast<int32_t>(0x80000000u)));
}

// Bitwise select on a sign mask (all ones or zero): GCC cannot thread constants through it.
FASTNN_INLINE float select_bits(int32_t mask, float a, float b) {
  return as_f32((mask & as_i32(a)) | (~mask & as_i32(b)));
}

constexpr float kLn2HiF = 0x1.62e4p-1f;  // 16 bits: k * kLn2HiF exact for |k| < 256
constexpr float kLn2LoF = 0x1.7f7d1cp-20f;
constexpr float kShifterF = 0x1.8p23f;

// exp(r) - 1 on |r| <= ln2/2 as r + r^2 P(r), P a degree-4 minimax fit (our own Lawson fit,
// tools/fit_float_polys.py): absolute error of 1 + result < 3.1e-9 (0.05 float ulp of 1).
FASTNN_INLINE float expm1_reduced_f4(float r) {
  float q = 0x1.6a2434p-10f;
  q = q * r + 0x1.1239e2p-7f;
  q = q * r + 0x1.5558f2p-5f;
  q = q * r + 0x1.555492p-3f;
  q = q * r + 0x1.fffffcp-2f;
  return r + (r * r) * q;
}

// expm1(x) for x <= 0 in float; -1 below -18. NaN and -0 kept. The clamp x < c ? c : x is one
// maxps(c, x), which passes a NaN x on to the result (no select for NaN).
FASTNN_INLINE float expm1_nonpos_f(float x) {
  const float xc = x < -18.0f ? -18.0f : x;
  const float kd = xc * 0x1.715476p0f + kShifterF;
  const float k = kd - kShifterF;
  float r = xc - k * kLn2HiF;
  r = r - k * kLn2LoF;
  const float p = expm1_reduced_f4(r);
  const int32_t ki = as_i32(kd) - as_i32(kShifterF);
  const float s = as_f32((ki + 127) << 23);
  const float y = __builtin_fmaf(s, p, s - 1.0f);
  return x == 0.0f ? x : y;
}

// exp(x) for x <= 0 in float, subnormal results rounded once; 0 below -104. NaN kept (as above).
FASTNN_INLINE float exp_nonpos_f(float x) {
  const float xc = x < -104.0f ? -104.0f : x;
  const float kd = xc * 0x1.715476p0f + kShifterF;
  const float k = kd - kShifterF;
  float r = xc - k * kLn2HiF;
  r = r - k * kLn2LoF;
  const float p = 1.0f + expm1_reduced_f4(r);
  const int32_t ki = as_i32(kd) - as_i32(kShifterF);
  const int32_t k1 = ki >> 1;
  const int32_t k2 = ki - k1;
  return (p * as_f32((k1 + 127) << 23)) * as_f32((k2 + 127) << 23);
}

// exp(-t) for t in [0, 115] in float as (1 + m) s: m = expm1 of the reduced argument (|m| < 0.42)
// and s = 2^(k + 40), normal down to t = 115 (k >= -166). Products a exp(-t) are formed as
// fma(a, m, a) * s (one rounding; normal where exp(-t) is subnormal) and scaled by 2^-40 last,
// so a subnormal result rounds once more at most. One integer add and shift build s (no split
// into two factors). Callers clamp t (min_bits_f) and pass NaN on themselves.
constexpr float kExpUnscaleF = 0x1p-40f;
struct ExpScaledF {
  float m, s;
};
FASTNN_INLINE ExpScaledF exp_neg_scaled_f(float t) {
  const float kd = t * -0x1.715476p0f + kShifterF;
  const float k = kd - kShifterF;
  float r = __builtin_fmaf(-k, kLn2HiF, -t);  // exact, as in exp_split_f
  r = r - k * kLn2LoF;
  const int32_t bias = as_i32(kShifterF) - 127 - 40;
  return {expm1_reduced_f4(r), as_f32((as_i32(kd) - bias) << 23)};
}

// min(a, c) for a >= 0 or +NaN and c > 0, on the bit patterns: an integer min (pminsd) that GCC
// keeps as one instruction, where a float select lets it thread c through every later step.
// A NaN a gives c: callers propagate NaN themselves.
FASTNN_INLINE float min_bits_f(float a, float c) {
  const int32_t ai = as_i32(a), ci = as_i32(c);
  return as_f32(ai < ci ? ai : ci);
}

// exp(x + x_lo) for x <= 0 in float, split as ((1 + m) * s1) * s2: m = expm1 of the reduced
// argument (|m| < 0.42) and two normal powers of two, so products like a * exp(x) can be formed
// as (fma(a, m, a) * s1) * s2 with one rounding even where exp(x) is subnormal. x_lo is a small
// low-order part of the argument (|x_lo| < 2^-10), folded into the reduced argument.
// Pass x_lo = -0.0f for none (x + -0 is x: the add folds away).
// x must have its sign bit set (-0, negative, -inf; -NaN counts as -inf: callers propagate NaN
// themselves). It is clamped at `floor`, -172 by default (k >= -249: both factors stay normal;
// callers select their result below that), with an integer min on the bit pattern: GCC keeps
// that a min, where a float select lets it thread the constant through the rest (masked copies
// of every later step). floor = -176 (exp_split_zero_f) gives k = -254, where both factors are
// +0 (exponent field 0): products (fma(a, m, a) * s1) * s2 are then 0 beyond |x| = 175.4 without
// a select (|a| <= 2^100: a e rounds to 0 from |x| = 174.7 on).
struct ExpSplitF {
  float m, s1, s2;
};
FASTNN_INLINE ExpSplitF exp_split_f(float x, float x_lo, float floor = -172.0f) {
  const int32_t xi = as_i32(x);
  const int32_t lo = as_i32(floor);  // for sign-set floats a larger int is a larger magnitude
  const float xc = as_f32(xi < lo ? xi : lo);
  const float kd = xc * 0x1.715476p0f + kShifterF;
  const float k = kd - kShifterF;
  float r = xc - k * kLn2HiF;  // exact: k * kLn2HiF has <= 24 bits for |k| < 256
  r = r - k * kLn2LoF;
  r = r + x_lo;
  const int32_t ki = as_i32(kd) - as_i32(kShifterF);
  const int32_t k1 = ki >> 1;
  return {expm1_reduced_f4(r), as_f32((k1 + 127) << 23), as_f32((ki - k1 + 127) << 23)};
}

FASTNN_INLINE ExpSplitF exp_split_zero_f(float x) { return exp_split_f(x, -0.0f, -176.0f); }

}  // namespace fastnn::FASTNN_ISA
