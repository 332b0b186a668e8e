// Kernel slots of the loss family (cpp/kernels/losses.cpp). Included by kernel_table.h.
//
// Every reduction is summed in double over fixed blocks (kLossBlock elements, or whole rows
// adding up to about that many for the class losses), each block in a fixed order, then the
// block sums in order: the result is bitwise the same for any number of threads.
#pragma once
#include <cstdint>

namespace fastnn {

inline constexpr int64_t kLossBlock = 4096;

enum class PointwiseLoss : int { mse, l1, huber, bce, bce_logits, count };
inline constexpr int kNumPointwiseLosses = static_cast<int>(PointwiseLoss::count);

// An elementwise loss over n elements. Which of the outputs are produced:
//   want_sum  the sum of the (weighted) per-element losses is returned (0 otherwise);
//   loss_out  per-element losses are written (reduction "none");
//   grad      d loss / d x is written, times grad_out[i] * grad_scale (grad_out non-null, "none")
//             or times grad_scale (grad_out null: "sum", or "mean" with grad_scale = g / n).
template <class T>
struct PointwiseLossArgs {
  const T* x = nullptr;
  const T* y = nullptr;
  const T* w = nullptr;      // per-element weights (n) or null (bce, bce_logits)
  const T* pos_w = nullptr;  // per-element positive-class weights (n) or null (bce_logits)
  T* loss_out = nullptr;
  T* grad = nullptr;
  const T* grad_out = nullptr;
  double grad_scale = 1.0;
  double delta = 1.0;  // huber
  int64_t n = 0;
  bool want_sum = false;
};

// Cross entropy (fused log-softmax + NLL, x = logits) or NLL (x = log-probabilities) over an
// (n, c) array, one row per sample; the target is either class indices (labels, rows whose label
// is ignore_index count 0) or class probabilities (probs, cross entropy only). Outputs as for
// PointwiseLossArgs, per row: loss_out (n), grad (n, c) scaled by grad_out[row] * grad_scale or
// grad_scale. Labels must already be validated (in [0, c) or ignore_index).
template <class T>
struct ClassLossArgs {
  const T* x = nullptr;
  const int64_t* labels = nullptr;
  const T* probs = nullptr;
  const T* w = nullptr;  // class weights (c) or null
  T* loss_out = nullptr;
  T* grad = nullptr;
  const T* grad_out = nullptr;
  double grad_scale = 1.0;
  double label_smoothing = 0.0;
  int64_t ignore_index = -100;
  int64_t n = 0;
  int64_t c = 0;
  bool logits = true;  // false: nll_loss (x holds log-probabilities; labels only, no smoothing)
  bool want_sum = false;
};

template <class T>
struct LossKernels {
  double (*pointwise[kNumPointwiseLosses])(const PointwiseLossArgs<T>& a) = {};
  double (*classwise)(const ClassLossArgs<T>& a) = nullptr;
  // Index of the first element not in [0, 1] (NaN is not), or -1.
  int64_t (*first_outside_unit)(const T* x, int64_t n) = nullptr;
};

}  // namespace fastnn
