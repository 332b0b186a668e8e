// One scikit-learn-style training epoch in one native call (see fastnn/mlp_epoch.h). The loss
// and penalty follow scikit-learn's BaseMultilayerPerceptron exactly: batch loss = mean (or
// sample-weighted mean) output loss + 0.5 * alpha * ||W||^2 / sw_sum, gradient of the weights
// + alpha / sw_sum * W (no penalty on biases); squared error is halved and averaged over outputs
// in the reported loss but its gradient is (z - y) / sw_sum, as scikit-learn's.
#include "fastnn/mlp_epoch.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fastnn {

namespace {

std::vector<TrainLayer> layer_spec(const std::vector<int64_t>& units, Act hidden,
                                   const ActParams& p) {
  std::vector<TrainLayer> spec;
  for (size_t i = 0; i + 1 < units.size(); ++i) {
    TrainLayer l;
    l.in = units[i];
    l.out = units[i + 1];
    const bool last = i + 2 == units.size();
    l.act = last ? Act::identity : hidden;
    l.p = last ? ActParams{} : p;
    spec.push_back(l);
  }
  return spec;
}

}  // namespace

template <class T>
SkEpoch<T>::SkEpoch(const std::vector<int64_t>& units, Act hidden, const ActParams& p, SkOutput out,
                    int64_t batch)
    : units_(units), out_(out), core_(layer_spec(units, hidden, p), std::max<int64_t>(batch, 1)) {
  reserve(std::max<int64_t>(batch, 1));
}

template <class T>
void SkEpoch<T>::reserve(int64_t m) {
  if (m <= cap_) return;
  const size_t rows = static_cast<size_t>(m);
  const size_t k = static_cast<size_t>(units_.back());
  xb_.resize(rows * static_cast<size_t>(units_.front()));
  yb_.resize(rows * k);
  swb_.resize(rows);
  gout_.resize(rows * k);
  lout_.resize(rows * k);
  lb_.resize(rows);
  core_.reserve(m);
  cap_ = m;
}

template <class T>
SkEpochResult<T> SkEpoch<T>::run(const SkEpochArgs<T>& a) {
  reserve(a.batch);
  const auto& kt = kernels().get<T>();
  const int64_t d = units_.front(), k = units_.back();
  const size_t L = units_.size() - 1;

  std::vector<TrainParams<T>> params(L);
  int64_t wpos = 0, bpos = a.n_weights;
  for (size_t i = 0; i < L; ++i) {
    params[i].w = a.flat + wpos;
    params[i].gw = a.grad + wpos;
    params[i].b = a.flat + bpos;
    params[i].gb = a.grad + bpos;
    wpos += units_[i] * units_[i + 1];
    bpos += units_[i + 1];
  }
  OptimTensor<T> ts[2];
  ts[0].param = a.flat;
  ts[0].grad = a.grad;
  ts[0].n = a.n_weights;
  ts[1].param = a.flat + a.n_weights;
  ts[1].grad = a.grad + a.n_weights;
  ts[1].n = a.size - a.n_weights;
  for (int j = 0; j < 2; ++j) {
    const int64_t off = j == 0 ? 0 : a.n_weights;
    if (a.adam) {
      ts[j].s0 = a.exp_avg + off;
      ts[j].s1 = a.exp_avg_sq + off;
    } else if (a.momentum_buffer != nullptr) {
      ts[j].s0 = a.momentum_buffer + off;
    }
  }
  TrainOptimCall<T> calls[2];
  OptimHyper h;
  h.lr = a.lr;
  h.beta1 = a.beta1;
  h.beta2 = a.beta2;
  h.momentum = a.momentum;
  h.nesterov = a.nesterov;
  for (int j = 0; j < 2; ++j) {
    calls[j].kind = a.adam ? 1 : 0;
    calls[j].ts = &ts[j];
    calls[j].count = ts[j].n > 0 ? 1 : 0;
    calls[j].h = h;
  }

  SkEpochResult<T> res;
  res.step = a.step;
  const T* wflat = a.flat;
  for (int64_t start = 0; start < a.n; start += a.batch) {
    const int64_t m = std::min(a.batch, a.n - start);
    const T* xb = a.x + start * d;
    const int64_t* lb = a.labels ? a.labels + start : nullptr;
    const T* yb = a.y ? a.y + start * k : nullptr;
    const T* swb = a.sample_weight ? a.sample_weight + start : nullptr;
    if (a.order != nullptr) {  // gather the batch's rows in the shuffled order
      const int64_t* idx = a.order + start;
      for (int64_t r = 0; r < m; ++r)
        std::memcpy(xb_.data() + r * d, a.x + idx[r] * d, static_cast<size_t>(d) * sizeof(T));
      xb = xb_.data();
      if (lb) {
        for (int64_t r = 0; r < m; ++r) lb_[r] = a.labels[idx[r]];
        lb = lb_.data();
      }
      if (yb) {
        for (int64_t r = 0; r < m; ++r)
          std::memcpy(yb_.data() + r * k, a.y + idx[r] * k, static_cast<size_t>(k) * sizeof(T));
        yb = yb_.data();
      }
      if (swb) {
        for (int64_t r = 0; r < m; ++r) swb_[r] = a.sample_weight[idx[r]];
        swb = swb_.data();
      }
    }
    double sw_sum = static_cast<double>(m);
    if (swb) {
      sw_sum = 0.0;
      for (int64_t r = 0; r < m; ++r) sw_sum += static_cast<double>(swb[r]);
    }
    // The penalty uses the weights before this batch's update.
    double l2 = 0.0;
    if (a.alpha != 0.0 && a.n_weights > 0) {
      const int64_t nw = a.n_weights;
      l2 = kt.optim.norm_reduce(&wflat, &nw, 1, 2.0);
    }

    TrainLossCall<T> loss;
    loss.kind = out_ == SkOutput::softmax    ? TrainLoss::cross_entropy
                : out_ == SkOutput::logistic ? TrainLoss::bce_logits
                                             : TrainLoss::mse;
    loss.labels = lb;
    loss.target = yb;
    const double half = out_ == SkOutput::identity ? 0.5 : 1.0;  // d/dz (z - y)^2 / 2 = z - y
    if (swb) {
      loss.grad_scale = 1.0;
      loss.loss_out = lout_.data();
      if (out_ == SkOutput::softmax) {
        for (int64_t r = 0; r < m; ++r) gout_[r] = static_cast<T>(swb[r] / sw_sum);
      } else {
        for (int64_t r = 0; r < m; ++r) {
          const T g = static_cast<T>(half * swb[r] / sw_sum);
          for (int64_t j = 0; j < k; ++j) gout_[r * k + j] = g;
        }
      }
      loss.grad_out = gout_.data();
    } else {
      loss.grad_scale = half / static_cast<double>(m);
    }
    // The update's hyperparameters are known before the step: run it inside the same native
    // call (one parallel region) unless a hook must see the gradient first.
    calls[0].h.weight_decay = a.alpha / sw_sum;
    calls[1].h.weight_decay = 0.0;
    const int64_t t_next = a.adam ? res.step + 1 : res.step;
    if (a.adam) {
      const double t = static_cast<double>(t_next);
      const double bc1 = 1.0 - std::pow(a.beta1, t);
      const double bc2 = 1.0 - std::pow(a.beta2, t);
      for (int j = 0; j < 2; ++j) {
        ts[j].c0 = -(a.lr / bc1);
        ts[j].c1 = std::pow(bc2, 0.5);
        // scikit-learn adds eps to sqrt(v) before the bias correction; torch's kernel adds it
        // after dividing sqrt(v) by sqrt(bc2), hence eps / sqrt(bc2).
        calls[j].h.eps = a.eps / std::sqrt(bc2);
      }
    }
    const bool hook = a.grad_hook != nullptr;
    double total = core_.run(xb, m, loss, params.data(), hook ? nullptr : calls, hook ? 0 : 2);
    if (swb) {
      total = 0.0;
      const int64_t per_row = out_ == SkOutput::softmax ? 1 : k;
      for (int64_t r = 0; r < m; ++r) {
        double s = 0.0;
        for (int64_t j = 0; j < per_row; ++j) s += static_cast<double>(lout_[r * per_row + j]);
        total += static_cast<double>(swb[r]) * s;
      }
    }
    double batch_loss = total / sw_sum;
    if (out_ == SkOutput::identity) batch_loss *= 0.5 / static_cast<double>(k);
    batch_loss += 0.5 * a.alpha * l2 / sw_sum;
    res.loss_sum += batch_loss * static_cast<double>(m);
    ++res.batches;
    if (hook) {
      if (!a.grad_hook(a.hook_ctx)) break;
      core_.update(calls, 2);
    }
    res.step = t_next;
  }
  return res;
}

template class SkEpoch<float>;
template class SkEpoch<double>;

}  // namespace fastnn
