// The fused training step (cpp/train_step.cpp, compiled once): forward, loss, backward and the
// optimizer update of a stack of dense layers (each with a fused activation) in one native call.
// Raw pointers only; the Python binding (cpp/bindings/train_step.cpp) validates everything and
// owns the arrays. Workspaces are allocated once for a batch size and grown only when a larger
// batch arrives: a step at or below the reserved batch size allocates nothing.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "fastnn/kernel_table.h"
#include "fastnn/team_tuner.h"

namespace fastnn {

struct TrainLayer {
  int64_t in = 0, out = 0;
  bool bias = true;
  Act act = Act::identity;
  ActParams p;
};

// Rows per thread, and flops per step (products only), below which a step runs on one thread.
inline constexpr int64_t kStepMinRows = 16;
inline constexpr double kStepParallelFlops = 8.0e6;
// Two-layer steps from this many flops up to kStepParallelFlops split the hidden features over
// the threads instead (run_features), in blocks of at least kSplitMinFeatures; the output layer
// may have at most kSplitMaxOutputs features (each thread updates its column block of it).
inline constexpr double kStepSplitFlops = 1.0e6;
inline constexpr int64_t kSplitMinFeatures = 16;
inline constexpr int64_t kSplitMaxOutputs = 256;

// How run() executes a step of m rows: layer by layer (products may use the OpenMP pool or BLAS
// threads), rows split over threads in one parallel region, or hidden features split over threads
// in one parallel region.
enum class StepPath : int { layers, rows, features };

enum class TrainLoss : int { cross_entropy, mse, bce_logits };

template <class T>
struct TrainParams {
  const T* w = nullptr;  // (out, in); read by forward/backward (updated by the optimizer)
  const T* b = nullptr;  // (out,) or null
  T* gw = nullptr;       // gradient buffers (written, not accumulated)
  T* gb = nullptr;
};

// One optimizer kernel call (a parameter group): kind 0 = sgd, 1 = adam.
template <class T>
struct TrainOptimCall {
  int kind = 0;
  const OptimTensor<T>* ts = nullptr;
  int64_t count = 0;
  OptimHyper h;
};

template <class T>
struct TrainLossCall {
  TrainLoss kind = TrainLoss::cross_entropy;
  const int64_t* labels = nullptr;  // cross entropy (validated: in [0, c) or ignore_index)
  const T* target = nullptr;        // mse and bce_logits, (m, out)
  // Optional per-sample weighting (reduction "none" in the loss kernels): grad_out scales each
  // row's gradient (cross entropy: (m,)) or each element's (mse, bce_logits: (m, out)); loss_out
  // receives the per-row / per-element losses. With either set, run() returns 0.
  const T* grad_out = nullptr;
  T* loss_out = nullptr;
  double grad_scale = 1.0;
  double label_smoothing = 0.0;
  int64_t ignore_index = -100;
};

template <class T>
class TrainStepCore {
 public:
  explicit TrainStepCore(std::vector<TrainLayer> layers, int64_t batch = 0);
  TrainStepCore(const TrainStepCore&) = delete;
  TrainStepCore& operator=(const TrainStepCore&) = delete;

  // Makes the workspaces hold m rows (no-op when they already do; otherwise grows them, to at
  // least m, and counts one reallocation).
  void reserve(int64_t m);
  int64_t capacity() const { return cap_; }
  int64_t reallocations() const { return reallocs_; }
  // A buffer of m int64 (for int32 labels converted on the way in); valid after reserve(m).
  int64_t* label_buffer() { return labels_.get(); }
  const std::vector<TrainLayer>& layers() const { return layers_; }

  // Forward + loss + backward (gradients written into params[i].gw / gb) on m <= capacity() rows
  // of x (m, layers[0].in); then each optimizer call. Returns the loss sum (before reduction).
  // Call from outside OpenMP regions, GIL released. No allocation.
  double run(const T* x, int64_t m, const TrainLossCall<T>& loss, const TrainParams<T>* params,
             const TrainOptimCall<T>* optim, int64_t n_optim);
  // Only the optimizer calls (run(..., nullptr, 0) then update(...) == run(..., optim, n)).
  void update(const TrainOptimCall<T>* optim, int64_t n_optim);
  // True when run(m rows) takes the one-region path (run_parallel).
  bool parallel_for_rows(int64_t m) const;
  // The path run(m rows) takes (features also needs a loss without per-sample outputs and
  // optimizer calls that hold only the two layers' parameters; otherwise rows or layers).
  StepPath path(int64_t m) const;
  // The one-region paths' choice between their team and one thread (TeamTuner::force; tests).
  void force_team(int mode) {
    tuner_.force(mode);
    rows_tuner_.force(mode);
  }

 private:
  struct Free {
    void operator()(T* p) const;
  };
  using Buf = std::unique_ptr<T[], Free>;
  static Buf alloc(int64_t n);
  double loss_rows(const TrainLossCall<T>& loss, const T* out, int64_t r0, int64_t r1, T* g) const;
  bool split_features(int64_t m) const;
  bool plan_features(int nt, int64_t per, const TrainParams<T>* params,
                     const TrainOptimCall<T>* optim, int64_t n_optim);
  double run_features(const T* x, int64_t m, const TrainLossCall<T>& loss,
                      const TrainParams<T>* params, const TrainOptimCall<T>* optim, int64_t n_optim,
                      int nt, int64_t per, int team);
  // team: threads that run the fixed partition (0: as many as parts).
  double run_parallel(const T* x, int64_t m, const TrainLossCall<T>& loss,
                      const TrainParams<T>* params, const TrainOptimCall<T>* optim, int64_t n_optim,
                      int team);
  double step_flops(int64_t m) const;  // products of forward and backward

  std::vector<TrainLayer> layers_;
  std::vector<bool> from_y_;  // backward from the layer's output (no pre-activation stored)
  int64_t cap_ = 0, reallocs_ = 0, max_width_ = 0, max_out_ = 0;
  std::vector<Buf> act_, pre_;  // per layer: outputs (m, out), pre-activations (or empty)
  Buf grad_a_, grad_b_, scratch_, scratch2_;
  std::vector<OptimTensor<T>> slices_;  // per-thread parts of the optimizer calls (run_parallel)
  std::unique_ptr<int64_t[]> labels_;
  // run_features: one workspace per feature block (sized for split_rows_ rows, split_per_
  // features), and the optimizer slices of each (block, call) at split_off_[b * n_optim + i]
  // (count split_cnt_[...]); block == nblocks holds what runs after the region (output bias).
  std::vector<Buf> split_ws_;
  int64_t split_rows_ = 0, split_per_ = 0;
  std::vector<OptimTensor<T>> split_slices_;
  std::vector<int64_t> split_off_, split_cnt_;
  TeamTuner tuner_, rows_tuner_;  // run_features, run_parallel
};

}  // namespace fastnn
