// _C.TrainStep: the Python face of the fused training step (fastnn/train_step.h). Built once by
// fastnn.nn.compile_step; each call step(x, y) validates x and y, reads the optimizer's current
// hyperparameters and state from the Python optimizer object (param_groups, state: the same
// arrays optimizer.step() uses, created as it would create them), then runs forward, loss,
// backward and the update in one native call with the GIL released. Everything is checked
// before anything is written. The per-call path uses CPython's C API directly (interned keys,
// identity checks against cached objects) to keep the overhead of a small step low.
#include "fastnn/train_step.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "act_names.h"
#include "arrays.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

constexpr int kNpyInt32 = 5;     // NPY_INT
constexpr int kNpyLong = 7;      // NPY_LONG
constexpr int kNpyLongLong = 9;  // NPY_LONGLONG
constexpr int kNpyFloat = 11, kNpyDouble = 12;
constexpr bool kLongIs64 = sizeof(long) == 8;

py::detail::PyArray_Proxy* proxy(PyObject* o) { return py::detail::array_proxy(o); }
int type_num(PyObject* a) {
  return reinterpret_cast<py::detail::PyArrayDescr_Proxy*>(proxy(a)->descr)->type_num;
}
bool native_order(PyObject* a) {
  return reinterpret_cast<py::detail::PyArrayDescr_Proxy*>(proxy(a)->descr)->byteorder != '>';
}
bool is_ndarray(PyObject* o) { return py::detail::npy_api::get().PyArray_Check_(o); }
int flags_of(PyObject* a) { return proxy(a)->flags; }
constexpr int kCContig = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
constexpr int kAligned = py::detail::npy_api::NPY_ARRAY_ALIGNED_;
constexpr int kWriteable = py::detail::npy_api::NPY_ARRAY_WRITEABLE_;

bool is_int64(int t) { return t == kNpyLongLong || (kLongIs64 && t == kNpyLong); }
bool is_int32(int t) { return t == kNpyInt32 || (!kLongIs64 && t == kNpyLong); }

std::string dtype_str(PyObject* a) {
  return std::string(py::str(py::reinterpret_borrow<py::array>(a).dtype()));
}
std::string shape_of(PyObject* a) {
  auto* p = proxy(a);
  std::string s = "(";
  for (int i = 0; i < p->nd; ++i) {
    s += std::to_string(p->dimensions[i]);
    if (p->nd == 1 || i + 1 < p->nd) s += ",";
    if (i + 1 < p->nd) s += " ";
  }
  return s + ")";
}

py::object np_attr(const char* name) { return py::module_::import("numpy").attr(name); }

// Borrowed item of a dict by interned key, or null (KeyError not set).
PyObject* get(PyObject* dict, py::handle key) {
  PyObject* v = PyDict_GetItemWithError(dict, key.ptr());
  if (v == nullptr && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

double as_double(PyObject* v, const std::string& what) {
  const double d = PyFloat_AsDouble(v);
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::type_error(what + " must be a number");
  }
  return d;
}

bool as_bool(PyObject* v) {
  const int r = PyObject_IsTrue(v);
  if (r < 0) throw py::error_already_set();
  return r != 0;
}

struct Keys {
  py::str param_groups{"param_groups"}, state{"state"}, params{"params"}, lr{"lr"}, betas{"betas"},
      eps{"eps"}, weight_decay{"weight_decay"}, amsgrad{"amsgrad"}, maximize{"maximize"},
      decoupled{"decoupled_weight_decay"}, momentum{"momentum"}, dampening{"dampening"},
      nesterov{"nesterov"}, step{"step"}, exp_avg{"exp_avg"}, exp_avg_sq{"exp_avg_sq"},
      max_exp_avg_sq{"max_exp_avg_sq"}, momentum_buffer{"momentum_buffer"}, data_{"_data"},
      grad_{"_grad"}, grad{"grad"};
  Keys() {
    for (py::str* s :
         {&param_groups, &state,   &params,   &lr,         &betas,          &eps,
          &weight_decay, &amsgrad, &maximize, &decoupled,  &momentum,       &dampening,
          &nesterov,     &step,    &exp_avg,  &exp_avg_sq, &max_exp_avg_sq, &momentum_buffer,
          &data_,        &grad_,   &grad}) {
      PyObject* p = s->release().ptr();
      PyUnicode_InternInPlace(&p);
      *s = py::reinterpret_steal<py::str>(p);
    }
  }
};

Act act_from_name(const std::string& name) {
  if (const ActInfo* a = find_act(name)) return a->act;
  throw py::value_error("compile_step: unknown activation '" + name + "'");
}

// One trainable array (a weight or a bias) and its optimizer state.
struct Slot {
  py::object param;  // the fastnn.Parameter
  py::object data;   // cached param._data (re-validated when it changes)
  py::object grad;   // the gradient array owned by the step (assigned to param.grad)
  py::object s[3];   // cached state arrays (identity-checked each call)
  std::vector<py::ssize_t> shape;
  int64_t size = 0;
  int group = 0;
};

constexpr int kSgd = 0, kAdam = 1;

class TrainStep {
 public:
  TrainStep(py::list layers, bool flatten, const std::string& loss, const std::string& reduction,
            int64_t ignore_index, double label_smoothing, py::object optimizer,
            const std::string& optim_kind, py::list groups, int64_t batch)
      : opt_(std::move(optimizer)),
        flatten_(flatten),
        ignore_index_(ignore_index),
        smoothing_(label_smoothing) {
    if (loss == "cross_entropy")
      loss_ = TrainLoss::cross_entropy;
    else if (loss == "mse")
      loss_ = TrainLoss::mse;
    else
      throw py::value_error("compile_step: unsupported loss '" + loss + "'");
    if (reduction != "mean" && reduction != "sum")
      throw py::value_error("compile_step: reduction must be 'mean' or 'sum', got '" + reduction +
                            "'");
    mean_ = reduction == "mean";
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
      throw py::value_error("label_smoothing must be between 0.0 and 1.0");
    if (optim_kind == "sgd")
      kind_ = kSgd;
    else if (optim_kind == "adam")
      kind_ = kAdam;
    else
      throw py::value_error("compile_step: unsupported optimizer kind '" + optim_kind + "'");
    if (layers.empty()) throw py::value_error("compile_step: the model has no Linear layer");
    std::vector<TrainLayer> spec;
    bool first = true;
    for (py::handle item : layers) {
      py::tuple t = py::reinterpret_borrow<py::tuple>(item);
      TrainLayer l;
      l.act = act_from_name(t[2].cast<std::string>());
      l.p.a = t[3].cast<double>();
      l.p.b = t[4].cast<double>();
      const int wi = add_slot(t[0], "weight", first);
      first = false;
      const Slot& w = slots_[wi];
      if (w.shape.size() != 2)
        throw py::value_error("compile_step: a Linear weight must be 2-D, got " +
                              std::to_string(w.shape.size()) + "-D");
      l.out = w.shape[0];
      l.in = w.shape[1];
      if (!spec.empty() && spec.back().out != l.in)
        throw py::value_error("compile_step: a Linear layer has in_features " +
                              std::to_string(l.in) + " but the previous one has out_features " +
                              std::to_string(spec.back().out));
      l.bias = !t[1].is_none();
      if (l.bias) {
        const int bi = add_slot(t[1], "bias", false);
        if (slots_[bi].shape != std::vector<py::ssize_t>{static_cast<py::ssize_t>(l.out)})
          throw py::value_error("compile_step: a Linear bias does not have shape (out_features,)");
      }
      spec.push_back(l);
    }
    // Parameter groups: (the group's params list object, [slot indices]).
    for (py::handle gh : groups) {
      py::tuple t = py::reinterpret_borrow<py::tuple>(gh);
      group_lists_.push_back(py::reinterpret_borrow<py::object>(t[0]));
      group_sizes_.push_back(PyList_Size(t[0].ptr()));
      std::vector<int> members;
      for (py::handle i : t[1]) {
        const int idx = i.cast<int>();
        if (idx < 0 || idx >= static_cast<int>(slots_.size()))
          throw py::value_error("compile_step: bad parameter index");
        slots_[idx].group = static_cast<int>(group_lists_.size()) - 1;
        members.push_back(idx);
      }
      group_members_.push_back(members);
    }
    visit(dtype_, [&](auto tag) {
      using T = decltype(tag);
      auto core = std::make_unique<TrainStepCore<T>>(spec, std::max<int64_t>(batch, 1));
      if constexpr (std::is_same_v<T, float>)
        c32_ = std::move(core);
      else
        c64_ = std::move(core);
    });
    in_features_ = spec.front().in;
    out_features_ = spec.back().out;
    n_layers_ = spec.size();
    for (const TrainLayer& l : spec) layer_bias_.push_back(l.bias);
    pending_state_.resize(slots_.size());
    pending_step_.resize(slots_.size());
    first_.resize(slots_.size());
    c0_.resize(slots_.size());
    c1_.resize(slots_.size());
    hyper_.resize(group_lists_.size());
    zeros_like_ = np_attr("zeros_like");
    empty_like_ = np_attr("empty_like");
  }

  py::object call(py::handle x, py::handle y) {
    if (busy_.exchange(true))
      throw py::value_error("this compiled step is already running in another thread");
    struct Release {
      std::atomic<bool>& b;
      ~Release() { b.store(false); }
    } release{busy_};
    if (dtype_ == DType::f32) return call_t<float>(x, y, *c32_);
    return call_t<double>(x, y, *c64_);
  }

  int64_t reallocations() const {
    return dtype_ == DType::f32 ? c32_->reallocations() : c64_->reallocations();
  }
  int64_t capacity() const { return dtype_ == DType::f32 ? c32_->capacity() : c64_->capacity(); }
  bool parallel_path(int64_t m) const { return step_path(m) != "layers"; }
  void force_team(int mode) {
    if (mode < -1 || mode > 1) throw py::value_error("mode must be -1, 0 or 1");
    if (dtype_ == DType::f32)
      c32_->force_team(mode);
    else
      c64_->force_team(mode);
  }
  std::string step_path(int64_t m) const {
    const StepPath p = dtype_ == DType::f32 ? c32_->path(m) : c64_->path(m);
    return p == StepPath::features ? "features" : (p == StepPath::rows ? "rows" : "layers");
  }
  void reserve(int64_t m) {
    if (m < 0) throw py::value_error("batch size must be >= 0");
    if (dtype_ == DType::f32)
      c32_->reserve(m);
    else
      c64_->reserve(m);
  }
  std::string dtype_name_() const { return dtype_ == DType::f32 ? "float32" : "float64"; }

 private:
  int add_slot(py::handle param, const char* what, bool first) {
    Slot s;
    s.param = py::reinterpret_borrow<py::object>(param);
    s.data = param.attr("data");
    PyObject* d = s.data.ptr();
    if (!is_ndarray(d))
      throw py::type_error(std::string("compile_step: a ") + what + " is not an ndarray");
    const int tn = type_num(d);
    if (tn != kNpyFloat && tn != kNpyDouble)
      throw py::type_error(std::string("compile_step: a ") + what + " has dtype " + dtype_str(d));
    const DType dt = tn == kNpyFloat ? DType::f32 : DType::f64;
    if (first)
      dtype_ = dt;
    else if (dt != dtype_)
      throw py::type_error(std::string("compile_step: parameters mix dtypes (") +
                           dtype_name(dtype_) + " and " + dtype_name(dt) +
                           "); convert the model with .float() or .double()");
    check_data(d, what);
    auto* p = proxy(d);
    s.shape.assign(p->dimensions, p->dimensions + p->nd);
    s.size = py::reinterpret_borrow<py::array>(d).size();
    s.grad = zeros_like_fallback(s.data);
    slots_.push_back(std::move(s));
    return static_cast<int>(slots_.size()) - 1;
  }

  static py::object zeros_like_fallback(const py::object& a) { return np_attr("zeros_like")(a); }

  static void check_data(PyObject* d, const std::string& what) {
    const int f = flags_of(d);
    if (!(f & kCContig) || !(f & kAligned) || !(f & kWriteable) || !native_order(d))
      throw py::value_error(what + " must be a writeable, aligned, C-contiguous array");
  }

  // A state array: exactly the parameter's dtype and shape, updated in place.
  void check_state(PyObject* a, const Slot& s, const std::string& name) const {
    if (!is_ndarray(a))
      throw py::type_error("optimizer.state: " + name + " must be a numpy.ndarray");
    const int tn = type_num(a);
    if (tn != (dtype_ == DType::f32 ? kNpyFloat : kNpyDouble) || !native_order(a))
      throw py::type_error("optimizer.state: " + name + " has dtype " + dtype_str(a) +
                           " but its parameter has dtype " + dtype_name(dtype_));
    auto* p = proxy(a);
    if (std::vector<py::ssize_t>(p->dimensions, p->dimensions + p->nd) != s.shape)
      throw py::value_error("optimizer.state: " + name + " has shape " + shape_of(a) +
                            " but its parameter's shape differs");
    check_data(a, "optimizer.state: " + name);
  }

  // Re-validates a parameter whose .data was replaced.
  void refresh_data(Slot& s, PyObject* d, size_t i) {
    const std::string name = "parameter " + std::to_string(i);
    if (!is_ndarray(d)) throw py::type_error(name + ".data is not an ndarray");
    if (type_num(d) != (dtype_ == DType::f32 ? kNpyFloat : kNpyDouble))
      throw py::type_error(name + ".data changed dtype to " + dtype_str(d) + "; compile again");
    auto* p = proxy(d);
    if (std::vector<py::ssize_t>(p->dimensions, p->dimensions + p->nd) != s.shape)
      throw py::value_error(name + ".data changed shape to " + shape_of(d) + "; compile again");
    check_data(d, name + ".data");
  }

  template <class T>
  py::object call_t(py::handle x_obj, py::handle y_obj, TrainStepCore<T>& core) {
    constexpr int want = std::is_same_v<T, float> ? kNpyFloat : kNpyDouble;
    // ---- x
    py::object x_keep;
    PyObject* x = x_obj.ptr();
    if (!is_ndarray(x)) {
      x_keep = np_attr("asarray")(x_obj);
      x = x_keep.ptr();
    }
    if (type_num(x) != want || !native_order(x))
      throw py::type_error("x has dtype " + dtype_str(x) + " but the model's parameters are " +
                           dtype_name(dtype_));
    if (!(flags_of(x) & kCContig) || !(flags_of(x) & kAligned)) {
      x_keep = np_attr("ascontiguousarray")(py::handle(x));
      x = x_keep.ptr();
    }
    auto* xp = proxy(x);
    if (xp->nd < 1) throw py::value_error("x must have a batch dimension, got shape ()");
    const int64_t m = xp->dimensions[0];
    int64_t feat = 1;
    for (int i = 1; i < xp->nd; ++i) feat *= xp->dimensions[i];
    if (flatten_ ? (xp->nd < 2 || feat != in_features_) : (xp->nd != 2 || feat != in_features_))
      throw py::value_error("x has shape " + shape_of(x) + " but the first Linear layer has " +
                            "in_features=" + std::to_string(in_features_) +
                            (flatten_ ? " (after Flatten)" : " (expected (batch, in_features))"));
    if (m < 1) throw py::value_error("x is an empty batch (shape " + shape_of(x) + ")");
    // ---- y
    py::object y_keep;
    PyObject* y = y_obj.ptr();
    if (!is_ndarray(y)) {
      y_keep = np_attr("asarray")(y_obj);
      y = y_keep.ptr();
    }
    if (!(flags_of(y) & kCContig) || !(flags_of(y) & kAligned)) {
      y_keep = np_attr("ascontiguousarray")(py::handle(y));
      y = y_keep.ptr();
    }
    auto* yp = proxy(y);
    core.reserve(m);  // internal workspaces only (grows, never per step once large enough)
    TrainLossCall<T> lc;
    lc.kind = loss_;
    lc.ignore_index = ignore_index_;
    lc.label_smoothing = smoothing_;
    double denom = 1.0;
    if (loss_ == TrainLoss::cross_entropy) {
      const int tn = type_num(y);
      const bool i64 = is_int64(tn), i32 = is_int32(tn);
      if ((!i64 && !i32) || !native_order(y))
        throw py::type_error("y (class indices) must be an int64 or int32 array, got dtype " +
                             dtype_str(y));
      if (yp->nd != 1 || yp->dimensions[0] != m)
        throw py::value_error("y has shape " + shape_of(y) + " but x has " + std::to_string(m) +
                              " samples: expected shape (" + std::to_string(m) + ",)");
      int64_t* buf = core.label_buffer();
      const int64_t c = out_features_, ign = ignore_index_;
      int64_t counted = 0;
      const int64_t* l64 = reinterpret_cast<const int64_t*>(yp->data);
      const int32_t* l32 = reinterpret_cast<const int32_t*>(yp->data);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t v = i64 ? l64[i] : static_cast<int64_t>(l32[i]);
        if (v == ign) continue;
        if (v < 0 || v >= c)
          throw py::value_error("y contains class index " + std::to_string(v) +
                                " out of range for " + std::to_string(c) + " classes");
        ++counted;
      }
      if (i32)
        for (int64_t i = 0; i < m; ++i) buf[i] = l32[i];
      lc.labels = i64 ? l64 : buf;
      denom = mean_ ? static_cast<double>(counted) : 1.0;
    } else {
      if (type_num(y) != want || !native_order(y))
        throw py::type_error("y has dtype " + dtype_str(y) + " but the model's parameters are " +
                             dtype_name(dtype_));
      if (yp->nd != 2 || yp->dimensions[0] != m || yp->dimensions[1] != out_features_)
        throw py::value_error("y has shape " + shape_of(y) + " but the model's output has shape (" +
                              std::to_string(m) + ", " + std::to_string(out_features_) + ")");
      lc.target = reinterpret_cast<const T*>(yp->data);
      denom = mean_ ? static_cast<double>(m * out_features_) : 1.0;
    }
    lc.grad_scale = 1.0 / denom;

    // ---- optimizer hyperparameters (per group) and state (per parameter)
    PyObject* opt = opt_.ptr();
    py::object groups =
        py::reinterpret_steal<py::object>(PyObject_GetAttr(opt, keys_.param_groups.ptr()));
    if (!groups) throw py::error_already_set();
    if (!PyList_Check(groups.ptr()) ||
        PyList_GET_SIZE(groups.ptr()) != static_cast<py::ssize_t>(group_lists_.size()))
      throw py::value_error("optimizer.param_groups changed since compile_step; compile again");
    for (size_t gi = 0; gi < group_lists_.size(); ++gi) {
      PyObject* g = PyList_GET_ITEM(groups.ptr(), gi);
      if (!PyDict_Check(g)) throw py::type_error("optimizer.param_groups entries must be dicts");
      PyObject* plist = get(g, keys_.params);
      if (plist != group_lists_[gi].ptr() || PyList_Size(plist) != group_sizes_[gi])
        throw py::value_error("optimizer.param_groups changed since compile_step; compile again");
      read_hyper(g, gi);
    }
    py::object state = py::reinterpret_steal<py::object>(PyObject_GetAttr(opt, keys_.state.ptr()));
    if (!state) throw py::error_already_set();
    if (!PyDict_Check(state.ptr())) throw py::type_error("optimizer.state must be a dict");
    const size_t np_ = slots_.size();
    bool any_pending = false;
    for (size_t i = 0; i < np_; ++i) {
      Slot& s = slots_[i];
      // The parameter's array (replaced through p.data = ... ?).
      py::object d =
          py::reinterpret_steal<py::object>(PyObject_GetAttr(s.param.ptr(), keys_.data_.ptr()));
      if (!d) throw py::error_already_set();
      if (d.ptr() != s.data.ptr()) {
        refresh_data(s, d.ptr(), i);
        s.data = d;
      }
      pending_state_[i] = py::object();
      pending_step_[i] = 0;
      first_[i] = false;
      const OptimHyper& h = hyper_[s.group];
      PyObject* st = get(state.ptr(), s.param);  // borrowed or null
      if (kind_ == kAdam) {
        const bool amsgrad = h.amsgrad;
        const bool fresh = st == nullptr || !PyDict_Check(st) || PyDict_GET_SIZE(st) == 0;
        if (fresh || (amsgrad && get(st, keys_.max_exp_avg_sq) == nullptr)) {
          py::dict nd;
          if (fresh) {
            nd[keys_.step] = py::int_(0);
            nd[keys_.exp_avg] = zeros_like_(s.data);
            nd[keys_.exp_avg_sq] = zeros_like_(s.data);
          } else {
            nd = py::dict(py::reinterpret_borrow<py::dict>(st));
          }
          if (amsgrad) nd[keys_.max_exp_avg_sq] = zeros_like_(s.data);
          pending_state_[i] = nd;
          any_pending = true;
          st = nd.ptr();
        }
        const py::str* names[3] = {&keys_.exp_avg, &keys_.exp_avg_sq, &keys_.max_exp_avg_sq};
        for (int k = 0; k < (amsgrad ? 3 : 2); ++k) {
          PyObject* a = get(st, *names[k]);
          if (a == nullptr)
            throw py::value_error("optimizer.state of parameter " + std::to_string(i) +
                                  " has no '" + std::string(*names[k]) + "'");
          if (a != s.s[k].ptr()) {
            check_state(a, s, std::string(*names[k]));
            s.s[k] = py::reinterpret_borrow<py::object>(a);
          }
        }
        PyObject* sv = get(st, keys_.step);
        if (sv == nullptr)
          throw py::value_error("optimizer.state of parameter " + std::to_string(i) +
                                " has no 'step'");
        long long cur;
        if (PyLong_CheckExact(sv)) {
          cur = PyLong_AsLongLong(sv);
        } else {
          py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(sv));
          if (!idx) throw py::error_already_set();
          cur = PyLong_AsLongLong(idx.ptr());
        }
        if (cur == -1 && PyErr_Occurred()) throw py::error_already_set();
        if (cur < 0) throw py::value_error("optimizer.state step must be >= 0");
        pending_step_[i] = cur + 1;
        // Parameters of a group usually share the step: the three pow calls once per step.
        const double t = static_cast<double>(cur + 1);
        if (!(bc_.t == t && bc_.lr == h.lr && bc_.b1 == h.beta1 && bc_.b2 == h.beta2))
          bc_ = {t,
                 h.lr,
                 h.beta1,
                 h.beta2,
                 -(h.lr / (1.0 - std::pow(h.beta1, t))),
                 std::pow(1.0 - std::pow(h.beta2, t), 0.5)};
        c0_[i] = bc_.c0;
        c1_[i] = bc_.c1;
      } else if (h.momentum != 0.0) {
        PyObject* buf =
            (st != nullptr && PyDict_Check(st)) ? get(st, keys_.momentum_buffer) : nullptr;
        if (buf == nullptr || buf == Py_None) {
          pending_state_[i] = empty_like_(s.data);
          any_pending = true;
          first_[i] = true;
          buf = pending_state_[i].ptr();
        }
        if (buf != s.s[0].ptr()) {
          check_state(buf, s, "momentum_buffer");
          s.s[0] = py::reinterpret_borrow<py::object>(buf);
        }
        c0_[i] = first_[i] ? 1.0 : 0.0;
      }
    }
    // ---- everything is valid: commit the Python-side bookkeeping, then run.
    if (any_pending) {
      for (size_t i = 0; i < np_; ++i) {
        if (!pending_state_[i]) continue;
        if (kind_ == kAdam) {
          if (PyDict_SetItem(state.ptr(), slots_[i].param.ptr(), pending_state_[i].ptr()) < 0)
            throw py::error_already_set();
        } else {
          py::object st = state.attr("setdefault")(slots_[i].param, py::dict());
          st[keys_.momentum_buffer] = pending_state_[i];
        }
        pending_state_[i] = py::object();
      }
    }
    if (kind_ == kAdam) {
      for (size_t i = 0; i < np_; ++i) {
        PyObject* st = get(state.ptr(), slots_[i].param);
        py::object v = py::reinterpret_steal<py::object>(PyLong_FromLongLong(pending_step_[i]));
        if (PyDict_SetItem(st, keys_.step.ptr(), v.ptr()) < 0) throw py::error_already_set();
      }
    }
    for (Slot& s : slots_) {
      py::object g =
          py::reinterpret_steal<py::object>(PyObject_GetAttr(s.param.ptr(), keys_.grad_.ptr()));
      if (!g) throw py::error_already_set();
      if (g.ptr() != s.grad.ptr() &&
          PyObject_SetAttr(s.param.ptr(), keys_.grad.ptr(), s.grad.ptr()) < 0)
        throw py::error_already_set();
    }
    // Raw pointers (fixed-size vectors, reused: no allocation).
    auto& tp = params_t<T>();
    auto& ts = tensors_t<T>();
    auto& calls = calls_t<T>();
    const bool init = tp.empty();
    if (init) {
      tp.resize(n_layers_);
      ts.resize(np_);
      calls.resize(group_lists_.size());
    }
    {
      size_t si = 0;
      for (size_t l = 0; l < n_layers_; ++l) {
        tp[l].w = ptr<T>(slots_[si].data);
        tp[l].gw = ptr<T>(slots_[si].grad);
        ++si;
        if (layer_bias_[l]) {
          tp[l].b = ptr<T>(slots_[si].data);
          tp[l].gb = ptr<T>(slots_[si].grad);
          ++si;
        } else {
          tp[l].b = nullptr;
          tp[l].gb = nullptr;
        }
      }
    }
    size_t k = 0;
    for (size_t gi = 0; gi < group_lists_.size(); ++gi) {
      const size_t start = k;
      for (int i : group_members_[gi]) {
        const Slot& s = slots_[i];
        OptimTensor<T>& o = ts[k++];
        o.param = ptr<T>(s.data);
        o.grad = ptr<T>(s.grad);
        o.n = s.size;
        o.c0 = c0_[i];
        o.c1 = c1_[i];
        if (kind_ == kAdam) {
          o.s0 = ptr<T>(s.s[0]);
          o.s1 = ptr<T>(s.s[1]);
          o.s2 = hyper_[gi].amsgrad ? ptr<T>(s.s[2]) : nullptr;
        } else {
          o.s0 = hyper_[gi].momentum != 0.0 ? ptr<T>(s.s[0]) : nullptr;
          o.s1 = o.s2 = nullptr;
        }
      }
      calls[gi].kind = kind_;
      calls[gi].ts = ts.data() + start;
      calls[gi].count = static_cast<int64_t>(k - start);
      calls[gi].h = hyper_[gi];
    }
    const T* xd = reinterpret_cast<const T*>(xp->data);
    double total;
    const int64_t n_calls = static_cast<int64_t>(calls.size());
    if (hook_.is_none()) {
      py::gil_scoped_release nogil;
      total = core.run(xd, m, lc, tp.data(), calls.data(), n_calls);
    } else {
      {
        py::gil_scoped_release nogil;
        total = core.run(xd, m, lc, tp.data(), calls.data(), 0);
      }
      // Between backward and the update: the hook (e.g. an MPI gradient allreduce) may modify
      // the gradients in place or assign p.grad a new array (which is then adopted: validated,
      // and the update reads from it; later steps write their gradients into it).
      hook_();
      for (size_t i = 0; i < np_; ++i) {
        Slot& s = slots_[i];
        py::object g =
            py::reinterpret_steal<py::object>(PyObject_GetAttr(s.param.ptr(), keys_.grad_.ptr()));
        if (!g) throw py::error_already_set();
        if (g.ptr() == s.grad.ptr()) continue;
        if (g.is_none())
          throw py::value_error("grad_hook set parameter " + std::to_string(i) + ".grad to None");
        check_state(g.ptr(), s, "parameter " + std::to_string(i) + ".grad");
        s.grad = g;
      }
      size_t kk = 0;
      for (size_t gi = 0; gi < group_lists_.size(); ++gi)
        for (int i : group_members_[gi]) ts[kk++].grad = ptr<T>(slots_[i].grad);
      {
        size_t si = 0;
        for (size_t l = 0; l < n_layers_; ++l) {
          tp[l].gw = ptr<T>(slots_[si++].grad);
          if (layer_bias_[l]) tp[l].gb = ptr<T>(slots_[si++].grad);
        }
      }
      py::gil_scoped_release nogil;
      core.update(calls.data(), n_calls);
    }
    const T loss = static_cast<T>(mean_ ? total / denom : total);
    return py::reinterpret_steal<py::object>(PyFloat_FromDouble(static_cast<double>(loss)));
  }

  template <class T>
  static T* ptr(const py::object& a) {
    return reinterpret_cast<T*>(proxy(a.ptr())->data);
  }

  void read_hyper(PyObject* g, size_t gi) {
    OptimHyper h;
    auto num = [&](const py::str& key) {
      PyObject* v = get(g, key);
      if (v == nullptr)
        throw py::value_error("optimizer.param_groups[" + std::to_string(gi) + "] has no '" +
                              std::string(key) + "'");
      return as_double(v, std::string(key));
    };
    auto flag = [&](const py::str& key) {
      PyObject* v = get(g, key);
      return v != nullptr && as_bool(v);
    };
    auto bad = [&](const std::string& what, double v) {
      throw py::value_error("optimizer.param_groups[" + std::to_string(gi) + "]: invalid " + what +
                            " " + std::string(py::repr(py::float_(v))));
    };
    h.lr = num(keys_.lr);
    if (!(h.lr >= 0.0)) bad("learning rate", h.lr);
    h.weight_decay = num(keys_.weight_decay);
    if (!(h.weight_decay >= 0.0)) bad("weight_decay", h.weight_decay);
    h.maximize = flag(keys_.maximize);
    if (kind_ == kAdam) {
      PyObject* b = get(g, keys_.betas);
      if (b == nullptr || !PySequence_Check(b) || PySequence_Size(b) != 2)
        throw py::value_error("optimizer.param_groups[" + std::to_string(gi) +
                              "]: betas must be a pair");
      py::object b0 = py::reinterpret_steal<py::object>(PySequence_GetItem(b, 0));
      py::object b1 = py::reinterpret_steal<py::object>(PySequence_GetItem(b, 1));
      h.beta1 = as_double(b0.ptr(), "betas[0]");
      h.beta2 = as_double(b1.ptr(), "betas[1]");
      if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) bad("beta parameter at index 0:", h.beta1);
      if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) bad("beta parameter at index 1:", h.beta2);
      h.eps = num(keys_.eps);
      if (!(h.eps >= 0.0)) bad("epsilon value", h.eps);
      h.amsgrad = flag(keys_.amsgrad);
      h.decoupled = flag(keys_.decoupled);
    } else {
      h.momentum = num(keys_.momentum);
      if (!(h.momentum >= 0.0)) bad("momentum value", h.momentum);
      h.dampening = num(keys_.dampening);
      if (!std::isfinite(h.dampening)) bad("dampening", h.dampening);
      h.nesterov = flag(keys_.nesterov);
      if (h.nesterov && !(h.momentum > 0.0 && h.dampening == 0.0))
        throw py::value_error("Nesterov momentum requires a momentum and zero dampening");
    }
    hyper_[gi] = h;
  }

  template <class T>
  std::vector<TrainParams<T>>& params_t() {
    if constexpr (std::is_same_v<T, float>)
      return tp32_;
    else
      return tp64_;
  }
  template <class T>
  std::vector<OptimTensor<T>>& tensors_t() {
    if constexpr (std::is_same_v<T, float>)
      return ts32_;
    else
      return ts64_;
  }
  template <class T>
  std::vector<TrainOptimCall<T>>& calls_t() {
    if constexpr (std::is_same_v<T, float>)
      return calls32_;
    else
      return calls64_;
  }

  Keys keys_;
  py::object opt_;
  bool flatten_;
  TrainLoss loss_ = TrainLoss::cross_entropy;
  bool mean_ = true;
  int64_t ignore_index_;
  double smoothing_;
  int kind_ = kSgd;
  DType dtype_ = DType::f32;
  std::vector<Slot> slots_;
  std::vector<py::object> group_lists_;
  std::vector<py::ssize_t> group_sizes_;
  std::vector<std::vector<int>> group_members_;
  std::vector<OptimHyper> hyper_;
  std::vector<py::object> pending_state_;
  std::vector<long long> pending_step_;
  std::vector<bool> first_;
  std::vector<double> c0_, c1_;
  struct BiasCorrection {
    double t = -1.0, lr = 0.0, b1 = 0.0, b2 = 0.0, c0 = 0.0, c1 = 0.0;
  } bc_;  // the last Adam step factors (c0, c1) and what they were computed from
  std::vector<bool> layer_bias_;
  size_t n_layers_ = 0;
  int64_t in_features_ = 0, out_features_ = 0;
  std::unique_ptr<TrainStepCore<float>> c32_;
  std::unique_ptr<TrainStepCore<double>> c64_;
  std::vector<TrainParams<float>> tp32_;
  std::vector<TrainParams<double>> tp64_;
  std::vector<OptimTensor<float>> ts32_;
  std::vector<OptimTensor<double>> ts64_;
  std::vector<TrainOptimCall<float>> calls32_;
  std::vector<TrainOptimCall<double>> calls64_;
  py::object zeros_like_, empty_like_;
  py::object hook_ = py::none();
  std::atomic<bool> busy_{false};

 public:
  py::object get_hook() const { return hook_; }
  void set_hook(py::object h) {
    if (!h.is_none() && !PyCallable_Check(h.ptr()))
      throw py::type_error("grad_hook must be callable or None");
    hook_ = std::move(h);
  }
};

}  // namespace

void bind_train_step(py::module_& m) {
  py::class_<TrainStep>(m, "TrainStep",
                        R"doc(A compiled training step (made by fastnn.nn.compile_step).

step(x, y) -> float runs forward, loss, backward and the optimizer update in one native call and
returns the loss (before the update). Afterwards each parameter's .grad holds its gradient and
optimizer.state is updated exactly as optimizer.step() would.)doc")
      .def(py::init<py::list, bool, const std::string&, const std::string&, int64_t, double,
                    py::object, const std::string&, py::list, int64_t>(),
           py::arg("layers"), py::arg("flatten"), py::arg("loss"), py::arg("reduction"),
           py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("optimizer"),
           py::arg("optim_kind"), py::arg("groups"), py::arg("batch"))
      .def("__call__", &TrainStep::call, py::arg("x"), py::arg("y"), "step(x, y) -> loss (float)")
      .def("_parallel_path", &TrainStep::parallel_path, py::arg("batch"),
           "Whether a step of `batch` rows runs in one parallel region (tests).")
      .def("_force_team", &TrainStep::force_team, py::arg("mode"),
           "Features path: -1 chooses by timing, 0 runs it on one thread, 1 on the team (tests).")
      .def("_step_path", &TrainStep::step_path, py::arg("batch"),
           "How a step of `batch` rows runs: 'layers', 'rows' or 'features' (tests).")
      .def("reserve", &TrainStep::reserve, py::arg("batch"),
           "Grow the workspaces to hold `batch` rows now (no allocation in later steps).")
      .def_property_readonly("reallocations", &TrainStep::reallocations,
                             "How many times the workspaces grew after construction.")
      .def_property_readonly("capacity", &TrainStep::capacity,
                             "Rows the workspaces hold (the largest batch so far, or more).")
      .def_property_readonly("dtype", &TrainStep::dtype_name_)
      .def_property("grad_hook", &TrainStep::get_hook, &TrainStep::set_hook,
                    "Callable run between backward and the optimizer update (or None).");
}

}  // namespace fastnn::bind
