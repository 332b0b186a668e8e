// Python entry points for the fused multi-tensor optimizer steps and gradient clipping.
// Every list, array and hyperparameter is validated before any kernel runs: a bad argument raises
// and leaves every array untouched. Lists may mix float32 and float64 tensors (each tensor's
// state has its parameter's dtype); one Python call runs at most one kernel call per dtype.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

std::string item(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

std::string repr(double x) { return std::string(py::repr(py::float_(x))); }

std::string type_name(py::handle obj) {
  return std::string(py::str(py::type::of(obj).attr("__name__")));
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += ",";
    if (i + 1 < a.ndim()) s += " ";
  }
  return s + ")";
}

bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) != b.shape(i)) return false;
  return true;
}

// A list or tuple (not an array: one ndarray is not a list of parameters).
std::vector<py::handle> as_list(py::handle obj, const char* name) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
    throw py::type_error(std::string(name) + " must be a list or tuple of numpy arrays, got " +
                         type_name(obj));
  std::vector<py::handle> out;
  for (py::handle h : obj) out.push_back(h);
  return out;
}

std::vector<py::handle> as_list_like(py::handle obj, const char* name, size_t n,
                                     const char* like_name) {
  std::vector<py::handle> v = as_list(obj, name);
  if (v.size() != n)
    throw py::value_error(std::string(name) + " has " + std::to_string(v.size()) + " entries but " +
                          like_name + " has " + std::to_string(n));
  return v;
}

// An array updated in place: a writeable, aligned, C-contiguous float32/float64 ndarray.
Array inplace(py::handle obj, const std::string& name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(name + " must be a numpy.ndarray (updated in place), got " +
                         type_name(obj));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  const py::dtype dt = a.dtype();
  if (dt.kind() != 'f' || (dt.itemsize() != 4 && dt.itemsize() != 8) || !native_byte_order(dt))
    throw py::type_error(name + " must be a float32 or float64 array, got dtype " +
                         std::string(py::str(dt)));
  if (!a.writeable()) throw py::value_error(name + " is read-only");
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) ||
      !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(name + " must be C-contiguous and aligned (it is updated in place)");
  return Array{a, dt.itemsize() == 4 ? DType::f32 : DType::f64, static_cast<int64_t>(a.size())};
}

Array inplace_like(py::handle obj, const std::string& name, const Array& like,
                   const std::string& like_name) {
  Array a = inplace(obj, name);
  if (a.dtype != like.dtype)
    throw py::type_error(name + " has dtype " + dtype_name(a.dtype) + " but " + like_name +
                         " has dtype " + dtype_name(like.dtype));
  if (!same_shape(a.arr, like.arr))
    throw py::value_error(name + " has shape " + shape_str(a.arr) + " but " + like_name +
                          " has shape " + shape_str(like.arr));
  return a;
}

struct Span {
  const char* lo;
  const char* hi;
  bool written;
  std::string name;
};

// No array written in place may share memory with any other array of the call.
void check_no_overlap(std::vector<Span>& spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
  for (size_t i = 0; i < spans.size(); ++i) {
    for (size_t j = i + 1; j < spans.size() && spans[j].lo < spans[i].hi; ++j) {
      if (spans[i].written || spans[j].written)
        throw py::value_error(spans[j].name + " shares memory with " + spans[i].name +
                              "; every parameter and state must be its own array");
    }
  }
}

void add_span(std::vector<Span>& spans, const Array& a, bool written, std::string name) {
  if (a.arr.nbytes() == 0) return;
  const char* lo = static_cast<const char*>(a.arr.data());
  spans.push_back(Span{lo, lo + a.arr.nbytes(), written, std::move(name)});
}

void require(bool ok, const std::string& msg) {
  if (!ok) throw py::value_error(msg);
}
void check_nonneg(double x, const char* name) {
  require(x >= 0.0, std::string(name) + " must be >= 0, got " + repr(x));
}
void check_beta(double x, const char* name) {
  require(x >= 0.0 && x < 1.0, std::string(name) + " must be in [0, 1), got " + repr(x));
}

// An int or a list/tuple of ints (one per parameter), each >= 1.
std::vector<int64_t> steps(py::handle obj, size_t n) {
  std::vector<int64_t> out;
  auto one = [](py::handle h, const std::string& name) {
    if (py::isinstance<py::bool_>(h) || !PyIndex_Check(h.ptr()))
      throw py::type_error(name + " must be an int, got " + type_name(h));
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!idx) throw py::error_already_set();
    int overflow = 0;
    const long long s = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    require(overflow <= 0, name + " is too large, got " + std::string(py::str(idx)));
    require(overflow == 0 && s >= 1, name +
                                         " must be >= 1 (the step count after this update), got " +
                                         std::string(py::str(idx)));
    return static_cast<int64_t>(s);
  };
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    std::vector<py::handle> v = as_list_like(obj, "step", n, "params");
    for (size_t i = 0; i < n; ++i) out.push_back(one(v[i], item("step", i)));
  } else {
    const int64_t s = one(obj, "step");
    out.assign(n, s);
  }
  return out;
}

// A bool or a list/tuple of bools (one per parameter).
std::vector<bool> flags(py::handle obj, size_t n, const char* name) {
  auto one = [](py::handle h, const std::string& what) {
    try {
      return py::cast<bool>(h);
    } catch (const py::cast_error&) {
      throw py::type_error(what + " must be a bool, got " + type_name(h));
    }
  };
  std::vector<bool> out;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    std::vector<py::handle> v = as_list_like(obj, name, n, "params");
    for (size_t i = 0; i < n; ++i) out.push_back(one(v[i], item(name, i)));
  } else {
    out.assign(n, one(obj, name));
  }
  return out;
}

// The validated arrays of one call: params[i], grads[i] and up to three states per tensor.
struct Batch {
  std::vector<Array> params, grads;
  std::vector<Array> states[3];
  int64_t work = 0;
};

// Validates params, grads and the state lists (a null handle = a list not used by this call).
Batch validate(py::handle params_obj, py::handle grads_obj,
               std::initializer_list<std::pair<const char*, py::handle>> state_lists) {
  Batch b;
  std::vector<py::handle> ps = as_list(params_obj, "params");
  const size_t n = ps.size();
  std::vector<py::handle> gs = as_list_like(grads_obj, "grads", n, "params");
  std::vector<std::vector<py::handle>> ss;
  std::vector<const char*> snames;
  for (const auto& [name, obj] : state_lists) {
    if (obj.ptr() == nullptr) {
      ss.emplace_back();
      snames.push_back(name);
      continue;
    }
    ss.push_back(as_list_like(obj, name, n, "params"));
    snames.push_back(name);
  }
  std::vector<Span> spans;
  for (size_t i = 0; i < n; ++i) {
    const std::string pn = item("params", i);
    b.params.push_back(inplace(ps[i], pn));
    const Array& p = b.params.back();
    b.grads.push_back(input_like(gs[i], item("grads", i).c_str(), p, pn.c_str()));
    add_span(spans, p, true, pn);
    add_span(spans, b.grads.back(), false, item("grads", i));
    for (size_t s = 0; s < ss.size(); ++s) {
      if (ss[s].empty()) continue;
      const std::string sn = item(snames[s], i);
      b.states[s].push_back(inplace_like(ss[s][i], sn, p, pn));
      add_span(spans, b.states[s].back(), true, sn);
    }
    b.work += p.size;
  }
  check_no_overlap(spans);
  return b;
}

struct Tensors {
  std::vector<OptimTensor<float>> f32;
  std::vector<OptimTensor<double>> f64;
};

void* state_ptr(const Batch& b, int s, size_t i) {
  return b.states[s].empty() ? nullptr : b.states[s][i].data();
}

template <class PerTensor>
Tensors gather(const Batch& b, PerTensor&& scalars) {
  Tensors t;
  for (size_t i = 0; i < b.params.size(); ++i) {
    double c0 = 0.0, c1 = 0.0;
    scalars(i, c0, c1);
    auto fill = [&](auto& vec) {
      using T = std::remove_pointer_t<decltype(vec.back().param)>;
      OptimTensor<T> o;
      o.param = static_cast<T*>(b.params[i].data());
      o.grad = static_cast<const T*>(b.grads[i].data());
      o.s0 = static_cast<T*>(state_ptr(b, 0, i));
      o.s1 = static_cast<T*>(state_ptr(b, 1, i));
      o.s2 = static_cast<T*>(state_ptr(b, 2, i));
      o.n = b.params[i].size;
      o.c0 = c0;
      o.c1 = c1;
      vec.push_back(o);
    };
    if (b.params[i].dtype == DType::f32)
      fill(t.f32);
    else
      fill(t.f64);
  }
  return t;
}

template <class Pick>
void launch(const Batch& b, const Tensors& t, const OptimHyper& h, Pick&& pick) {
  run_kernel(b.work, [&] {
    if (!t.f32.empty())
      pick(kernels().f32.optim)(t.f32.data(), static_cast<int64_t>(t.f32.size()), h);
    if (!t.f64.empty())
      pick(kernels().f64.optim)(t.f64.data(), static_cast<int64_t>(t.f64.size()), h);
  });
}

py::handle opt(py::handle h) { return h.is_none() ? py::handle() : h; }

// ---------------------------------------------------------------------------------------------

void adam_step(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs,
               py::handle max_exp_avg_sqs, py::handle step, double lr, double beta1, double beta2,
               double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
  check_nonneg(lr, "lr");
  check_nonneg(eps, "eps");
  check_beta(beta1, "beta1");
  check_beta(beta2, "beta2");
  check_nonneg(weight_decay, "weight_decay");
  if (amsgrad && max_exp_avg_sqs.is_none())
    throw py::value_error("max_exp_avg_sqs is required when amsgrad=True");
  Batch b = validate(params, grads,
                     {{"exp_avgs", exp_avgs},
                      {"exp_avg_sqs", exp_avg_sqs},
                      {"max_exp_avg_sqs", amsgrad ? max_exp_avg_sqs : py::handle()}});
  const std::vector<int64_t> st = steps(step, b.params.size());
  OptimHyper h;
  h.lr = lr;
  h.beta1 = beta1;
  h.beta2 = beta2;
  h.eps = eps;
  h.weight_decay = weight_decay;
  h.amsgrad = amsgrad;
  h.maximize = maximize;
  h.decoupled = decoupled;
  // torch: bias_correction1 = 1 - beta1**step; step_size = lr / bc1; bc2_sqrt = bc2**0.5.
  Tensors t = gather(b, [&](size_t i, double& c0, double& c1) {
    const double s = static_cast<double>(st[i]);
    const double bc1 = 1.0 - std::pow(beta1, s);
    const double bc2 = 1.0 - std::pow(beta2, s);
    c0 = -(lr / bc1);
    c1 = std::pow(bc2, 0.5);
  });
  launch(b, t, h, [](const auto& k) { return k.adam; });
}

void sgd_step(py::handle params, py::handle grads, py::handle momentum_buffers, double lr,
              double momentum, double dampening, double weight_decay, bool nesterov, bool maximize,
              py::handle first_step) {
  check_nonneg(lr, "lr");
  check_nonneg(momentum, "momentum");
  check_nonneg(weight_decay, "weight_decay");
  require(std::isfinite(dampening), "dampening must be finite, got " + repr(dampening));
  if (nesterov)
    require(momentum > 0.0 && dampening == 0.0,
            "nesterov momentum requires a momentum > 0 and zero dampening");
  const bool has_mom = momentum != 0.0;
  if (has_mom && momentum_buffers.is_none())
    throw py::value_error("momentum_buffers is required when momentum != 0");
  Batch b =
      validate(params, grads, {{"momentum_buffers", has_mom ? momentum_buffers : py::handle()}});
  const std::vector<bool> first = flags(first_step, b.params.size(), "first_step");
  OptimHyper h;
  h.lr = lr;
  h.momentum = momentum;
  h.dampening = dampening;
  h.weight_decay = weight_decay;
  h.nesterov = nesterov;
  h.maximize = maximize;
  Tensors t = gather(b, [&](size_t i, double& c0, double&) { c0 = first[i] ? 1.0 : 0.0; });
  launch(b, t, h, [](const auto& k) { return k.sgd; });
}

void adagrad_step(py::handle params, py::handle grads, py::handle state_sums, py::handle step,
                  double lr, double lr_decay, double weight_decay, double eps, bool maximize) {
  check_nonneg(lr, "lr");
  check_nonneg(lr_decay, "lr_decay");
  check_nonneg(weight_decay, "weight_decay");
  check_nonneg(eps, "eps");
  Batch b = validate(params, grads, {{"state_sums", state_sums}});
  const std::vector<int64_t> st = steps(step, b.params.size());
  OptimHyper h;
  h.lr = lr;
  h.weight_decay = weight_decay;
  h.eps = eps;
  h.maximize = maximize;
  Tensors t = gather(b, [&](size_t i, double& c0, double&) {
    c0 = -(lr / (1.0 + static_cast<double>(st[i] - 1) * lr_decay));
  });
  launch(b, t, h, [](const auto& k) { return k.adagrad; });
}

void rmsprop_step(py::handle params, py::handle grads, py::handle square_avgs, py::handle grad_avgs,
                  py::handle momentum_buffers, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool centered, bool maximize) {
  check_nonneg(lr, "lr");
  check_nonneg(alpha, "alpha");
  check_nonneg(eps, "eps");
  check_nonneg(weight_decay, "weight_decay");
  check_nonneg(momentum, "momentum");
  if (centered && grad_avgs.is_none())
    throw py::value_error("grad_avgs is required when centered=True");
  if (momentum > 0.0 && momentum_buffers.is_none())
    throw py::value_error("momentum_buffers is required when momentum > 0");
  Batch b = validate(params, grads,
                     {{"square_avgs", square_avgs},
                      {"grad_avgs", centered ? grad_avgs : py::handle()},
                      {"momentum_buffers", momentum > 0.0 ? momentum_buffers : py::handle()}});
  OptimHyper h;
  h.lr = lr;
  h.alpha = alpha;
  h.eps = eps;
  h.weight_decay = weight_decay;
  h.momentum = momentum;
  h.centered = centered;
  h.maximize = maximize;
  Tensors t = gather(b, [](size_t, double&, double&) {});
  launch(b, t, h, [](const auto& k) { return k.rmsprop; });
}

// ---------------------------------------------------------------------------------------------
// Clipping helpers over a list of arrays (mixed dtypes allowed).

template <class T>
struct Lists {
  std::vector<T*> xs;
  std::vector<int64_t> ns;
};

double norm_reduce(py::handle arrays, double p) {
  require(p == 1.0 || p == 2.0 || p == INFINITY,
          "norm_type must be 1, 2 or inf for the native kernel, got " + repr(p));
  std::vector<py::handle> v = as_list(arrays, "arrays");
  std::vector<Array> keep;
  Lists<const float> f;
  Lists<const double> d;
  int64_t work = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    keep.push_back(input(v[i], item("arrays", i).c_str()));
    const Array& a = keep.back();
    if (a.dtype == DType::f32) {
      f.xs.push_back(static_cast<const float*>(a.data()));
      f.ns.push_back(a.size);
    } else {
      d.xs.push_back(static_cast<const double*>(a.data()));
      d.ns.push_back(a.size);
    }
    work += a.size;
  }
  double rf = 0.0, rd = 0.0;
  run_kernel(work, [&] {
    if (!f.xs.empty())
      rf = kernels().f32.optim.norm_reduce(f.xs.data(), f.ns.data(), f.xs.size(), p);
    if (!d.xs.empty())
      rd = kernels().f64.optim.norm_reduce(d.xs.data(), d.ns.data(), d.xs.size(), p);
  });
  if (p == INFINITY) return (std::isnan(rf) || rf > rd) ? rf : rd;
  return rf + rd;
}

template <class Fn>
void inplace_lists(py::handle arrays, Fn&& fn) {
  std::vector<py::handle> v = as_list(arrays, "arrays");
  std::vector<Array> keep;
  std::vector<Span> spans;
  Lists<float> f;
  Lists<double> d;
  int64_t work = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    keep.push_back(inplace(v[i], item("arrays", i)));
    const Array& a = keep.back();
    add_span(spans, a, true, item("arrays", i));
    if (a.dtype == DType::f32) {
      f.xs.push_back(static_cast<float*>(a.data()));
      f.ns.push_back(a.size);
    } else {
      d.xs.push_back(static_cast<double*>(a.data()));
      d.ns.push_back(a.size);
    }
    work += a.size;
  }
  check_no_overlap(spans);
  run_kernel(work, [&] { fn(f, d); });
}

}  // namespace

void bind_optim(py::module_& m) {
  const py::object none = py::none();
  m.def(
      "adam_step", &adam_step, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
      py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs") = none, py::kw_only(), py::arg("step"),
      py::arg("lr") = 1e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("amsgrad") = false, py::arg("maximize") = false,
      py::arg("decoupled") = false,
      R"doc(adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False, decoupled=False)

One fused Adam (decoupled=False) or AdamW (decoupled=True) step over a list of parameters, in
place, with torch.optim.Adam's formulas. `step` is the step number after this update (1 on the
first call), an int or one int per parameter. All lists have one entry per parameter; params and
states are writeable C-contiguous ndarrays with their parameter's dtype (float32 or float64) and
shape. Everything is validated before any array is written.)doc");
  m.def(
      "sgd_step", &sgd_step, py::arg("params"), py::arg("grads"),
      py::arg("momentum_buffers") = none, py::kw_only(), py::arg("lr") = 1e-3,
      py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
      py::arg("nesterov") = false, py::arg("maximize") = false, py::arg("first_step") = false,
      R"doc(sgd_step(params, grads, momentum_buffers=None, *, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False, first_step=False)

One fused SGD step (torch.optim.SGD's formulas) over a list of parameters, in place.
momentum_buffers is required when momentum != 0; `first_step` (a bool, or one per parameter)
makes the buffer a copy of the gradient, as torch does when a parameter has no buffer yet.)doc");
  m.def(
      "adagrad_step", &adagrad_step, py::arg("params"), py::arg("grads"), py::arg("state_sums"),
      py::kw_only(), py::arg("step"), py::arg("lr") = 1e-2, py::arg("lr_decay") = 0.0,
      py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("maximize") = false,
      R"doc(adagrad_step(params, grads, state_sums, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10, maximize=False)

One fused Adagrad step (torch.optim.Adagrad's formulas) over a list of parameters, in place.
`step` is the step number after this update (an int or one per parameter); state_sums start at
initial_accumulator_value.)doc");
  m.def(
      "rmsprop_step", &rmsprop_step, py::arg("params"), py::arg("grads"), py::arg("square_avgs"),
      py::arg("grad_avgs") = none, py::arg("momentum_buffers") = none, py::kw_only(),
      py::arg("lr") = 1e-2, py::arg("alpha") = 0.99, py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0, py::arg("centered") = false,
      py::arg("maximize") = false,
      R"doc(rmsprop_step(params, grads, square_avgs, grad_avgs=None, momentum_buffers=None, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False)

One fused RMSprop step (torch.optim.RMSprop's formulas) over a list of parameters, in place.
grad_avgs is required when centered, momentum_buffers when momentum > 0 (all start at zero).)doc");
  m.def("_norm_reduce", &norm_reduce, py::arg("arrays"), py::arg("norm_type") = 2.0,
        "sum |x| (1), sum x^2 (2) or max |x| (inf) over a list of arrays, accumulated in double.");
  m.def(
      "_scale_",
      [](py::handle arrays, double s) {
        inplace_lists(arrays, [s](Lists<float>& f, Lists<double>& d) {
          if (!f.xs.empty()) kernels().f32.optim.scale(f.xs.data(), f.ns.data(), f.xs.size(), s);
          if (!d.xs.empty()) kernels().f64.optim.scale(d.xs.data(), d.ns.data(), d.xs.size(), s);
        });
      },
      py::arg("arrays"), py::arg("factor"), "x *= factor for every array of a list, in place.");
  m.def(
      "_clamp_",
      [](py::handle arrays, double lo, double hi) {
        inplace_lists(arrays, [lo, hi](Lists<float>& f, Lists<double>& d) {
          if (!f.xs.empty())
            kernels().f32.optim.clamp(f.xs.data(), f.ns.data(), f.xs.size(), lo, hi);
          if (!d.xs.empty())
            kernels().f64.optim.clamp(d.xs.data(), d.ns.data(), d.xs.size(), lo, hi);
        });
      },
      py::arg("arrays"), py::arg("min"), py::arg("max"),
      "x = clip(x, min, max) for every array of a list, in place (NaN kept).");
}

}  // namespace fastnn::bind
