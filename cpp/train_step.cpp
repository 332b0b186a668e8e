// The fused training step (see fastnn/train_step.h). Compiled once; the elementwise work runs in
// the per-ISA kernels through kernels(), the products through linear_forward_raw /
// linear_backward_raw (BLAS or fastnn's small-GEMM kernel).
#include "fastnn/train_step.h"

#include <algorithm>
#include <new>

#include "fastnn/linear.h"

namespace fastnn {

template <class T>
void TrainStepCore<T>::Free::operator()(T* p) const {
  ::operator delete[](p, std::align_val_t(64));
}

template <class T>
typename TrainStepCore<T>::Buf TrainStepCore<T>::alloc(int64_t n) {
  const size_t count = static_cast<size_t>(std::max<int64_t>(n, 1));
  return Buf(static_cast<T*>(::operator new[](count * sizeof(T), std::align_val_t(64))));
}

template <class T>
TrainStepCore<T>::TrainStepCore(std::vector<TrainLayer> layers, int64_t batch)
    : layers_(std::move(layers)) {
  for (const TrainLayer& l : layers_) {
    from_y_.push_back(linear_backward_uses_output(l.act));
    max_width_ = std::max({max_width_, l.in, l.out});
    max_out_ = std::max(max_out_, l.out);
  }
  act_.resize(layers_.size());
  pre_.resize(layers_.size());
  if (batch > 0) reserve(batch);
}

template <class T>
void TrainStepCore<T>::reserve(int64_t m) {
  if (m <= cap_) return;
  const int64_t rows = std::max(m, cap_ + cap_ / 2);  // geometric growth
  for (size_t i = 0; i < layers_.size(); ++i) {
    act_[i] = alloc(rows * layers_[i].out);
    if (!from_y_[i]) pre_[i] = alloc(rows * layers_[i].out);
  }
  grad_a_ = alloc(rows * max_width_);
  grad_b_ = alloc(rows * max_width_);
  scratch_ = alloc(rows * max_out_);
  labels_.reset(new int64_t[static_cast<size_t>(std::max<int64_t>(rows, 1))]);
  if (cap_ > 0) ++reallocs_;
  cap_ = rows;
}

template <class T>
double TrainStepCore<T>::run(const T* x, int64_t m, const TrainLossCall<T>& loss,
                             const TrainParams<T>* params, const TrainOptimCall<T>* optim,
                             int64_t n_optim) {
  const auto& k = kernels().get<T>();
  const size_t L = layers_.size();
  // Forward: a_i = act(a_{i-1} W_i^T + b_i), pre-activations kept where the backward needs them.
  const T* in = x;
  for (size_t i = 0; i < L; ++i) {
    const TrainLayer& l = layers_[i];
    linear_forward_raw<T>(in, params[i].w, params[i].b, act_[i].get(),
                          from_y_[i] ? nullptr : pre_[i].get(), m, l.in, l.out, l.act, l.p);
    in = act_[i].get();
  }
  // Loss and its gradient wrt the last output, fused (softmax + NLL gradient in one pass).
  const int64_t c = layers_[L - 1].out;
  T* g = grad_a_.get();
  T* g_other = grad_b_.get();
  double total = 0.0;
  if (loss.kind == TrainLoss::cross_entropy) {
    ClassLossArgs<T> a;
    a.x = act_[L - 1].get();
    a.labels = loss.labels;
    a.grad = g;
    a.grad_scale = loss.grad_scale;
    a.label_smoothing = loss.label_smoothing;
    a.ignore_index = loss.ignore_index;
    a.grad_out = loss.grad_out;
    a.loss_out = loss.loss_out;
    a.n = m;
    a.c = c;
    a.want_sum = loss.grad_out == nullptr && loss.loss_out == nullptr;
    total = k.loss.classwise(a);
  } else {
    PointwiseLossArgs<T> a;
    a.x = act_[L - 1].get();
    a.y = loss.target;
    a.grad = g;
    a.grad_scale = loss.grad_scale;
    a.grad_out = loss.grad_out;
    a.loss_out = loss.loss_out;
    a.n = m * c;
    a.want_sum = loss.grad_out == nullptr && loss.loss_out == nullptr;
    const PointwiseLoss kind =
        loss.kind == TrainLoss::mse ? PointwiseLoss::mse : PointwiseLoss::bce_logits;
    total = k.loss.pointwise[static_cast<int>(kind)](a);
  }
  // Backward, last layer first; no input gradient for the first layer.
  for (size_t j = L; j-- > 0;) {
    const TrainLayer& l = layers_[j];
    const T* xin = j == 0 ? x : act_[j - 1].get();
    const T* v = from_y_[j] ? act_[j].get() : pre_[j].get();
    linear_backward_raw<T>(g, xin, params[j].w, v, from_y_[j], m, l.in, l.out, l.act, l.p,
                           j == 0 ? nullptr : g_other, params[j].gw, params[j].gb, false,
                           scratch_.get());
    std::swap(g, g_other);
  }
  update(optim, n_optim);
  return total;
}

template <class T>
void TrainStepCore<T>::update(const TrainOptimCall<T>* optim, int64_t n_optim) {
  const auto& k = kernels().get<T>();
  // Optimizer, one fused multi-tensor call per parameter group.
  for (int64_t i = 0; i < n_optim; ++i) {
    const TrainOptimCall<T>& o = optim[i];
    if (o.count == 0) continue;
    if (o.kind == 1)
      k.optim.adam(o.ts, o.count, o.h);
    else
      k.optim.sgd(o.ts, o.count, o.h);
  }
}

template class TrainStepCore<float>;
template class TrainStepCore<double>;

}  // namespace fastnn
