// One epoch of scikit-learn-style MLP training (fastnn.sklearn's 'sgd' and 'adam' solvers) in a
// single native call: for each mini-batch, gather the rows (in the shuffled order), forward, the
// output loss with scikit-learn's definition (and sample weights), backward, the L2 penalty as
// weight decay on the weights only, and the update. Removes every per-batch Python call.
// Raw pointers only; cpp/bindings/mlp_epoch.cpp validates. Compiled once (cpp/mlp_epoch.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "fastnn/train_step.h"

namespace fastnn {

// Output layer and loss, as scikit-learn's out_activation_: softmax + log loss (labels),
// logistic + binary log loss (0/1 targets), identity + squared error / 2.
enum class SkOutput : int { softmax, logistic, identity };

template <class T>
struct SkEpochArgs {
  const T* x = nullptr;              // (n, d)
  const int64_t* labels = nullptr;   // softmax: (n,) in [0, k)
  const T* y = nullptr;              // logistic / identity: (n, k)
  const T* sample_weight = nullptr;  // (n,) or null
  const int64_t* order = nullptr;    // row order (n,) or null (in order, no gathering)
  int64_t n = 0, batch = 1;
  // Parameters: all weights (layer i as (out, in), row-major) then all biases, in one buffer;
  // grad has the same layout. State of the optimizer over the same layout.
  T* flat = nullptr;
  T* grad = nullptr;
  int64_t n_weights = 0, size = 0;
  bool adam = true;
  T* exp_avg = nullptr;
  T* exp_avg_sq = nullptr;
  T* momentum_buffer = nullptr;  // sgd with momentum (torch's form), else null
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum = 0.0, alpha = 0.0;
  bool nesterov = false;
  int64_t step = 0;  // adam steps taken before this epoch; advanced by one per batch
  // Called between backward and update with grad holding the batch gradient (e.g. an MPI
  // allreduce); returning false stops the epoch before this batch's update.
  bool (*grad_hook)(void* ctx) = nullptr;
  void* hook_ctx = nullptr;
};

template <class T>
struct SkEpochResult {
  double loss_sum = 0.0;  // sum over batches of (batch loss * batch rows), as scikit-learn
  int64_t step = 0;
  int64_t batches = 0;  // batches run (the last one not updated if the hook returned false)
};

template <class T>
class SkEpoch {
 public:
  SkEpoch(const std::vector<int64_t>& units, Act hidden, const ActParams& p, SkOutput out,
          int64_t batch);
  // Call from outside OpenMP regions (GIL released by the caller). Allocates nothing when
  // a.batch <= the batch given at construction.
  SkEpochResult<T> run(const SkEpochArgs<T>& a);

 private:
  void reserve(int64_t m);
  std::vector<int64_t> units_;
  SkOutput out_;
  TrainStepCore<T> core_;
  int64_t cap_ = 0;
  std::vector<T> xb_, yb_, swb_, gout_, lout_;
  std::vector<int64_t> lb_;
};

}  // namespace fastnn
