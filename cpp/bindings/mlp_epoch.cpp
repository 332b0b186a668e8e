// _C.SkEpoch: one scikit-learn-style training epoch per call (fastnn/mlp_epoch.h), used by
// fastnn.sklearn's stochastic solvers. Private API: the estimator validates X/y the sklearn way;
// this layer still checks every buffer (dtype, layout, sizes, label and index ranges) before
// anything is written, so a bad call is a ValueError/TypeError, never a crash.
#include "fastnn/mlp_epoch.h"

#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "act_names.h"
#include "arrays.h"

namespace fastnn::bind {
namespace {

// The activation and its default parameters (scikit-learn names the activation only).
Act act_named(const std::string& name, ActParams* p) {
  const ActInfo* a = find_act(name);
  if (a == nullptr) throw py::value_error("SkEpoch: unknown activation '" + name + "'");
  *p = ActParams{a->d[0], a->d[1]};
  return a->act;
}

constexpr int kWriteable = py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
constexpr int kCContig = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
constexpr int kAligned = py::detail::npy_api::NPY_ARRAY_ALIGNED_;

bool same_dtype(const py::dtype& a, const py::dtype& b) {
  return a.kind() == b.kind() && a.itemsize() == b.itemsize() && a.byteorder() != '>';
}

// An ndarray of exactly dtype Want, C-contiguous, of `size` elements (and `ndim` dims when >= 0).
template <class Want>
Want* buffer(py::handle obj, const char* name, int64_t size, bool writeable, int ndim = -1) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be an ndarray");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!same_dtype(a.dtype(), py::dtype::of<Want>()))
    throw py::type_error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                         ", expected " + std::string(py::str(py::dtype::of<Want>())));
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  if ((flags & (kCContig | kAligned)) != (kCContig | kAligned))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  if (writeable && !(flags & kWriteable))
    throw py::value_error(std::string(name) + " is read-only");
  if (a.size() != size || (ndim >= 0 && a.ndim() != ndim))
    throw py::value_error(std::string(name) + " has " + std::to_string(a.size()) +
                          " elements, expected " + std::to_string(size));
  return static_cast<Want*>(const_cast<void*>(a.data()));
}

struct Hook {
  py::object fn;
  std::unique_ptr<py::error_already_set> saved;
  static bool call(void* ctx) {
    auto* h = static_cast<Hook*>(ctx);
    py::gil_scoped_acquire gil;
    try {
      h->fn();
      return true;
    } catch (py::error_already_set& e) {
      h->saved = std::make_unique<py::error_already_set>(std::move(e));
      return false;
    }
  }
};

class SkEpochBinding {
 public:
  SkEpochBinding(std::vector<int64_t> units, const std::string& hidden, const std::string& output,
                 py::object dtype, int64_t batch)
      : units_(std::move(units)) {
    if (units_.size() < 2) throw py::value_error("SkEpoch: need at least two layer sizes");
    for (int64_t u : units_)
      if (u <= 0) throw py::value_error("SkEpoch: layer sizes must be positive");
    if (output == "softmax")
      out_ = SkOutput::softmax;
    else if (output == "logistic")
      out_ = SkOutput::logistic;
    else if (output == "identity")
      out_ = SkOutput::identity;
    else
      throw py::value_error("SkEpoch: output must be softmax, logistic or identity");
    const py::dtype dt = py::dtype::from_args(dtype);
    if (same_dtype(dt, py::dtype::of<float>()))
      f32_ = true;
    else if (!same_dtype(dt, py::dtype::of<double>()))
      throw py::type_error("SkEpoch: dtype must be float32 or float64");
    batch = std::max<int64_t>(batch, 1);
    ActParams p;
    const Act act = act_named(hidden, &p);
    if (f32_)
      c32_ = std::make_unique<SkEpoch<float>>(units_, act, p, out_, batch);
    else
      c64_ = std::make_unique<SkEpoch<double>>(units_, act, p, out_, batch);
    for (size_t i = 0; i + 1 < units_.size(); ++i) {
      n_weights_ += units_[i] * units_[i + 1];
      size_ += units_[i + 1];
    }
    size_ += n_weights_;
  }

  py::tuple run(py::handle flat, py::handle grad, py::handle x, py::handle y,
                py::handle sample_weight, py::handle order, int64_t batch_size,
                const std::string& solver, double lr, double alpha, double beta1, double beta2,
                double eps, double momentum, bool nesterov, py::handle exp_avg,
                py::handle exp_avg_sq, py::handle momentum_buffer, int64_t step,
                py::object grad_hook) {
    if (f32_)
      return run_t<float>(*c32_, flat, grad, x, y, sample_weight, order, batch_size, solver, lr,
                          alpha, beta1, beta2, eps, momentum, nesterov, exp_avg, exp_avg_sq,
                          momentum_buffer, step, grad_hook);
    return run_t<double>(*c64_, flat, grad, x, y, sample_weight, order, batch_size, solver, lr,
                         alpha, beta1, beta2, eps, momentum, nesterov, exp_avg, exp_avg_sq,
                         momentum_buffer, step, grad_hook);
  }

 private:
  template <class T>
  py::tuple run_t(SkEpoch<T>& core, py::handle flat, py::handle grad, py::handle x, py::handle y,
                  py::handle sample_weight, py::handle order, int64_t batch_size,
                  const std::string& solver, double lr, double alpha, double beta1, double beta2,
                  double eps, double momentum, bool nesterov, py::handle exp_avg,
                  py::handle exp_avg_sq, py::handle momentum_buffer, int64_t step,
                  py::object grad_hook) {
    SkEpochArgs<T> a;
    if (solver == "adam")
      a.adam = true;
    else if (solver == "sgd")
      a.adam = false;
    else
      throw py::value_error("solver must be 'sgd' or 'adam'");
    if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
    if (!(lr >= 0.0)) throw py::value_error("lr must be >= 0");
    if (!(alpha >= 0.0)) throw py::value_error("alpha must be >= 0");
    const int64_t d = units_.front(), k = units_.back();
    if (!py::isinstance<py::array>(x)) throw py::type_error("X must be an ndarray");
    const int64_t n = py::reinterpret_borrow<py::array>(x).ndim() == 2
                          ? py::reinterpret_borrow<py::array>(x).shape(0)
                          : -1;
    if (n < 0) throw py::value_error("X must be 2-D");
    a.n = n;
    a.batch = batch_size;
    a.x = buffer<T>(x, "X", n * d, false, 2);
    a.flat = buffer<T>(flat, "flat", size_, true, 1);
    a.grad = buffer<T>(grad, "grad", size_, true, 1);
    if (a.flat == a.grad) throw py::value_error("grad must not be flat");
    if (out_ == SkOutput::softmax) {
      a.labels = buffer<int64_t>(y, "y", n, false, 1);
      for (int64_t i = 0; i < n; ++i)
        if (a.labels[i] < 0 || a.labels[i] >= k)
          throw py::value_error("y holds the label " + std::to_string(a.labels[i]) +
                                ", outside [0, " + std::to_string(k) + ")");
    } else {
      a.y = buffer<T>(y, "y", n * k, false, 2);
    }
    if (!sample_weight.is_none())
      a.sample_weight = buffer<T>(sample_weight, "sample_weight", n, false, 1);
    if (!order.is_none()) {
      a.order = buffer<int64_t>(order, "order", n, false, 1);
      for (int64_t i = 0; i < n; ++i)
        if (a.order[i] < 0 || a.order[i] >= n)
          throw py::value_error("order holds the index " + std::to_string(a.order[i]) +
                                ", outside [0, " + std::to_string(n) + ")");
    }
    a.n_weights = n_weights_;
    a.size = size_;
    if (a.adam) {
      if (!(beta1 >= 0.0 && beta1 < 1.0)) throw py::value_error("beta1 must be in [0, 1)");
      if (!(beta2 >= 0.0 && beta2 < 1.0)) throw py::value_error("beta2 must be in [0, 1)");
      if (!(eps >= 0.0)) throw py::value_error("eps must be >= 0");
      if (step < 0) throw py::value_error("step must be >= 0");
      a.exp_avg = buffer<T>(exp_avg, "exp_avg", size_, true, 1);
      a.exp_avg_sq = buffer<T>(exp_avg_sq, "exp_avg_sq", size_, true, 1);
      if (a.exp_avg == a.exp_avg_sq || a.exp_avg == a.flat || a.exp_avg_sq == a.flat)
        throw py::value_error("exp_avg, exp_avg_sq and flat must be distinct buffers");
    } else if (momentum != 0.0) {
      if (!(momentum > 0.0)) throw py::value_error("momentum must be >= 0");
      a.momentum_buffer = buffer<T>(momentum_buffer, "momentum_buffer", size_, true, 1);
      if (a.momentum_buffer == a.flat) throw py::value_error("momentum_buffer must not be flat");
    }
    a.lr = lr;
    a.alpha = alpha;
    a.beta1 = beta1;
    a.beta2 = beta2;
    a.eps = eps;
    a.momentum = momentum;
    a.nesterov = nesterov;
    a.step = step;
    Hook hook;
    if (!grad_hook.is_none()) {
      hook.fn = grad_hook;
      a.grad_hook = &Hook::call;
      a.hook_ctx = &hook;
    }
    SkEpochResult<T> r;
    {
      py::gil_scoped_release release;
      r = core.run(a);
    }
    if (hook.saved) throw std::move(*hook.saved);
    return py::make_tuple(r.loss_sum, r.step, r.batches);
  }

  std::vector<int64_t> units_;
  SkOutput out_ = SkOutput::softmax;
  bool f32_ = false;
  int64_t n_weights_ = 0, size_ = 0;
  std::unique_ptr<SkEpoch<float>> c32_;
  std::unique_ptr<SkEpoch<double>> c64_;
};

}  // namespace

void bind_mlp_epoch(py::module_& m) {
  py::class_<SkEpochBinding>(m, "SkEpoch",
                             "One scikit-learn-style MLP training epoch per call (fastnn.sklearn).")
      .def(py::init<std::vector<int64_t>, const std::string&, const std::string&, py::object,
                    int64_t>(),
           py::arg("units"), py::arg("hidden"), py::arg("output"), py::arg("dtype"),
           py::arg("batch"))
      .def("run", &SkEpochBinding::run, py::arg("flat"), py::arg("grad"), py::arg("X"),
           py::arg("y"), py::arg("sample_weight"), py::arg("order"), py::kw_only(),
           py::arg("batch_size"), py::arg("solver"), py::arg("lr"), py::arg("alpha"),
           py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
           py::arg("momentum") = 0.0, py::arg("nesterov") = false, py::arg("exp_avg") = py::none(),
           py::arg("exp_avg_sq") = py::none(), py::arg("momentum_buffer") = py::none(),
           py::arg("step") = 0, py::arg("grad_hook") = py::none(),
           "Train one epoch in place; returns (sum over batches of batch loss * rows, adam "
           "step after the epoch, batches run).");
}

}  // namespace fastnn::bind
