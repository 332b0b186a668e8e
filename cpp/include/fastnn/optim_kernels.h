// Fused multi-tensor optimizer kernels (torch.optim semantics) and gradient clipping.
// Each optimizer kernel updates a whole list of tensors in one call: one OpenMP region runs over
// the concatenation of every tensor's elements, so many small tensors cost the same as one big one.
#pragma once
#include <cstdint>

namespace fastnn {

// One tensor of a multi-tensor step. State pointers an algorithm does not use are null.
// c0, c1 are per-tensor scalars formed on the host in double (they depend on the tensor's step):
//   adam:    c0 = -lr / (1 - beta1^t), c1 = (1 - beta2^t)^0.5
//   adagrad: c0 = -lr / (1 + (t - 1) lr_decay)
//   sgd:     c0 != 0 on the first step (the momentum buffer is set to the gradient)
template <class T>
struct OptimTensor {
  T* param = nullptr;
  const T* grad = nullptr;
  T* s0 = nullptr;  // adam: exp_avg; sgd: momentum_buffer; adagrad: sum; rmsprop: square_avg
  T* s1 = nullptr;  // adam: exp_avg_sq; rmsprop: grad_avg (centered)
  T* s2 = nullptr;  // adam: max_exp_avg_sq (amsgrad); rmsprop: momentum_buffer
  int64_t n = 0;
  double c0 = 0.0, c1 = 0.0;
};

struct OptimHyper {
  double lr = 0.0, beta1 = 0.0, beta2 = 0.0, eps = 0.0, weight_decay = 0.0;
  double momentum = 0.0, dampening = 0.0, alpha = 0.0;
  bool nesterov = false, maximize = false, amsgrad = false, decoupled = false, centered = false;
};

template <class T>
struct OptimKernels {
  void (*sgd)(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) = nullptr;
  void (*adagrad)(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) = nullptr;
  void (*rmsprop)(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) = nullptr;
  void (*adam)(const OptimTensor<T>* ts, int64_t count, const OptimHyper& h) = nullptr;
  // sum |x| (p == 1), sum x^2 (p == 2) or max |x| (p == inf) over every element of every array,
  // accumulated in double in fixed blocks: the result does not depend on the thread count.
  double (*norm_reduce)(const T* const* xs, const int64_t* ns, int64_t count, double p) = nullptr;
  // x *= s (s rounded to T) over every array.
  void (*scale)(T* const* xs, const int64_t* ns, int64_t count, double s) = nullptr;
  // x = min(max(x, lo), hi) over every array (NaN kept).
  void (*clamp)(T* const* xs, const int64_t* ns, int64_t count, double lo, double hi) = nullptr;
};

}  // namespace fastnn
