// One functor per activation: f(x), and backward(g, x) = g * f'(x) (the derivative is
// backward(1, x)). An optional f32(float) is the float32 forward computed in float, used where the
// exhaustive sweep shows it keeps the float32 bound. All arithmetic is in double; float32 kernels
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

// The same parts for float32 outputs: e = exp(-|x|) from the float exp (the argument is exact in
// float), the rest in double, so the result carries only e's error plus one rounding.
// exp(-|x|) with full relative precision where it is subnormal in float (silu multiplies it by
// x): beyond 64 take exp(64 - |x|) * e^-64 (64 - |x| is exact up to |x| = 128; past that the
// result is far below any float).
FASTNN_INLINE double exp_neg_abs_f(float x) {
  const float a = fabsf_(x);
  const bool far = a > 64.0f;
  const double e = exp_nonpos_f(far ? 64.0f - a : -a);
  return far ? e * 0x1.969d47321e4ccp-93 : e;  // e^-64
}

FASTNN_INLINE SigmoidParts sigmoid_parts_f(float x) {
  const double e = exp_neg_abs_f(x);
  const double r = 1.0 / (1.0 + e);
  const bool pos = x >= 0.0f;
  return {pos ? r : e * r, pos ? e * r : r, e, r};
}

// ... and for a double argument that is not a float (gelu_tanh's z, softplus's beta x).
FASTNN_INLINE SigmoidParts sigmoid_parts_ff(double x) {
  const double e = exp_nonpos_ff(-fabs_(x));
  const double r = 1.0 / (1.0 + e);
  const bool pos = x >= 0.0;
  return {pos ? r : e * r, pos ? e * r : r, e, r};
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
  static float f32(float x, const ActParams&) {
    const float e = exp_nonpos_f(-fabsf_(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
  }
  // s (1 - s) = e / (1 + e)^2, exact on both tails.
  static double backward(double g, double x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts(x);
    return g * (q.e * q.r * q.r);
  }
  // float32 backward: exp in double (float-accuracy polynomial) so that g * f'(x) stays accurate
  // where f'(x) is below the float normal range and g is large.
  static float backward32(float g, float x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts_ff(x);
    return static_cast<float>(static_cast<double>(g) * (q.e * q.r * q.r));
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
  static float f32(float x, const ActParams&) {
    const float em = expm1_nonpos_f(-2.0f * fabsf_(x));
    return copysignf_(-em / (2.0f + em), x);
  }
  // 1 - tanh^2 = 4E / (1 + E)^2 with E = exp(-2|x|) = 1 + em.
  static double backward(double g, double x, const ActParams&) {
    const double em = expm1_nonpos(-2.0 * fabs_(x));
    const double d = 2.0 + em;
    return g * (4.0 * (1.0 + em) / (d * d));
  }
  // float32: E = exp(-2|x|) directly (1 + expm1 would lose E's relative accuracy), in double.
  static float backward32(float g, float x, const ActParams&) {
    const double e = exp_nonpos_ff(-2.0 * fabs_(static_cast<double>(x)));
    const double d = 1.0 + e;
    return static_cast<float>(static_cast<double>(g) * (4.0 * e / (d * d)));
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

// float32: expm1 in float (exact argument), the alpha * scale product in double, one rounding.
FASTNN_INLINE float elu_f32(float x, double alpha, double scale) {
  const double em = expm1_nonpos_f(x);
  return x <= 0.0f ? static_cast<float>(alpha * scale * em)
                   : static_cast<float>(static_cast<double>(x) * scale);
}
FASTNN_INLINE float elu_backward32(float g, float x, double alpha, double scale) {
  const double e = exp_nonpos_ff(x <= 0.0f ? static_cast<double>(x) : 0.0);
  const double gd = g;
  return static_cast<float>(x <= 0.0f ? gd * (alpha * scale) * e : gd * scale);
}

struct Elu {
  static constexpr int cost = 3;
  static double f(double x, const ActParams& p) { return elu_f(x, p.a, 1.0); }
  static double backward(double g, double x, const ActParams& p) {
    return elu_backward(g, x, p.a, 1.0);
  }
  static float f32(float x, const ActParams& p) { return elu_f32(x, p.a, 1.0); }
  static float backward32(float g, float x, const ActParams& p) {
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
  static float f32(float x, const ActParams&) { return elu_f32(x, alpha, scale); }
  static float backward32(float g, float x, const ActParams&) {
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
  // float32: the same in double (x^2 is exact for a float x), with float-accuracy exps.
  FASTNN_INLINE static double cdf_ff(double x, double h) {
    return 0.5 * erfc_split_t<true>(-x * kSqrtHalf, 0.5 * h, 0.0);
  }
  static float f32(float xf, const ActParams&) {
    const double x = xf;
    return static_cast<float>(x * cdf_ff(x, x * x));
  }
  static float backward32(float g, float xf, const ActParams&) {
    const double x = xf;
    const double h = x * x;
    const double e = exp_nonpos_ff(-0.5 * h);
    return static_cast<float>(static_cast<double>(g) * (cdf_ff(x, h) + x * (kInvSqrt2Pi * e)));
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
  // float32: z in double (the exp argument is ill-conditioned in float), float-accuracy exp.
  static float f32(float xf, const ActParams&) {
    const double x = xf;
    const double z = kBeta * (x + kKappa * x * x * x);
    return static_cast<float>(x * sigmoid_parts_ff(2.0 * z).s);
  }
  static float backward32(float gf, float xf, const ActParams&) {
    const double x = xf;
    const double z = kBeta * (x + kKappa * x * x * x);
    const SigmoidParts q = sigmoid_parts_ff(2.0 * z);
    const double dz = kBeta * (1.0 + 3.0 * kKappa * x * x);
    const double d = q.s + 2.0 * x * (q.s * q.one_minus_s) * dz;
    return static_cast<float>(static_cast<double>(gf) * (fabs_(x) > 30.0 ? q.s : d));
  }
};

struct Silu {
  static constexpr int cost = 4;
  static double f(double x, const ActParams&) { return x * sigmoid_parts(x).s; }
  static double backward(double g, double x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts(x);
    return g * (q.s * (1.0 + x * q.one_minus_s));
  }
  // float: x / (1 + e) for x >= 0, x e / (1 + e) for x < 0 with e = exp(-|x|); the numerator
  // x e is formed as fma(x, m, x) * s1 and scaled by s2 after the division, so it keeps full
  // precision where e is subnormal (x < -87). 1 + e is corrected for its rounding. -inf gives NaN
  // (-inf * 0) as torch; beyond |x| > 120 the result is x or -0.
  static float f32(float x, const ActParams&) {
    const ExpSplitF q = exp_split_f(-fabsf_(x), 0.0f);
    const float e = ((1.0f + q.m) * q.s1) * q.s2;
    const float d = 1.0f + e;
    const float dl = (1.0f - d) + e;  // 1 + e = d + dl exactly (|e| <= 1)
    // neg: all ones where the sign bit is set. One division for both signs: the selects are on
    // the factors (bitwise, so GCC does not split the quotient per sign).
    const int32_t neg = as_i32(x) >> 31;
    const float num =
        __builtin_fmaf(x, select_bits(neg, q.m, 0.0f), x) * select_bits(neg, q.s1, 1.0f);
    float y = num / d;
    y = __builtin_fmaf(-y, dl, y);  // y (1 - dl / d) with d ~ 1 where dl matters
    y = y * select_bits(neg, q.s2, 1.0f);
    return fabsf_(x) > 120.0f ? x * (x > 0.0f ? 1.0f : 0.0f) : y;
  }
  static float backward32(float g, float x, const ActParams&) {
    const SigmoidParts q = sigmoid_parts_ff(x);
    const double xd = x;
    return static_cast<float>(static_cast<double>(g) * (q.s * (1.0 + xd * q.one_minus_s)));
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
  static float f32(float x, const ActParams& p) {
    const double xd = x;
    const double z = p.a * xd;
    const double pos = z > 0.0 ? z : 0.0;
    const double inv_a = 1.0 / p.a;  // loop-invariant: hoisted out of the loop
    const double y = (pos + log1p_unit_ff(exp_nonpos_ff(-fabs_(z)))) * inv_a;
    return static_cast<float>(z > p.b ? xd : (isnan_(z) ? z : y));
  }
  static float backward32(float g, float x, const ActParams& p) {
    const double z = p.a * static_cast<double>(x);
    const double gd = g;
    return static_cast<float>(z > p.b ? gd : gd * sigmoid_parts_ff(z).s);
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
