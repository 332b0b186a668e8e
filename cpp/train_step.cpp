// The fused training step (see fastnn/train_step.h). Compiled once; the elementwise work runs in
// the per-ISA kernels through kernels(), the products through linear_forward_raw /
// linear_backward_raw (BLAS or fastnn's small-GEMM kernel).
#include "fastnn/train_step.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <type_traits>

#include "fastnn/blas.h"
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
  scratch2_ = alloc(rows * max_out_);
  labels_.reset(new int64_t[static_cast<size_t>(std::max<int64_t>(rows, 1))]);
  if (cap_ > 0) ++reallocs_;
  cap_ = rows;
}

template <class T>
double TrainStepCore<T>::loss_rows(const TrainLossCall<T>& loss, const T* out, int64_t r0,
                                   int64_t r1, T* g) const {
  const auto& k = kernels().get<T>();
  const size_t L = layers_.size();
  const int64_t c = layers_[L - 1].out;
  const bool sum = loss.grad_out == nullptr && loss.loss_out == nullptr;
  if (loss.kind == TrainLoss::cross_entropy) {
    ClassLossArgs<T> a;
    a.x = out + r0 * c;
    a.labels = loss.labels + r0;
    a.grad = g + r0 * c;
    a.grad_scale = loss.grad_scale;
    a.label_smoothing = loss.label_smoothing;
    a.ignore_index = loss.ignore_index;
    a.grad_out = loss.grad_out ? loss.grad_out + r0 : nullptr;
    a.loss_out = loss.loss_out ? loss.loss_out + r0 : nullptr;
    a.n = r1 - r0;
    a.c = c;
    a.want_sum = sum;
    return k.loss.classwise(a);
  }
  PointwiseLossArgs<T> a;
  a.x = out + r0 * c;
  a.y = loss.target + r0 * c;
  a.grad = g + r0 * c;
  a.grad_scale = loss.grad_scale;
  a.grad_out = loss.grad_out ? loss.grad_out + r0 * c : nullptr;
  a.loss_out = loss.loss_out ? loss.loss_out + r0 * c : nullptr;
  a.n = (r1 - r0) * c;
  a.want_sum = sum;
  const PointwiseLoss kind =
      loss.kind == TrainLoss::mse ? PointwiseLoss::mse : PointwiseLoss::bce_logits;
  return k.loss.pointwise[static_cast<int>(kind)](a);
}

template <class T>
bool TrainStepCore<T>::parallel_for_rows(int64_t m) const {
  if (num_threads() < 2 || m < 2 * kStepMinRows) return false;
  // Products OpenBLAS would thread itself keep the layer-by-layer path (measured at 1.06x the
  // GEMM time for 256 x 1024 -> 1024 -> 1024); below that, one region for the whole step.
  const double single =
      std::is_same_v<T, float> ? blas::kSingleThreadFlopsF32 : blas::kSingleThreadFlopsF64;
  double total = 0.0;
  for (const TrainLayer& l : layers_) {
    const double f = 2.0 * double(m) * double(l.in) * double(l.out);
    if (f >= single) return false;
    total += 3.0 * f;  // forward, weight gradient, input gradient
  }
  // Below this the 3 + L barriers cost more than the split saves once the other core is busy
  // (measured: batch 32, 64 -> 256 -> 10 went from 60 to 400 ms per demo fit under load).
  return total >= kStepParallelFlops;
}

template <class T>
bool TrainStepCore<T>::split_features(int64_t m) const {
  if (layers_.size() != 2 || num_threads() < 2 || m < 1) return false;
  const TrainLayer& a = layers_[0];
  const TrainLayer& b = layers_[1];
  if (a.out < 2 * kSplitMinFeatures || b.out > kSplitMaxOutputs) return false;
  const double single =
      std::is_same_v<T, float> ? blas::kSingleThreadFlopsF32 : blas::kSingleThreadFlopsF64;
  const double f0 = 2.0 * double(m) * double(a.in) * double(a.out);
  const double f1 = 2.0 * double(m) * double(a.out) * double(b.out);
  if (f0 >= single || f1 >= single) return false;
  const double total = 3.0 * (f0 + f1);
  return total >= kStepSplitFlops && total < kStepParallelFlops;
}

template <class T>
StepPath TrainStepCore<T>::path(int64_t m) const {
  if (split_features(m)) return StepPath::features;
  return parallel_for_rows(m) ? StepPath::rows : StepPath::layers;
}

namespace {
constexpr int kMaxSplitThreads = 64;
int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }
double elapsed_ns(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

template <class T>
double TrainStepCore<T>::step_flops(int64_t m) const {
  double f = 0.0;
  for (const TrainLayer& l : layers_) f += 6.0 * double(m) * double(l.in) * double(l.out);
  return f;
}

// Each feature block's share of the optimizer calls: its rows of the hidden weight and bias and
// its column block of the output weight (row segments). The output bias is read by every thread's
// epilogue, so it is updated after the region. False when a call holds anything else.
template <class T>
bool TrainStepCore<T>::plan_features(int nt, int64_t per, const TrainParams<T>* params,
                                     const TrainOptimCall<T>* optim, int64_t n_optim) {
  const int64_t k0 = layers_[0].in, h = layers_[0].out, c = layers_[1].out;
  split_slices_.clear();
  split_off_.assign(static_cast<size_t>((nt + 1) * n_optim), 0);
  split_cnt_.assign(static_cast<size_t>((nt + 1) * n_optim), 0);
  const auto add = [&](const OptimTensor<T>& src, int64_t off, int64_t n) {
    OptimTensor<T> d = src;
    d.param = src.param + off;
    d.grad = src.grad + off;
    if (src.s0) d.s0 = src.s0 + off;
    if (src.s1) d.s1 = src.s1 + off;
    if (src.s2) d.s2 = src.s2 + off;
    d.n = n;
    split_slices_.push_back(d);
  };
  for (int b = 0; b <= nt; ++b) {
    const int64_t a0 = std::min(h, b * per), w = std::min(h, a0 + per) - a0;
    for (int64_t i = 0; i < n_optim; ++i) {
      const size_t at = static_cast<size_t>(b * n_optim + i);
      split_off_[at] = static_cast<int64_t>(split_slices_.size());
      for (int64_t t = 0; t < optim[i].count; ++t) {
        // A tensor holds one parameter array or several back to back (scikit-learn's flat
        // weights and biases); each gradient must sit where the step writes it.
        const OptimTensor<T>& s = optim[i].ts[t];
        for (int64_t pos = 0; pos < s.n;) {
          const T* p = s.param + pos;
          const T* g = s.grad + pos;
          if (p == params[0].w && g == params[0].gw && pos + h * k0 <= s.n) {
            if (b < nt && w > 0) add(s, pos + a0 * k0, w * k0);
            pos += h * k0;
          } else if (params[0].b && p == params[0].b && g == params[0].gb && pos + h <= s.n) {
            if (b < nt && w > 0) add(s, pos + a0, w);
            pos += h;
          } else if (p == params[1].w && g == params[1].gw && pos + c * h <= s.n) {
            if (b < nt && w > 0)
              for (int64_t r = 0; r < c; ++r) add(s, pos + r * h + a0, w);
            pos += c * h;
          } else if (params[1].b && p == params[1].b && g == params[1].gb && pos + c <= s.n) {
            if (b == nt) add(s, pos, c);
            pos += c;
          } else {
            return false;
          }
        }
      }
      split_cnt_[at] = static_cast<int64_t>(split_slices_.size()) - split_off_[at];
    }
  }
  return true;
}

template <class T>
double TrainStepCore<T>::run(const T* x, int64_t m, const TrainLossCall<T>& loss,
                             const TrainParams<T>* params, const TrainOptimCall<T>* optim,
                             int64_t n_optim) {
  if (split_features(m) && loss.grad_out == nullptr && loss.loss_out == nullptr) {
    const int64_t h = layers_[0].out;
    const int nt = static_cast<int>(std::min<int64_t>(
        {num_threads(), (h + kSplitMinFeatures - 1) / kSplitMinFeatures, kMaxSplitThreads}));
    const int64_t per = round16((h + nt - 1) / nt);
    if (plan_features(nt, per, params, optim, n_optim)) {
      const bool team = tuner_.use_team();
      const auto t0 = std::chrono::steady_clock::now();
      const double total = run_features(x, m, loss, params, optim, n_optim, nt, per, team ? nt : 1);
      tuner_.record(team, elapsed_ns(t0), step_flops(m));
      return total;
    }
  }
  if (parallel_for_rows(m)) {
    const bool team = rows_tuner_.use_team();
    const auto t0 = std::chrono::steady_clock::now();
    const double total = run_parallel(x, m, loss, params, optim, n_optim, team ? 0 : 1);
    rows_tuner_.record(team, elapsed_ns(t0), step_flops(m));
    return total;
  }
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
  T* g = grad_a_.get();
  T* g_other = grad_b_.get();
  const double total = loss_rows(loss, act_[L - 1].get(), 0, m, g);
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

// A two-layer step in one OpenMP region with the hidden features split over the threads (the
// first layer by output features, the second by input features): each thread keeps its block of
// both weight matrices, their gradients and optimizer state in its own cache, and the only
// exchange is one barrier after the second layer's partial products (m x c each), which every
// thread sums in the same order and then runs the loss on all rows itself. Threads beyond the
// team OpenMP grants take the blocks round-robin.
template <class T>
double TrainStepCore<T>::run_features(const T* x, int64_t m, const TrainLossCall<T>& loss,
                                      const TrainParams<T>* params, const TrainOptimCall<T>* optim,
                                      int64_t n_optim, int nt, int64_t per, int team) {
  const auto& k = kernels().get<T>();
  const TrainLayer& l0 = layers_[0];
  const TrainLayer& l1 = layers_[1];
  const int64_t k0 = l0.in, h = l0.out, c = l1.out;
  // Workspaces: per block 4 (m, per) and 5 (m, c) buffers, sized for the capacity.
  const int64_t rows = std::max(cap_, m);
  const int64_t max_per = round16((h + 1) / 2);  // the widest block of any team of >= 2
  if (static_cast<int>(split_ws_.size()) < nt || split_rows_ < rows || split_per_ < max_per) {
    split_ws_.clear();
    for (int b = 0; b < std::max(nt, 2); ++b)
      split_ws_.push_back(alloc(4 * round16(rows * max_per) + 5 * round16(rows * c)));
    split_rows_ = rows;
    split_per_ = max_per;
  }
  const int64_t bs = round16(rows * max_per), cs = round16(rows * c);
  const auto h1 = [&](int b) { return split_ws_[b].get(); };  // (m, w) block outputs
  const auto pre1 = [&](int b) { return split_ws_[b].get() + bs; };
  const auto gh = [&](int b) { return split_ws_[b].get() + 2 * bs; };
  const auto gz1 = [&](int b) { return split_ws_[b].get() + 3 * bs; };
  const auto part = [&](int b) { return split_ws_[b].get() + 4 * bs; };  // (m, c)
  const auto out2 = [&](int b) { return split_ws_[b].get() + 4 * bs + cs; };
  const auto pre2 = [&](int b) { return split_ws_[b].get() + 4 * bs + 2 * cs; };
  const auto g2 = [&](int b) { return split_ws_[b].get() + 4 * bs + 3 * cs; };
  const auto gz2 = [&](int b) { return split_ws_[b].get() + 4 * bs + 4 * cs; };
  const auto block = [&](int b, int64_t& a0, int64_t& w) {
    a0 = std::min(h, b * per);
    w = std::min(h, a0 + per) - a0;
  };
  // The optimizer calls' slices of block b (b == nt: what runs after the region).
  const auto update_block = [&](int b) {
    for (int64_t i = 0; i < n_optim; ++i) {
      const size_t at = static_cast<size_t>(b * n_optim + i);
      if (split_cnt_[at] == 0) continue;
      const OptimTensor<T>* ts = split_slices_.data() + split_off_[at];
      if (optim[i].kind == 1)
        k.optim.adam(ts, split_cnt_[at], optim[i].h);
      else
        k.optim.sgd(ts, split_cnt_[at], optim[i].h);
    }
  };
  const bool epi2 = params[1].b != nullptr || l1.act != Act::identity || !from_y_[1];
  double partial[kMaxSplitThreads] = {};
  blas::set_threads(1);
  note_pool_started();
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num(), tn = omp_get_num_threads();
    for (int b = tid; b < nt; b += tn) {
      int64_t a0, w;
      block(b, a0, w);
      if (w <= 0) continue;
      linear_forward_raw<T>(x, params[0].w + a0 * k0, params[0].b ? params[0].b + a0 : nullptr,
                            h1(b), from_y_[0] ? nullptr : pre1(b), m, k0, w, l0.act, l0.p);
      matmul_raw<T>(false, true, m, c, w, h1(b), w, params[1].w + a0, h, part(b), c, false);
    }
#pragma omp barrier
    // Row task q of nt, [q * rper, ...): z2 = the partial products summed in block order, the
    // epilogue, the loss and its gradient, into block 0's (shared) buffers.
    const int64_t rper = (m + nt - 1) / nt;
    T* const o2 = out2(0);
    T* const p2 = from_y_[1] ? o2 : pre2(0);
    for (int q = tid; q < nt; q += tn) {
      const int64_t r0 = std::min<int64_t>(m, q * rper), r1 = std::min<int64_t>(m, r0 + rper);
      if (r0 >= r1) continue;
      bool first = true;
      for (int b = 0; b < nt; ++b) {
        int64_t a0, w;
        block(b, a0, w);
        if (w <= 0) continue;
        const T* pb = part(b);
        if (first) {
          for (int64_t i = r0 * c; i < r1 * c; ++i) p2[i] = pb[i];
        } else {
          for (int64_t i = r0 * c; i < r1 * c; ++i) p2[i] += pb[i];
        }
        first = false;
      }
      if (epi2)
        k.linear.epilogue[static_cast<int>(l1.act)](p2 + r0 * c, params[1].b,
                                                    from_y_[1] ? nullptr : p2 + r0 * c, o2 + r0 * c,
                                                    r1 - r0, c, l1.p);
      partial[q] = loss_rows(loss, o2, r0, r1, g2(0));
      if (l1.act != Act::identity)
        k.linear.backward_prep[static_cast<int>(l1.act)](
            g2(0) + r0 * c, (from_y_[1] ? o2 : p2) + r0 * c, from_y_[1], gz2(0) + r0 * c, nullptr,
            false, r1 - r0, c, l1.p);
    }
#pragma omp barrier
    const T* gz = l1.act != Act::identity ? gz2(0) : g2(0);
    if (tid == 0 && params[1].gb != nullptr)  // column sums over all rows, in row order
      k.linear.backward_prep[static_cast<int>(Act::identity)](gz, nullptr, false, nullptr,
                                                              params[1].gb, false, m, c, l1.p);
    for (int b = tid; b < nt; b += tn) {
      int64_t a0, w;
      block(b, a0, w);
      if (w <= 0) continue;
      // Output layer, columns [a0, a0 + w): weight gradient, then the hidden block's gradient.
      matmul_raw<T>(true, false, c, w, m, gz, c, h1(b), w, params[1].gw + a0, h, false);
      matmul_raw<T>(false, false, m, w, c, gz, c, params[1].w + a0, h, gh(b), w, false);
      linear_backward_raw<T>(gh(b), x, params[0].w + a0 * k0, from_y_[0] ? h1(b) : pre1(b),
                             from_y_[0], m, k0, w, l0.act, l0.p, nullptr, params[0].gw + a0 * k0,
                             params[0].gb ? params[0].gb + a0 : nullptr, false, gz1(b));
      update_block(b);
    }
  }
  update_block(nt);
  double total = 0.0;
  for (int t = 0; t < nt; ++t) total += partial[t];
  return total;
}

// The whole step in one OpenMP region: small and mid-size steps are too short for a fork/join per
// kernel (with GOMP_SPINCOUNT's short spin an idle worker is asleep again by the next region).
// Each thread owns a slab of rows for everything row-local (forward, loss, activation backward,
// input gradients); the weight and bias gradients, which sum over all rows, are split by output
// features after a barrier; the optimizer by elements. Bias sums run over rows in order in
// double, the same arithmetic as the one-thread path.
template <class T>
double TrainStepCore<T>::run_parallel(const T* x, int64_t m, const TrainLossCall<T>& loss,
                                      const TrainParams<T>* params, const TrainOptimCall<T>* optim,
                                      int64_t n_optim, int team) {
  const auto& k = kernels().get<T>();
  const int64_t L = static_cast<int64_t>(layers_.size());
  constexpr int kMaxThreads = 64;
  // nt parts (a fixed partition: the same results whether the team or one thread runs them).
  const int nt =
      static_cast<int>(std::min<int64_t>({num_threads(), m / kStepMinRows, kMaxThreads}));
  if (team <= 0) team = nt;
  int64_t n_tensors = 0;
  for (int64_t i = 0; i < n_optim; ++i) n_tensors += optim[i].count;
  if (static_cast<int64_t>(slices_.size()) < nt * n_tensors)
    slices_.resize(static_cast<size_t>(nt * n_tensors));
  double partial[kMaxThreads] = {};
  blas::set_threads(1);
  note_pool_started();
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num(), tn = omp_get_num_threads();
    // Part q of nt: rows, output features or elements [lo, hi). Part q always runs on thread
    // q % tn, so a part's row-local chain stays on one thread between barriers.
    const auto slab = [&](int64_t q, int64_t n, int64_t align, int64_t& lo, int64_t& hi) {
      const int64_t per = ((n + nt - 1) / nt + align - 1) / align * align;
      lo = std::min(n, q * per);
      hi = std::min(n, lo + per);
    };
    for (int q = tid; q < nt; q += tn) {
      int64_t r0, r1;
      slab(q, m, 1, r0, r1);
      if (r0 >= r1) continue;
      const T* in = x;
      for (int64_t i = 0; i < L; ++i) {
        const TrainLayer& l = layers_[i];
        linear_forward_raw<T>(in + r0 * l.in, params[i].w, params[i].b, act_[i].get() + r0 * l.out,
                              from_y_[i] ? nullptr : pre_[i].get() + r0 * l.out, r1 - r0, l.in,
                              l.out, l.act, l.p);
        in = act_[i].get();
      }
      partial[q] = loss_rows(loss, act_[L - 1].get(), r0, r1, grad_a_.get());
    }
    T* g = grad_a_.get();
    T* g_other = grad_b_.get();
    for (int64_t j = L - 1; j >= 0; --j) {
      const TrainLayer& l = layers_[j];
      const T* xin = j == 0 ? x : act_[j - 1].get();
      const T* gj = g;  // d loss / d (pre-activation of layer j)
      if (l.act != Act::identity) {
        T* s = (j % 2 == 0 ? scratch_ : scratch2_).get();  // alternate: see the barrier below
        const T* v = from_y_[j] ? act_[j].get() : pre_[j].get();
        for (int q = tid; q < nt; q += tn) {
          int64_t r0, r1;
          slab(q, m, 1, r0, r1);
          if (r0 < r1)
            k.linear.backward_prep[static_cast<int>(l.act)](g + r0 * l.out, v + r0 * l.out,
                                                            from_y_[j], s + r0 * l.out, nullptr,
                                                            false, r1 - r0, l.out, l.p);
        }
        gj = s;
      }
      // Every row of gj is ready; and every thread is done with layer j + 1's products, so the
      // buffers they read (g_other, the other scratch) may be overwritten from here on.
#pragma omp barrier
      for (int q = tid; q < nt; q += tn) {
        int64_t o0, o1;
        slab(q, l.out, 16, o0, o1);
        if (o0 < o1) {
          matmul_raw<T>(true, false, o1 - o0, l.in, m, gj + o0, l.out, xin, l.in,
                        params[j].gw + o0 * l.in, l.in, false);
          if (params[j].gb != nullptr) {
            double acc[64];
            for (int64_t c0 = o0; c0 < o1; c0 += 64) {
              const int64_t w = std::min<int64_t>(64, o1 - c0);
              for (int64_t c = 0; c < w; ++c) acc[c] = 0.0;
              for (int64_t r = 0; r < m; ++r) {
                const T* gr = gj + r * l.out + c0;
                for (int64_t c = 0; c < w; ++c) acc[c] += static_cast<double>(gr[c]);
              }
              for (int64_t c = 0; c < w; ++c) params[j].gb[c0 + c] = static_cast<T>(acc[c]);
            }
          }
        }
        int64_t r0, r1;
        slab(q, m, 1, r0, r1);
        if (j > 0 && r0 < r1)
          matmul_raw<T>(false, false, r1 - r0, l.in, l.out, gj + r0 * l.out, l.out, params[j].w,
                        l.in, g_other + r0 * l.in, l.in, false);
      }
      std::swap(g, g_other);
    }
    if (n_optim > 0) {
#pragma omp barrier
      for (int q = tid; q < nt; q += tn) {
        OptimTensor<T>* mine = slices_.data() + q * n_tensors;
        for (int64_t i = 0; i < n_optim; ++i) {
          const TrainOptimCall<T>& o = optim[i];
          int64_t total = 0;
          for (int64_t t = 0; t < o.count; ++t) total += o.ts[t].n;
          int64_t lo, hi;
          slab(q, total, 16, lo, hi);  // 16 elements: no two threads share a cache line
          int64_t cnt = 0, base = 0;
          for (int64_t t = 0; t < o.count && base < hi; ++t) {
            const OptimTensor<T>& src = o.ts[t];
            const int64_t b = std::max(lo, base), e = std::min(hi, base + src.n);
            if (b < e) {
              OptimTensor<T> d = src;
              const int64_t off = b - base;
              d.param = src.param + off;
              d.grad = src.grad + off;
              if (src.s0) d.s0 = src.s0 + off;
              if (src.s1) d.s1 = src.s1 + off;
              if (src.s2) d.s2 = src.s2 + off;
              d.n = e - b;
              mine[cnt++] = d;
            }
            base += src.n;
          }
          if (cnt > 0) {
            if (o.kind == 1)
              k.optim.adam(mine, cnt, o.h);
            else
              k.optim.sgd(mine, cnt, o.h);
          }
        }
      }
    }
  }
  double total = 0.0;
  for (int t = 0; t < nt; ++t) total += partial[t];
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
