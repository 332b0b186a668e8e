// Loss functions, forward and backward: elementwise (mse, l1, huber, binary cross entropy on
// probabilities and on logits) and per-row class losses (cross entropy as one fused
// log-softmax + NLL pass per row, NLL). Math in double, one rounding to T per output.
// Reductions are summed in fixed blocks (see loss_kernels.h) so threads never change a bit.
#include <limits>

#include "fastnn/parallel.h"
#include "fastnn/row_tile.h"
#include "fastnn/simd_math.h"

namespace fastnn::FASTNN_ISA {
namespace {

// Below this many elements per thread a single thread is faster than waking the pool.
constexpr int64_t kGrainElems = 32768;

// body(first_block, end_block) over [0, nblocks) split across threads, each getting at least
// min_blocks (parallel_for's ranges are multiples of 64 items: 64 items = one block here).
template <class Body>
void parallel_blocks(int64_t nblocks, int64_t min_blocks, Body&& body) {
  parallel_for(nblocks * 64, imax(1, min_blocks) * 64,
               [&](int64_t b, int64_t e) { body(b / 64, e / 64); });
}

// Sums block_sum(k) for k in [0, nblocks) in order, blocks computed in parallel when large.
template <class BlockFn>
double blocked_sum(int64_t nblocks, int64_t min_blocks, bool want_sum, BlockFn&& block_fn) {
  if (nblocks == 1) return block_fn(0);
  Scratch part(want_sum ? nblocks : 1);
  double* ps = part.p;
  parallel_blocks(nblocks, min_blocks, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const double s = block_fn(k);
      if (want_sum) ps[k] = s;
    }
  });
  double total = 0.0;
  if (want_sum)
    for (int64_t k = 0; k < nblocks; ++k) total += ps[k];
  return total;
}

// ---------------------------------------------------------------- elementwise losses
// Each functor computes, in double, the loss l and its derivative d wrt x; unused halves are
// removed by the compiler. pw is the positive-class weight (1 where the loss has none).

// log(x) for x in [0, 1], clamped below at -100 like torch (0 and subnormals give -100).
inline double log_clamped(double x) {
  const double l = log_pos(x > 1e-300 ? x : 1e-300);
  return l > -100.0 ? l : -100.0;
}

// log1p(-x) for x in [0, 1], clamped below at -100 (x = 1 gives -100).
inline double log1m_clamped(double x) {
  const double u = 1.0 - x;
  const double uu = u > 1e-300 ? u : 1e-300;
  const double c = (u - 1.0) + x;         // the rounding error of 1 - x
  const double l = log_pos(uu) - c / uu;  // log(u - c)
  return l > -100.0 ? l : -100.0;
}

struct Mse {
  static constexpr bool kWeights = false, kPosWeights = false;
  static void eval(double x, double y, double, double, double& l, double& d) {
    const double r = x - y;
    l = r * r;
    d = 2.0 * r;
  }
};

struct L1 {
  static constexpr bool kWeights = false, kPosWeights = false;
  static void eval(double x, double y, double, double, double& l, double& d) {
    const double r = x - y;
    l = fabs_(r);
    d = r > 0.0 ? 1.0 : (r < 0.0 ? -1.0 : r * 0.0);  // sign(r); NaN stays NaN
  }
};

struct Huber {
  static constexpr bool kWeights = false, kPosWeights = false;
  static void eval(double x, double y, double, double delta, double& l, double& d) {
    const double r = x - y;
    const double z = fabs_(r);
    l = z < delta ? 0.5 * r * r : delta * (z - 0.5 * delta);
    d = r < -delta ? -delta : (r > delta ? delta : r);
  }
};

// torch: l = (y - 1) max(log(1 - x), -100) - y max(log x, -100);
//        d = (x - y) / max((1 - x) x, 1e-12).
struct Bce {
  static constexpr bool kWeights = true, kPosWeights = false;
  static void eval(double x, double y, double, double, double& l, double& d) {
    l = (y - 1.0) * log1m_clamped(x) - y * log_clamped(x);
    const double den = (1.0 - x) * x;
    constexpr double kEps = static_cast<double>(1e-12f);  // torch's EPSILON is a float
    d = (x - y) / (den > kEps ? den : kEps);
  }
};

// l = (1 - y) x + lw softplus(-x), lw = (pw - 1) y + 1, softplus(-x) = max(-x, 0) + log1p(e^-|x|);
// d = lw sigmoid(x) - pw y.
struct BceLogits {
  static constexpr bool kWeights = true, kPosWeights = true;
  static void eval(double x, double y, double pw, double, double& l, double& d) {
    const double e = exp_core(-fabs_(x));
    const double sp = log1p_unit(e) + (x < 0.0 ? -x : 0.0);
    const double lw = (pw - 1.0) * y + 1.0;
    l = (1.0 - y) * x + lw * sp;
    const double s = (x >= 0.0 ? 1.0 : e) / (1.0 + e);
    d = lw * s - pw * y;
  }
};

enum : int { kSum = 1, kOut = 2, kGrad = 4, kGradArr = 8 };

template <class T, class F, bool kW, bool kPW, int M>
double pointwise_block(const PointwiseLossArgs<T>& a, int64_t b, int64_t e) {
  const T* x = a.x;
  const T* y = a.y;
  const T* w = a.w;
  const T* pw = a.pos_w;
  T* out = a.loss_out;
  T* grad = a.grad;
  const T* g = a.grad_out;
  const double gs = a.grad_scale, delta = a.delta;
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = b; i < e; ++i) {
    double l, d;
    F::eval(static_cast<double>(x[i]), static_cast<double>(y[i]),
            kPW ? static_cast<double>(pw[i]) : 1.0, delta, l, d);
    if constexpr (kW) {
      const double wi = w[i];
      l *= wi;
      d *= wi;
    }
    if constexpr ((M & kSum) != 0) s += l;
    if constexpr ((M & kOut) != 0) out[i] = static_cast<T>(l);
    if constexpr ((M & kGradArr) != 0) {
      grad[i] = static_cast<T>(d * (static_cast<double>(g[i]) * gs));
    } else if constexpr ((M & kGrad) != 0) {
      grad[i] = static_cast<T>(d * gs);
    }
  }
  return s;
}

template <class T, class F, bool kW, bool kPW, int M>
double pointwise_run(const PointwiseLossArgs<T>& a) {
  const int64_t n = a.n;
  if (n <= 0) return 0.0;
  const int64_t nblocks = (n + kLossBlock - 1) / kLossBlock;
  return blocked_sum(nblocks, kGrainElems / kLossBlock, (M & kSum) != 0, [&](int64_t k) {
    return pointwise_block<T, F, kW, kPW, M>(a, k * kLossBlock, imin(n, (k + 1) * kLossBlock));
  });
}

template <class T, class F, bool kW, bool kPW>
double pointwise_mode(const PointwiseLossArgs<T>& a) {
  const int m = (a.want_sum ? kSum : 0) | (a.loss_out ? kOut : 0) | (a.grad ? kGrad : 0) |
                (a.grad && a.grad_out ? kGradArr : 0);
  switch (m) {
    case kSum:
      return pointwise_run<T, F, kW, kPW, kSum>(a);
    case kOut:
      return pointwise_run<T, F, kW, kPW, kOut>(a);
    case kGrad:
      return pointwise_run<T, F, kW, kPW, kGrad>(a);
    case kGrad | kGradArr:
      return pointwise_run<T, F, kW, kPW, kGrad | kGradArr>(a);
    case kSum | kGrad:
      return pointwise_run<T, F, kW, kPW, kSum | kGrad>(a);
    case kOut | kGrad:
      return pointwise_run<T, F, kW, kPW, kOut | kGrad>(a);
    case kOut | kGrad | kGradArr:
      return pointwise_run<T, F, kW, kPW, kOut | kGrad | kGradArr>(a);
    case kSum | kGrad | kGradArr:
      return pointwise_run<T, F, kW, kPW, kSum | kGrad | kGradArr>(a);
    default:
      return 0.0;  // nothing asked (or an unsupported mix)
  }
}

template <class T, class F>
double pointwise(const PointwiseLossArgs<T>& a) {
  if constexpr (F::kPosWeights) {
    if (a.pos_w) {
      return a.w ? pointwise_mode<T, F, true, true>(a) : pointwise_mode<T, F, false, true>(a);
    }
  }
  if constexpr (F::kWeights) {
    if (a.w) return pointwise_mode<T, F, true, false>(a);
  }
  return pointwise_mode<T, F, false, false>(a);
}

template <class T>
int64_t first_outside_unit(const T* x, int64_t n) {
  for (int64_t b = 0; b < n; b += kLossBlock) {
    const int64_t e = imin(n, b + kLossBlock);
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (int64_t i = b; i < e; ++i) bad |= (x[i] >= T(0) && x[i] <= T(1)) ? 0 : 1;
    if (bad)
      for (int64_t i = b; i < e; ++i)
        if (!(x[i] >= T(0) && x[i] <= T(1))) return i;
  }
  return -1;
}

// ---------------------------------------------------------------- class losses

// exp(x) for x <= 0 (or NaN), the softmax's shifted logits. float32 rows need only float
// accuracy: degree-8 Taylor (relative error < 3e-10) and 0-ish below -104 (e^-104 < the least
// float subnormal); float64 rows use the full exp_core.
template <class T>
__attribute__((always_inline)) inline double exp_shifted(double x) {
  if constexpr (sizeof(T) == 8) {
    return exp_core(x);
  } else {
    const double xc = x < -104.0 ? -104.0 : x;
    const double kd = xc * kLog2e + kShifter;
    const double k = kd - kShifter;
    double r = xc - k * kLn2Hi;
    r = r - k * kLn2Lo;
    double q = 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    const double p = 1.0 + (r + (r * r) * q);
    const int64_t ki = as_i64(kd) - as_i64(kShifter);
    return p * as_f64((ki + 1023) << 52);
  }
}

constexpr int kNarrowC = 32;   // rows up to this many classes take the row-transposed path
constexpr int kLaneRows = 16;  // rows processed side by side (one per SIMD lane)

// Plain cross entropy (class indices, no weight, no smoothing) over rows [r0, r0 + nb), nb <=
// kLaneRows, of c <= kNarrowC classes. The rows are transposed into a (c, kLaneRows) tile so every
// pass (max, exp and sum, log) is a full-width vector loop across rows: a per-row loop over 10
// classes left most of each vector empty and spent its time in horizontal reductions (47 ns per
// row at 10 classes before, this path is several times faster). Same arithmetic as ce_row's
// general path, row by row. Padding rows hold zeros and are never written back.
template <class T, bool kGrad>
double ce_tile(const ClassLossArgs<T>& a, int64_t r0, int64_t nb) {
  const int64_t c = a.c;
  alignas(64) double xt[kNarrowC][kLaneRows];
  alignas(64) double m[kLaneRows], s[kLaneRows], d[kLaneRows], gq[kLaneRows], gs[kLaneRows];
  load_tile(a.x + r0 * c, c, nb, xt, m);
  for (int i = 0; i < kLaneRows; ++i) {
    s[i] = 0.0;
    const int64_t r = r0 + (i < nb ? i : 0);
    const int64_t label = a.labels[r];
    const bool ignored = i >= nb || label == a.ignore_index;
    d[i] = ignored ? 0.0 : xt[label][i] - m[i];  // read before grad (may be x) is written
    gs[i] = ignored      ? 0.0
            : a.grad_out ? static_cast<double>(a.grad_out[r]) * a.grad_scale
                         : a.grad_scale;
  }
  for (int64_t j = 0; j < c; ++j) {
#pragma omp simd
    for (int i = 0; i < kLaneRows; ++i) {
      const double e = exp_shifted<T>(xt[j][i] - m[i]);
      xt[j][i] = static_cast<double>(static_cast<T>(e));  // as ce_row re-reads it from grad
      s[i] += e;
    }
  }
  double total = 0.0;
  alignas(64) double loss[kLaneRows];
#pragma omp simd
  for (int i = 0; i < kLaneRows; ++i) {
    const double si = s[i];
    loss[i] = (isnan_(si) ? si : log_pos(si)) - d[i];
    gq[i] = gs[i] / si;
  }
  for (int i = 0; i < nb; ++i) {
    const int64_t r = r0 + i;
    const bool ignored = a.labels[r] == a.ignore_index;
    const double l = ignored ? 0.0 : loss[i];
    total += l;
    if (a.loss_out) a.loss_out[r] = static_cast<T>(l);
  }
  if constexpr (kGrad) {
    for (int i = 0; i < nb; ++i) {
      const int64_t r = r0 + i;
      const int64_t label = a.labels[r];
      T* g = a.grad + r * c;
      if (label == a.ignore_index) {
        for (int64_t j = 0; j < c; ++j) g[j] = T(0);
        continue;
      }
      for (int64_t j = 0; j < c; ++j)
        g[j] = static_cast<T>(gq[i] * xt[j][i] - gs[i] * (j == label ? 1.0 : 0.0));
    }
  }
  return total;
}

// Rows [r0, r1) of plain cross entropy with c <= kNarrowC, a tile of kLaneRows rows at a time.
template <class T>
double ce_rows_narrow(const ClassLossArgs<T>& a, int64_t r0, int64_t r1) {
  double total = 0.0;
  for (int64_t b = r0; b < r1; b += kLaneRows) {
    const int64_t nb = imin(kLaneRows, r1 - b);
    total += a.grad ? ce_tile<T, true>(a, b, nb) : ce_tile<T, false>(a, b, nb);
  }
  return total;
}

// One row of cross entropy: loss, and the gradient scaled by gs when grad is non-null.
// With q_c the (smoothed, weighted) target mass on class c and Q = sum q_c:
//   loss = sum_c q_c (lse - x_c) = Q log s - sum_c q_c (x_c - m),  s = sum_c exp(x_c - m)
//   d loss / d x_j = Q p_j - q_j.
template <class T, bool kGrad>
double ce_row(const ClassLossArgs<T>& a, const T* x, int64_t label, const T* prob, T* grad,
              double gs, double sum_w) {
  const int64_t c = a.c;
  const T* w = a.w;
  const double eps = a.label_smoothing;
  const double eps_c = eps / static_cast<double>(c);
  const double m = row_max(x, c);
  const double x_label = prob ? 0.0 : static_cast<double>(x[label]);  // grad may be x (in place)
  double s = 0.0, qx = 0.0, q_total = 0.0;
  // With a gradient to write, exp(x_j - m) is kept there for the last pass (in T: float32 rows
  // lose nothing that the float32 gradient would keep).
  if (prob) {
#pragma omp simd reduction(+ : s, qx, q_total)
    for (int64_t j = 0; j < c; ++j) {
      const double xj = static_cast<double>(x[j]) - m;
      const double ej = exp_shifted<T>(xj);
      if constexpr (kGrad) grad[j] = static_cast<T>(ej);
      s += ej;
      double q = static_cast<double>(prob[j]) * (1.0 - eps) + eps_c;
      if (w) q *= static_cast<double>(w[j]);
      qx += q * xj;
      q_total += q;
    }
  } else if (eps != 0.0) {
#pragma omp simd reduction(+ : s, qx)
    for (int64_t j = 0; j < c; ++j) {
      const double xj = static_cast<double>(x[j]) - m;
      const double ej = exp_shifted<T>(xj);
      if constexpr (kGrad) grad[j] = static_cast<T>(ej);
      s += ej;
      qx += (w ? static_cast<double>(w[j]) : 1.0) * xj;
    }
    const double wy = w ? static_cast<double>(w[label]) : 1.0;
    qx = eps_c * qx + (1.0 - eps) * wy * (x_label - m);
    q_total = eps_c * sum_w + (1.0 - eps) * wy;
  } else if (sizeof(T) == 4 && c <= kNarrowC) {
    // Narrow rows (e.g. 10 classes): a fixed-width loop over a padded copy vectorizes fully
    // instead of leaving most of the row to the scalar remainder of a c-long loop. Padding
    // lanes sit at the clamp floor -104 (e^-104 ~ 7e-46 << the double ulp of s >= 1).
    double xs[kNarrowC], es[kNarrowC];
    for (int j = 0; j < kNarrowC; ++j) xs[j] = -104.0;
    for (int64_t j = 0; j < c; ++j) xs[j] = static_cast<double>(x[j]) - m;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < kNarrowC; ++j) {
      const double ej = exp_shifted<T>(xs[j]);
      es[j] = ej;
      s += ej;
    }
    if constexpr (kGrad)
      for (int64_t j = 0; j < c; ++j) grad[j] = static_cast<T>(es[j]);
    const double wy = w ? static_cast<double>(w[label]) : 1.0;
    qx = wy * (x_label - m);
    q_total = wy;
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < c; ++j) {
      const double ej = exp_shifted<T>(static_cast<double>(x[j]) - m);
      if constexpr (kGrad) grad[j] = static_cast<T>(ej);
      s += ej;
    }
    const double wy = w ? static_cast<double>(w[label]) : 1.0;
    qx = wy * (x_label - m);
    q_total = wy;
  }
  // s is in [1, c] unless the row holds NaN or +-inf (then NaN, like torch's log_softmax).
  const double log_s = isnan_(s) ? s : log_pos(s);
  const double loss = q_total * log_s - qx;
  if constexpr (kGrad) {
    const double gq = gs * q_total / s;  // p_j = e_j / s
    if (prob) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        double q = static_cast<double>(prob[j]) * (1.0 - eps) + eps_c;
        if (w) q *= static_cast<double>(w[j]);
        grad[j] = static_cast<T>(gq * static_cast<double>(grad[j]) - gs * q);
      }
    } else {
      const double qy = (1.0 - eps) * (w ? static_cast<double>(w[label]) : 1.0);
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        double q = eps_c * (w ? static_cast<double>(w[j]) : 1.0) + (j == label ? qy : 0.0);
        grad[j] = static_cast<T>(gq * static_cast<double>(grad[j]) - gs * q);
      }
    }
  }
  return loss;
}

template <class T>
double classwise(const ClassLossArgs<T>& a) {
  const int64_t n = a.n, c = a.c;
  if (n <= 0 || c <= 0) return 0.0;
  double sum_w = static_cast<double>(c);
  if (a.w) {
    sum_w = 0.0;
    for (int64_t j = 0; j < c; ++j) sum_w += static_cast<double>(a.w[j]);
  }
  const int64_t rows = imax(1, kLossBlock / c);
  const int64_t nblocks = (n + rows - 1) / rows;
  const bool narrow = c <= kNarrowC && a.logits && a.labels != nullptr && a.probs == nullptr &&
                      a.w == nullptr && a.label_smoothing == 0.0;
  return blocked_sum(nblocks, imax(1, kGrainElems / (rows * c)), a.want_sum, [&](int64_t k) {
    double total = 0.0;
    const int64_t r1 = imin(n, (k + 1) * rows);
    if (narrow) return ce_rows_narrow<T>(a, k * rows, r1);
    for (int64_t r = k * rows; r < r1; ++r) {
      const T* x = a.x + r * c;
      T* grad = a.grad ? a.grad + r * c : nullptr;
      const double gs =
          a.grad_out ? static_cast<double>(a.grad_out[r]) * a.grad_scale : a.grad_scale;
      double loss = 0.0;
      const int64_t label = a.labels ? a.labels[r] : 0;
      if (a.labels && label == a.ignore_index) {
        if (grad)
          for (int64_t j = 0; j < c; ++j) grad[j] = T(0);
      } else if (!a.logits) {  // nll on log-probabilities
        const double wy = a.w ? static_cast<double>(a.w[label]) : 1.0;
        loss = -wy * static_cast<double>(x[label]);
        if (grad) {
          for (int64_t j = 0; j < c; ++j) grad[j] = T(0);
          grad[label] = static_cast<T>(-wy * gs);
        }
      } else {
        const T* prob = a.probs ? a.probs + r * c : nullptr;
        loss = grad ? ce_row<T, true>(a, x, label, prob, grad, gs, sum_w)
                    : ce_row<T, false>(a, x, label, prob, grad, gs, sum_w);
      }
      if (a.loss_out) a.loss_out[r] = static_cast<T>(loss);
      total += loss;
    }
    return total;
  });
}

}  // namespace

void fill_losses(KernelTable& t) {
  auto& f = t.f32.loss;
  auto& d = t.f64.loss;
  f.pointwise[static_cast<int>(PointwiseLoss::mse)] = &pointwise<float, Mse>;
  f.pointwise[static_cast<int>(PointwiseLoss::l1)] = &pointwise<float, L1>;
  f.pointwise[static_cast<int>(PointwiseLoss::huber)] = &pointwise<float, Huber>;
  f.pointwise[static_cast<int>(PointwiseLoss::bce)] = &pointwise<float, Bce>;
  f.pointwise[static_cast<int>(PointwiseLoss::bce_logits)] = &pointwise<float, BceLogits>;
  d.pointwise[static_cast<int>(PointwiseLoss::mse)] = &pointwise<double, Mse>;
  d.pointwise[static_cast<int>(PointwiseLoss::l1)] = &pointwise<double, L1>;
  d.pointwise[static_cast<int>(PointwiseLoss::huber)] = &pointwise<double, Huber>;
  d.pointwise[static_cast<int>(PointwiseLoss::bce)] = &pointwise<double, Bce>;
  d.pointwise[static_cast<int>(PointwiseLoss::bce_logits)] = &pointwise<double, BceLogits>;
  f.classwise = &classwise<float>;
  d.classwise = &classwise<double>;
  f.first_outside_unit = &first_outside_unit<float>;
  d.first_outside_unit = &first_outside_unit<double>;
}

}  // namespace fastnn::FASTNN_ISA
