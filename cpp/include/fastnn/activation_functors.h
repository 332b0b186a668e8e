// One functor per activation: f(x), and backward(g, x) = g * f'(x) (the derivative is
// backward(1, x)). Optional f32(float) / backward32(float, float) are the float32 paths, computed
// in float (with error-compensated steps) or in double with float-accuracy polynomials, used where
// the sweeps (bench/sweep_float32.py) show they keep the float32 bound (2 ulp); f32_ok(params)
// may restrict them to some parameters. Otherwise the arithmetic is in double and float32 kernels
// round once at the store. NaN, inf and kinks follow PyTorch's CPU kernels (relu'(0) = 0,
// relu'(NaN) passes the gradient as torch's threshold_backward does). `cost` scales the per-thread
// grain in the driver.
#pragma once
#include <cmath>

#include "fastnn/erfc_core.h"
#include "fastnn/kernel_table.h"
#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {

// sigmoid(x) and 1 - sigmoid(x) from e = exp(-|x|), both without cancellation.
struct SigmoidParts {
  double s, one_minus_s, e, r;
};
FASTNN_INLINE SigmoidParts sigmoid_parts(double x) {
  const double e = exp_core(-fabs_(x));
  const double r = 1.0 / (1.0 + e);
  const bool pos = x >= 0.0;
  return {pos ? r : e * r, pos ? e * r : r, e, r};
}

// ---- float sigmoid pieces for the float32 paths: e = exp(-|x|) = ((1 + m) s1) s2, and
// 1 + e = d + dl exactly (d rounded); neg is all ones where x has its sign bit set. Products with
// e are formed as fma(a, m, a) * s1 (mul_e_s1) and scaled by s2 last, so they stay accurate
// where e is subnormal. Valid for |x| <= 172; callers select their result beyond and for NaN.
struct SigmoidF {
  float m, s1, s2, e, d, dl;
  int32_t neg;
};
FASTNN_INLINE SigmoidF sigmoid_from(const ExpSplitF& q, int32_t neg) {
  const float e = ((1.0f + q.m) * q.s1) * q.s2;
  const float d = 1.0f + e;
  return {q.m, q.s1, q.s2, e, d, (1.0f - d) + e, neg};
}
FASTNN_INLINE SigmoidF sigmoid_f(float x) {
  return sigmoid_from(exp_split_f(-fabsf_(x), -0.0f), as_i32(x) >> 31);
}

// The same from exp_split_zero_f: all products with e are 0 beyond |x| = 175.4 (sigmoid', tanh').
FASTNN_INLINE SigmoidF sigmoid_zero_f(float x) {
  return sigmoid_from(exp_split_zero_f(-fabsf_(x)), as_i32(x) >> 31);
}

// The same for x + xl, a float pair (|xl| <= ulp(x), gelu_tanh's 2z): xl enters the exp's
// reduced argument with the sign of -|x|.
FASTNN_INLINE SigmoidF sigmoid_f(float x, float xl) {
  const int32_t neg = as_i32(x) >> 31;
  const float lo = as_f32(as_i32(xl) ^ (~neg & static_cast<int32_t>(0x80000000u)));
  return sigmoid_from(exp_split_f(-fabsf_(x), lo), neg);
}

// a e / s2 = a (1 + m) s1; with neg: a e / s2 for x < 0, a for x >= 0. a (1 + m) overflows
// for |a| > FLT_MAX / 1.42 = 2.4e38: the float backwards hold for |g| up to that.
FASTNN_INLINE float mul_e_s1(float a, float m, float s1) { return __builtin_fmaf(a, m, a) * s1; }
FASTNN_INLINE float mul_e_s1(float a, const SigmoidF& q) {
  return mul_e_s1(a, select_bits(q.neg, q.m, 0.0f), select_bits(q.neg, q.s1, 1.0f));
}

// ~1/d for d in [1, 2] to 9%: enough for the rounding corrections below.
FASTNN_INLINE float approx_recip_12(float d) { return 1.5f - 0.5f * d; }

// a * sigmoid(x) = a / (1 + e) for x >= 0, a e / (1 + e) for x < 0: one division for both signs
// (the selects are bitwise on the factors, so GCC does not split the quotient per sign), the
// quotient corrected for the rounding of 1 + e. fma(a, m, a) with m < 0 and the correction
// y - y t turn -0 into +0, and an infinite a gives NaN (inf - inf): callers fix both.
FASTNN_INLINE float mul_sigmoid_f(float a, const SigmoidF& q) {
  float y = mul_e_s1(a, q) / q.d;
  y = __builtin_fmaf(-y, q.dl * approx_recip_12(q.d), y);  // y (1 - dl / d)
  return y * select_bits(q.neg, q.s2, 1.0f);
}

// num / (1 + e)^2 with (1 + e)^2 = dd + ddl to first order; num carries the 1 / s2 scale. The
// sign of a zero is not kept.
FASTNN_INLINE float div_sq_f(float num, const SigmoidF& q) {
  const float dd = q.d * q.d;
  const float ddl = __builtin_fmaf(2.0f * q.d, q.dl, __builtin_fmaf(q.d, q.d, -dd));
  const float r = approx_recip_12(q.d);
  const float y = num / dd;
  return __builtin_fmaf(-y, ddl * (r * r), y);  // y (1 - ddl / dd)
}

// g * e / (1 + e)^2 = g sigmoid'(x), scaled by C (1, or 4 for tanh'). C goes with s1 where
// |g| <= 1 (g C (1 + m) s1 is exact there, as before), with s2 where |g| > 1 (g C (1 + m) would
// overflow for |g| > 6e37; the result is the same). Finite g only, and the sign of a zero is not
// kept: see fix_backward_f.
template <int C>
FASTNN_INLINE float mul_dsigmoid_f(float g, const SigmoidF& q) {
  if constexpr (C == 1) {
    return div_sq_f(mul_e_s1(g, q.m, q.s1), q) * q.s2;
  } else {
    const bool big = fabsf_(g) > 1.0f;
    const float c1 = big ? 1.0f : static_cast<float>(C);
    const float c2 = big ? static_cast<float>(C) : 1.0f;
    return div_sq_f(mul_e_s1(g, q.m, q.s1 * c1), q) * (q.s2 * c2);
  }
}

// g a e / (1 + e)^2 for x < 0, g a / (1 + e)^2 for x >= 0 (silu', gelu_tanh': |a| <= 460). g a
// first (exact for g = 1: the derivative rounds once less) where |g| <= 2^100; beyond, where
// g a could overflow, a is applied after the division.
FASTNN_INLINE float mul_late_f(float g, float a, const SigmoidF& q) {
  const bool big = fabsf_(g) > 0x1p100f;
  const float y = div_sq_f(mul_e_s1(g * (big ? 1.0f : a), q), q);
  return (y * (big ? a : 1.0f)) * select_bits(q.neg, q.s2, 1.0f);
}

// Beyond |x| > 172 (and for NaN) the float paths select g * 0, or NaN for a NaN x.
FASTNN_INLINE float zero_or_nan(float g, float x) { return g * (x != x ? x : 0.0f); }

// The double path's exp(-|x|) is 0 beyond |x| = 745.1332 (the largest float below which it is a
// subnormal double): there the double path's sigmoid', silu', elu' are 0 and g = inf gives NaN.
constexpr float kExpZeroF = 0x1.74910cp9f;

// The float backwards compute r = g f'(x) by steps that lose what the product g * f'(x) keeps:
// fma(g, m, g) with m < 0 and the rounding corrections y - y t turn -0 into +0, an infinite g
// gives inf - inf = NaN, and beyond their range the paths select a zero. sc is a value with the
// sign of f'(x), a signed zero where the double path's f'(x) is 0 (NaN where it is NaN, or r
// NaN there): s = g * sc is the result for an infinite g (+-inf, or NaN where f' = 0, as torch)
// and carries the sign of a zero r. r must be NaN where g or x is NaN.
FASTNN_INLINE float fix_backward_f(float r, float g, float sc) {
  const float s = g * sc;
  return fabsf_(g) == __builtin_inff() ? s : copysignf_(r, s);
}

// sc for f' > 0 up to |x| = kExpZeroF and 0 beyond: kExpZeroF's successor - |x| clamped at 0
// (a max).
FASTNN_INLINE float positive_to_exp_zero(float ax) {
  const float d = 0x1.74910ep9f - ax;
  return d < 0.0f ? 0.0f : d;
}

struct Identity {
  static constexpr int cost = 1;
  static double f(double x, const ActParams&) { return x; }
  static double backward(double g, double, const ActParams&) { return g; }
};

// Heaviside: 1 for x > 0 else 0 (NaN gives 0, as torch.heaviside). Its gradient is zero.
struct Step {
  static constexpr int cost = 1;
  static double f(double x, const ActParams&) { return x > 0.0 ? 1.0 : 0.0; }
  static double backward(double, double, const ActParams&) { return 0.0; }
};

struct Sigmoid {
  static constexpr int cost = 4;
  static double f(double x, const ActParams&) { return sigmoid_parts(x).s; }
  static FASTNN_INLINE float f32(float x, const ActParams&) {
    const float e = exp_nonpos_f(-fabsf_(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
  }
  // s (1 - s) = e / (1 + e)^2, exact on both tails.
  static double backward(double g, double x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts(x);
    return g * (q.e * q.r * q.r);
  }
  // float32 backward in float: g e / (1 + e)^2 with e's scale applied last (accurate where f'
  // is subnormal) and the rounding of 1 + e compensated. Beyond |x| = 175.4 e's scales are 0
  // (sigmoid_zero_f: no select); sc * 0 makes a NaN x give NaN.
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    const float y = mul_dsigmoid_f<1>(g, sigmoid_zero_f(x));
    const float sc = positive_to_exp_zero(fabsf_(x));  // NaN for NaN x
    return fix_backward_f(y + sc * 0.0f, g, sc);
  }
  static double backward_y(double g, double y, const ActParams&) { return g * (1.0 - y) * y; }
};

struct Tanh {
  static constexpr int cost = 4;
  // tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)): no cancellation near 0, exact 1 far out.
  static double f(double x, const ActParams&) {
    const double em = expm1_nonpos(-2.0 * fabs_(x));
    return copysign_(-em / (2.0 + em), x);
  }
  static FASTNN_INLINE float f32(float x, const ActParams&) {
    const float em = expm1_nonpos_f(-2.0f * fabsf_(x));
    return copysignf_(-em / (2.0f + em), x);
  }
  // 1 - tanh^2 = 4E / (1 + E)^2 with E = exp(-2|x|), from exp itself: 1 + expm1(-2|x|)
  // cancels (relative error 1e-5 at |x| = 13, 0 instead of 1.7e-17 at |x| = 20).
  static double backward(double g, double x, const ActParams&) {
    const double e = exp_core(-2.0 * fabs_(x));
    const double d = 1.0 + e;
    return g * (4.0 * e / (d * d));
  }
  // float32 in float: 1 - tanh^2 = 4 sigmoid'(2x), as sigmoid's (2x is exact below 1.7e38).
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    const float x2 = 2.0f * x;
    const float y = mul_dsigmoid_f<4>(g, sigmoid_zero_f(x2));
    const float sc = positive_to_exp_zero(fabsf_(x2));
    return fix_backward_f(y + sc * 0.0f, g, sc);
  }
  static double backward_y(double g, double y, const ActParams&) { return g * (1.0 - y * y); }
};

struct Relu {
  static constexpr int cost = 1;
  // -0 stays -0 and NaN propagates, as torch.relu (clamp_min).
  static double f(double x, const ActParams&) { return x < 0.0 ? 0.0 : x; }
  static double backward(double g, double x, const ActParams&) { return x <= 0.0 ? 0.0 : g; }
};

struct LeakyRelu {
  static constexpr int cost = 1;
  static double f(double x, const ActParams& p) { return x > 0.0 ? x : x * p.a; }
  static double backward(double g, double x, const ActParams& p) { return x > 0.0 ? g : g * p.a; }
};

// ELU with torch's (alpha, scale, input_scale) form; SELU is ELU with fixed constants.
FASTNN_INLINE double elu_f(double x, double alpha, double scale) {
  return x <= 0.0 ? alpha * scale * expm1_nonpos(x) : x * scale;
}
FASTNN_INLINE double elu_backward(double g, double x, double alpha, double scale) {
  const double xn = x <= 0.0 ? x : 0.0;
  return x <= 0.0 ? g * (alpha * scale) * exp_core(xn) : g * scale;
}

// float: g * c * e^x for x <= 0 with c = alpha * scale as a float pair (ch + cl), so the
// product rounds once; g * scale the same way above 0. Below -172 the result is g * c * 0.
FASTNN_INLINE float mul_pair_f(float a, double c) {
  const float ch = static_cast<float>(c);
  const float cl = static_cast<float>(c - static_cast<double>(ch));
  return __builtin_fmaf(a, ch, a * cl);
}
// float32 in float: alpha * scale * expm1(x) and scale * x by mul_pair_f (2 ulp; the double
// product it replaces ran at half the lanes). Zeros: x * c, the double path's sign (the pair's
// two zero products may differ in sign); +inf gives itself (scale > 0; the pair gives inf * 0
// for elu's scale 1). NaN stays NaN.
FASTNN_INLINE float elu_f32(float x, double alpha, double scale) {
  const float em = expm1_nonpos_f(x < 0.0f ? x : 0.0f);
  const float y = x <= 0.0f ? mul_pair_f(em, alpha * scale) : mul_pair_f(x, scale);
  return x == 0.0f ? x * static_cast<float>(alpha * scale) : (x == __builtin_inff() ? x : y);
}
// Signs of zeros and infinite g as the double path by fix_backward_f (f' has the sign of
// alpha * scale for x <= 0, down to -745.1332 where the double path's exp(x) is 0).
FASTNN_INLINE float elu_backward32(float g, float x, double alpha, double scale) {
  const bool neg = x <= 0.0f;
  const ExpSplitF q = exp_split_f(-fabsf_(x), -0.0f);  // used where x <= 0 (+0 -> -0)
  const float t = mul_e_s1(g, q.m, q.s1);
  const float yn = x < -172.0f ? g * 0.0f : mul_pair_f(t, alpha * scale) * q.s2;
  const float c = static_cast<float>(alpha * scale);
  const float sc = neg ? (x >= -kExpZeroF ? c : c * 0.0f) : static_cast<float>(scale);
  return fix_backward_f(neg ? yn : mul_pair_f(g, scale), g, sc);
}

struct Elu {
  static constexpr int cost = 3;
  static double f(double x, const ActParams& p) { return elu_f(x, p.a, 1.0); }
  static double backward(double g, double x, const ActParams& p) {
    return elu_backward(g, x, p.a, 1.0);
  }
  // alpha * scale as a float pair: finite, and far from float overflow.
  static bool f32_ok(const ActParams& p) { return std::fabs(p.a) <= 1e30; }
  static FASTNN_INLINE float f32(float x, const ActParams& p) { return elu_f32(x, p.a, 1.0); }
  static FASTNN_INLINE float backward32(float g, float x, const ActParams& p) {
    return elu_backward32(g, x, p.a, 1.0);
  }
};

struct Selu {
  static constexpr int cost = 3;
  static constexpr double alpha = 1.6732632423543772848170429916717;
  static constexpr double scale = 1.0507009873554804934193349852946;
  static double f(double x, const ActParams&) { return elu_f(x, alpha, scale); }
  static double backward(double g, double x, const ActParams&) {
    return elu_backward(g, x, alpha, scale);
  }
  static FASTNN_INLINE float f32(float x, const ActParams&) { return elu_f32(x, alpha, scale); }
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    return elu_backward32(g, x, alpha, scale);
  }
};

// Exact GELU: x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, accurate on the negative tail.
struct Gelu {
  static constexpr int cost = 6;
  static constexpr double kSqrtHalf = 0.70710678118654752440084436210485;
  static constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;
  // Phi(x) with (x / sqrt 2)^2 split exactly from x, so the far negative tail stays accurate.
  FASTNN_INLINE static double cdf(double x, double h, double l) {
    return 0.5 * erfc_split(-x * kSqrtHalf, 0.5 * h, 0.5 * l);
  }
  static double f(double x, const ActParams&) {
    const double h = x * x;
    return x * cdf(x, h, __builtin_fma(x, x, -h));
  }
  static double backward(double g, double x, const ActParams&) {
    const double h = x * x;
    const double l = h < 1e300 ? __builtin_fma(x, x, -h) : 0.0;  // inf - inf would poison pdf
    const double e = exp_core(-0.5 * h);
    const double pdf = kInvSqrt2Pi * (e - e * (0.5 * l));
    return g * (cdf(x, h, l) + x * pdf);
  }
  // ---- float32: Phi(-|x|) = exp(-x^2 / 2) G(|x|), G = 0.5 erfcx(|x| / sqrt 2) a degree-5/6
  // rational in |x| on [0, 14.5] (relative fit error 8.8e-11; tools/erfc_fit/fit_phi_tail.py
  // 5 6 14.5). exp is the float exp_split_f with the exact argument x^2 = h + hl; G and the
  // products are in double (a float rational alone costs ~3 ulp), rounded once at the end.
  // x < 0: x Phi(-|x|); x >= 0: x - x Phi(-|x|). Beyond |x| > 18: x or x * 0 (NaN at -inf).
  struct TailF {
    double e, g;  // exp(-x^2 / 2) and G(|x|)
  };
  FASTNN_INLINE static TailF tail_f(float x) {
    const float h = x * x;
    const float hl = __builtin_fmaf(x, x, -h);
    const ExpSplitF q = exp_split_f(-0.5f * h, -0.5f * hl);
    const double e =
        (1.0 + static_cast<double>(q.m)) * (static_cast<double>(q.s1) * static_cast<double>(q.s2));
    const double t = fabs_(static_cast<double>(x));
    double pn = 0.0008858258594430648;
    pn = pn * t + 0.011607980275666955;
    pn = pn * t + 0.07115297572646856;
    pn = pn * t + 0.25020599303436153;
    pn = pn * t + 0.5071275555924923;
    pn = pn * t + 0.49999999995992483;
    double qd = 0.0022204389823126166;
    qd = qd * t + 0.029096701537923753;
    qd = qd * t + 0.18058016720064463;
    qd = qd * t + 0.6561696699012796;
    qd = qd * t + 1.446290365857695;
    qd = qd * t + 1.8121396642617733;
    qd = qd * t + 1.0;
    return {e, pn / qd};
  }
  static FASTNN_INLINE float f32(float x, const ActParams&) {
    const TailF q = tail_f(x);
    const double xd = x;
    const double xt = xd * (q.e * q.g);
    const float y = static_cast<float>(x <= 0.0f ? xt : xd - xt);  // -0 stays -0
    return fabsf_(x) <= 18.0f ? y : x * (x > 0.0f ? 1.0f : 0.0f);
  }
  // Phi(x) + x phi(x): x < 0: e (G - |x| c); x >= 0: 1 - e (G - |x| c), c = 1 / sqrt(2 pi).
  // Beyond |x| > 18: g above (NaN at +inf, inf * pdf, as the double path); below, f' < 0 down to
  // -38.575497 (the double path's last nonzero f'), +0 further and NaN at -inf.
  static constexpr float kZeroF = -0x1.349a9ep5f;  // -38.575497
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    const TailF q = tail_f(x);
    const double t = fabs_(static_cast<double>(x));
    const double u = q.e * (q.g - t * kInvSqrt2Pi);
    const double d = x < 0.0f ? u : 1.0 - u;
    const float y = static_cast<float>(static_cast<double>(g) * d);
    const float pos = g * (x * 0.0f + 1.0f);
    const float neg = fix_backward_f(g * (x * 0.0f), g, x >= kZeroF ? -1.0f : x * 0.0f + 0.0f);
    return fabsf_(x) <= 18.0f ? y : (x > 0.0f ? pos : neg);
  }
};

// tanh-approximated GELU: 0.5 x (1 + tanh z) = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3).
struct GeluTanh {
  static constexpr int cost = 4;
  static constexpr double kBeta = 0.79788456080286535587989211986876;  // sqrt(2/pi)
  static constexpr double kKappa = 0.044715;
  static double f(double x, const ActParams&) {
    const double z = kBeta * (x + kKappa * x * x * x);
    return x * sigmoid_parts(2.0 * z).s;
  }
  // d/dx = s + x * 2 s (1 - s) * dz/dx; beyond |x| > 30 it is 0 or 1 (and x^3 may overflow).
  static double backward(double g, double x, const ActParams&) {
    const double z = kBeta * (x + kKappa * x * x * x);
    const SigmoidParts q = sigmoid_parts(2.0 * z);
    const double dz = kBeta * (1.0 + 3.0 * kKappa * x * x);
    const double d = q.s + 2.0 * x * (q.s * q.one_minus_s) * dz;
    return g * (fabs_(x) > 30.0 ? q.s : d);
  }
  // ---- float32 in float. w = 2z = x (c1 + c3 x^2) is carried as a float pair w + wl (relative
  // error ~2^-45): an error dw in the exp argument is a relative error dw in the result, and |w|
  // reaches ~106 before f underflows (~170 for g f' with a large g). x^2 = h + hl exactly, c3 x^2 =
  // p + q, and t + tl = c1 + c3 x^2 by an exact two-sum. Beyond |x| > kLimit (|w| = 170, inside
  // exp_split_f's range) the results are their limits: f(x) already rounds to x above 5 and to
  // -0 below -10.8.
  static constexpr float kC1 = 0x1.988454p0f, kC1Lo = -0x1.857936p-25f;  // 2 sqrt(2/pi)
  static constexpr float kC3 = 0x1.2444f2p-4f, kC3Lo = 0x1.49b16ap-29f;  // 2 sqrt(2/pi) 0.044715
  static constexpr float kLimit = 12.8f;
  struct ArgF {
    float w, wl, t, tl, p, q;
  };
  FASTNN_INLINE static float two_sum_err(float a, float b, float s) {
    const float bb = s - a;
    return (a - (s - bb)) + (b - bb);
  }
  FASTNN_INLINE static ArgF arg_f(float x) {
    const float h = x * x;
    const float hl = __builtin_fmaf(x, x, -h);
    const float p = kC3 * h;
    const float q = __builtin_fmaf(kC3, h, -p) + __builtin_fmaf(kC3, hl, kC3Lo * h);
    const float t = kC1 + p;
    const float tl = two_sum_err(kC1, p, t) + (q + kC1Lo);
    const float w = x * t;
    const float wl = __builtin_fmaf(x, tl, __builtin_fmaf(x, t, -w));
    return {w, wl, t, tl, p, q};
  }
  static FASTNN_INLINE float f32(float x, const ActParams&) {
    const ArgF a = arg_f(x);
    const float y = copysignf_(mul_sigmoid_f(x, sigmoid_f(a.w, a.wl)), x);  // -0 stays -0
    return fabsf_(x) > kLimit ? x * (x > 0.0f ? 1.0f : 0.0f) : y;           // -inf * 0: NaN, as f
  }
  // f' = s + v s (1 - s), v = x dw/dx = x (c1 + 3 c3 x^2) = x (t + tl + 2 (p + q)) as a pair:
  // x >= 0: (D + v e) / D^2; x < 0: e (D + v) / D^2, D = 1 + e = d + dl (silu's form).
  static constexpr float kZeroF = -0x1.58441cp4f;  // -21.516628: the double path's last f' != 0
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    const ArgF a = arg_f(x);
    const SigmoidF q = sigmoid_f(a.w, a.wl);
    const float tp = a.t + 2.0f * a.p;
    const float tpl = two_sum_err(a.t, 2.0f * a.p, tp) + (a.tl + 2.0f * a.q);
    const float v = x * tp;
    const float vl = __builtin_fmaf(x, tpl, __builtin_fmaf(x, tp, -v));
    const float n = q.neg ? (q.d + v) + (q.dl + vl) : __builtin_fmaf(v, q.e, q.d) + q.dl;
    const float y = mul_late_f(g, n, q);
    // Limits as the double path: g for x > kLimit; below -kLimit a zero with the sign of g f'
    // there (f' < 0 down to kZeroF, +0 beyond; g f' is below the float range there unless
    // |g| > 1e27). NaN stays NaN. Zero signs and infinite g by fix_backward_f.
    const bool far = fabsf_(x) > kLimit;
    const float sc = far ? (x > 0.0f ? 1.0f : (x >= kZeroF ? -1.0f : 0.0f)) : n;
    return fix_backward_f(far ? g * (x > 0.0f ? 1.0f : 0.0f) : y, g, sc);
  }
};

struct Silu {
  static constexpr int cost = 4;
  static double f(double x, const ActParams&) { return x * sigmoid_parts(x).s; }
  static double backward(double g, double x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts(x);
    return g * (q.s * (1.0 + x * q.one_minus_s));
  }
  // float: |x| e / (1 + e) for x < 0 (|x| e 2^40 by exp_neg_scaled_f: one rounding, normal where
  // the result is subnormal), x / (1 + e) for x >= 0, one division for both signs (bitwise
  // selects: GCC does not split it per sign), the quotient corrected for the rounding of
  // 1 + e = d + dl (1 / d ~ 1 suffices there: 2 ulp exhaustively). The magnitude stays >= 0 so
  // +-0 keep their sign through the correction; the last product restores the sign and scale.
  // |x| is clamped at 110 (x e rounds to -0 beyond). +inf gives inf, -inf NaN (-inf * 0) as torch.
  static FASTNN_INLINE float f32(float x, const ActParams&) {
    const float ax = fabsf_(x);
    const float t = min_bits_f(ax, 110.0f);
    const ExpScaledF q = exp_neg_scaled_f(t);
    const float s = q.s * kExpUnscaleF;              // 2^k
    const float u = 1.0f + s;                        // exact for k >= -23
    const float d = __builtin_fmaf(s, q.m, u);       // 1 + e rounded once
    const float dl = __builtin_fmaf(s, q.m, u - d);  // 1 + e - d (u - d is exact)
    const int32_t neg = as_i32(x) >> 31;
    const float num = select_bits(neg, __builtin_fmaf(t, q.m, t) * q.s, ax);
    float y = num / d;
    y = __builtin_fmaf(-y, dl, y);  // NaN for y = inf: x = +-inf and NaN take x + |x| instead
    return ax < __builtin_inff() ? y * select_bits(neg, -kExpUnscaleF, 1.0f) : x + ax;
  }
  // float: silu' = (1 + e + x e) / (1 + e)^2 for x >= 0, e (1 + e + x) / (1 + e)^2 for x < 0.
  static FASTNN_INLINE float backward32(float g, float x, const ActParams&) {
    const SigmoidF q = sigmoid_f(x);
    const float a = q.neg ? (q.d + x) + q.dl : __builtin_fmaf(x, q.e, q.d) + q.dl;
    const float y = mul_late_f(g, a, q);
    // NaN at +-inf (inf * 0), as the reference s (1 + x (1 - s)); f' < 0 below -1.28 down to
    // -745.1332, -0 beyond (the double path's s = 0 times 1 + x).
    const float r = x >= -172.0f ? y : g * (x * 0.0f);
    return fix_backward_f(r, g, x >= -kExpZeroF ? a : x * 0.0f);
  }
};

// softplus(x) = log(1 + exp(beta x)) / beta, linear above the threshold like torch.
struct Softplus {
  static constexpr int cost = 5;
  static double f(double x, const ActParams& p) {
    const double z = p.a * x;
    const double pos = z > 0.0 ? z : 0.0;
    const double y = (pos + log1p_unit(exp_core(-fabs_(z)))) / p.a;
    return z > p.b ? x : (isnan_(z) ? z : y);
  }
  static double backward(double g, double x, const ActParams& p) {
    const double z = p.a * x;
    return z > p.b ? g : g * sigmoid_parts(z).s;
  }
  // The float32 paths compute in float for beta = 1 and a threshold that is a float (the
  // defaults); otherwise the double path runs.
  static bool f32_ok(const ActParams& p) {
    return p.a == 1.0 && static_cast<double>(static_cast<float>(p.b)) == p.b;
  }
  // log(1 + e) = 2 atanh(s), s = e / (2 + e) in [0, 1/3] (2 + e corrected for its rounding):
  // 2s (1 + w Q(w)), w = s^2, Q a degree-3 minimax fit (tools/fit_float_polys.py, 0.08 ulp).
  // s carries e's 2^40 scale (exp_neg_scaled_f) until the last product, so subnormal results
  // round once. |x| is clamped at 110 (the result rounds to 0 beyond).
  static FASTNN_INLINE float f32(float x, const ActParams& p) {
    const float thr = static_cast<float>(p.b);
    const ExpScaledF q = exp_neg_scaled_f(min_bits_f(fabsf_(x), 110.0f));
    const float es = __builtin_fmaf(q.s, q.m, q.s);  // e 2^40
    const float s1 = q.s * kExpUnscaleF;
    const float e = __builtin_fmaf(s1, q.m, s1);
    const float d = 2.0f + e;
    const float dl = (2.0f - d) + e;  // 2 + e = d + dl exactly
    float sc = es / d;
    sc = __builtin_fmaf(-sc, dl * (0.8333333f - 0.16666667f * d), sc);  // ~ sc (1 - dl / d)
    const float s = sc * kExpUnscaleF;
    const float w = s * s;
    float qw = 0x1.1ed9fap-3f;
    qw = qw * w + 0x1.1ebc96p-3f;
    qw = qw * w + 0x1.99d21p-3f;
    qw = qw * w + 0x1.555502p-2f;
    const float l1 = __builtin_fmaf(2.0f * sc * w, qw, 2.0f * sc);          // log(1 + e) 2^40
    const float y = __builtin_fmaf(l1, kExpUnscaleF, x < 0.0f ? 0.0f : x);  // NaN stays NaN
    return x > thr ? x : y;
  }
  static FASTNN_INLINE float backward32(float g, float x, const ActParams& p) {
    const float y = mul_sigmoid_f(g, sigmoid_f(x));
    const float r = x >= -172.0f ? y : zero_or_nan(g, x);
    return x > static_cast<float>(p.b) ? g : fix_backward_f(r, g, positive_to_exp_zero(-x));
  }
};

struct Hardsigmoid {
  static constexpr int cost = 1;
  static double f(double x, const ActParams&) {
    return x <= -3.0 ? 0.0 : (x >= 3.0 ? 1.0 : (x + 3.0) / 6.0);
  }
  static double backward(double g, double x, const ActParams&) {
    return (x > -3.0 && x < 3.0) ? g / 6.0 : 0.0;
  }
};

struct Hardswish {
  static constexpr int cost = 1;
  static double f(double x, const ActParams&) {
    return x <= -3.0 ? 0.0 : (x >= 3.0 ? x : x * (x + 3.0) / 6.0);
  }
  // torch: 0 up to and including -3, the slope strictly inside, g from 3 on (and for NaN).
  static double backward(double g, double x, const ActParams&) {
    return x <= -3.0 ? 0.0 : (x < 3.0 ? g * (x / 3.0 + 0.5) : g);
  }
};

}  // namespace fastnn::FASTNN_ISA
