// Python entry points for the loss functions: forward, backward and fused forward+backward, with
// torch.nn.functional's reductions. Everything is validated before any buffer is written.
#include <optional>
#include <string>

#include "arrays.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

enum class Reduction { none, mean, sum };
enum class Call { forward, backward, forward_backward };

py::module_& np() {
  static py::module_ m = py::module_::import("numpy");
  return m;
}

Reduction parse_reduction(const std::string& r) {
  if (r == "mean") return Reduction::mean;
  if (r == "sum") return Reduction::sum;
  if (r == "none") return Reduction::none;
  throw py::value_error("reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) s += ",";
    if (i + 1 < shape.size()) s += " ";
  }
  return s + ")";
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

py::tuple shape_tuple(const std::vector<py::ssize_t>& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

// Non-ndarray array-likes (lists, scalars) take `like`'s dtype; ndarrays must match it.
Array input_as(py::handle obj, const char* name, const Array& like) {
  if (!py::isinstance<py::array>(obj) && !obj.is_none())
    return input(np().attr("asarray")(obj, dtype_name(like.dtype)), name);
  return input(obj, name);
}

void check_dtype(const Array& a, const char* name, const Array& like, const char* like_name) {
  if (a.dtype != like.dtype)
    throw py::type_error(std::string(name) + " has dtype " + dtype_name(a.dtype) + " but " +
                         like_name + " has dtype " + dtype_name(like.dtype));
}

void check_shape(const Array& a, const char* name, const std::vector<py::ssize_t>& shape,
                 const std::string& why) {
  if (shape_of(a.arr) != shape)
    throw py::value_error(std::string(name) + " has shape " + shape_str(shape_of(a.arr)) + " but " +
                          why + " " + shape_str(shape));
}

// `like`'s dtype, broadcast to `shape` (a copy when it is not that shape already).
Array broadcast_input(py::handle obj, const char* name, const Array& like,
                      const std::vector<py::ssize_t>& shape) {
  Array a = input_as(obj, name, like);
  check_dtype(a, name, like, "input");
  if (shape_of(a.arr) == shape) return a;
  py::object b;
  try {
    b = np().attr("broadcast_to")(a.arr, shape_tuple(shape));
  } catch (py::error_already_set&) {
    throw py::value_error(std::string(name) + " has shape " + shape_str(shape_of(a.arr)) +
                          ", which does not broadcast to input's shape " + shape_str(shape));
  }
  return input(np().attr("ascontiguousarray")(b), name);
}

// The upstream gradient of a reduced (scalar) loss.
double scalar_grad(py::handle obj, const char* reduction) {
  py::array a = np().attr("asarray")(obj);
  const char k = a.dtype().kind();
  if (k != 'f' && k != 'i' && k != 'u')
    throw py::type_error("grad_output must be a real number, got dtype " +
                         std::string(py::str(a.dtype())));
  if (a.size() != 1)
    throw py::value_error(std::string("grad_output must be a scalar for reduction='") + reduction +
                          "', got shape " + shape_str(shape_of(a)));
  return np().attr("asarray")(a, "float64").attr("reshape")(-1)[py::int_(0)].cast<double>();
}

py::object scalar_result(DType dt, double v) {
  return np().attr(dt == DType::f32 ? "float32" : "float64")(v);
}

const char* pointwise_name(PointwiseLoss k) {
  switch (k) {
    case PointwiseLoss::mse:
      return "mse_loss";
    case PointwiseLoss::l1:
      return "l1_loss";
    case PointwiseLoss::huber:
      return "huber_loss";
    case PointwiseLoss::bce:
      return "binary_cross_entropy";
    default:
      return "binary_cross_entropy_with_logits";
  }
}

void check_unit_interval(const Array& a, const char* name) {
  const int64_t bad = visit(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    return kernels().get<T>().loss.first_outside_unit(static_cast<const T*>(a.data()), a.size);
  });
  if (bad >= 0) {
    const double v = np().attr("asarray")(a.arr).attr("reshape")(-1)[py::int_(bad)].cast<double>();
    throw py::value_error(std::string("binary_cross_entropy: all elements of ") + name +
                          " should be between 0 and 1, got " + std::string(py::str(py::float_(v))) +
                          " at flat index " + std::to_string(bad));
  }
}

py::object pointwise_call(Call call, PointwiseLoss kind, py::handle g_obj, py::handle x_obj,
                          py::handle y_obj, const std::string& reduction, py::handle w_obj,
                          py::handle pw_obj, double delta, py::handle out_obj) {
  const Reduction red = parse_reduction(reduction);
  Array x = input(x_obj, "input");
  Array y = input_as(y_obj, "target", x);
  check_dtype(y, "target", x, "input");
  check_shape(y, "target", x.shape(), "input has shape");
  if (kind == PointwiseLoss::huber && !(delta > 0.0))
    throw py::value_error("huber_loss: delta must be positive, got " +
                          std::string(py::str(py::float_(delta))));
  std::optional<Array> w, pw;
  if (!w_obj.is_none()) w = broadcast_input(w_obj, "weight", x, x.shape());
  if (!pw_obj.is_none()) pw = broadcast_input(pw_obj, "pos_weight", x, x.shape());
  if (kind == PointwiseLoss::bce) {
    check_unit_interval(x, "input");
    check_unit_interval(y, "target");
  }
  const int64_t n = x.size;
  double gscale = 1.0;
  std::optional<Array> g;
  if (call != Call::forward) {
    if (red == Reduction::none) {
      if (!g_obj.is_none()) {
        g = input_as(g_obj, "grad_output", x);
        check_dtype(*g, "grad_output", x, "input");
        check_shape(*g, "grad_output", x.shape(), "reduction='none' needs input's shape");
      }
    } else if (!g_obj.is_none()) {
      gscale = scalar_grad(g_obj, reduction.c_str());
    }
    if (red == Reduction::mean) gscale /= static_cast<double>(n > 0 ? n : 1);
  }
  std::optional<Array> grad, loss_out;
  if (call != Call::forward)
    grad = output(out_obj, "out", x.dtype, x.shape(),
                  {&x, &y, w ? &*w : nullptr, pw ? &*pw : nullptr, g ? &*g : nullptr});
  if (call != Call::backward && red == Reduction::none)
    loss_out = output(py::none(), "loss", x.dtype, x.shape(), {});
  const double total = visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    PointwiseLossArgs<T> a;
    a.x = static_cast<const T*>(x.data());
    a.y = static_cast<const T*>(y.data());
    a.w = w ? static_cast<const T*>(w->data()) : nullptr;
    a.pos_w = pw ? static_cast<const T*>(pw->data()) : nullptr;
    a.loss_out = loss_out ? static_cast<T*>(loss_out->data()) : nullptr;
    a.grad = grad ? static_cast<T*>(grad->data()) : nullptr;
    a.grad_out = g ? static_cast<const T*>(g->data()) : nullptr;
    a.grad_scale = gscale;
    a.delta = delta;
    a.n = n;
    a.want_sum = call != Call::backward && red != Reduction::none;
    auto* fn = kernels().get<T>().loss.pointwise[static_cast<int>(kind)];
    double s = 0.0;
    run_kernel(n, [&] { s = fn(a); });
    return s;
  });
  if (call == Call::backward) return grad->arr;
  py::object loss = red == Reduction::none ? py::object(loss_out->arr)
                    : red == Reduction::sum
                        ? scalar_result(x.dtype, total)
                        : scalar_result(x.dtype, total / static_cast<double>(n));
  if (call == Call::forward) return loss;
  return py::make_tuple(loss, grad->arr);
}

// ValueError when out shares memory with `other` (null: no such argument).
void not_shared(const Array& out, const Array* other, const char* other_name) {
  if (other == nullptr || out.arr.nbytes() == 0 || other->arr.nbytes() == 0) return;
  const auto* lo = static_cast<const char*>(out.arr.data());
  const auto* olo = static_cast<const char*>(other->arr.data());
  if (lo < olo + other->arr.nbytes() && olo < lo + out.arr.nbytes())
    throw py::value_error(std::string("out shares memory with ") + other_name +
                          "; pass a separate array (or the input itself, in place)");
}

// cross_entropy (logits = true) and nll_loss.
py::object class_call(Call call, bool logits, py::handle g_obj, py::handle x_obj, py::handle t_obj,
                      py::handle w_obj, int64_t ignore_index, const std::string& reduction,
                      double eps, py::handle out_obj) {
  const Reduction red = parse_reduction(reduction);
  Array x = input(x_obj, "input");
  const int64_t nd = x.arr.ndim();
  if (nd != 1 && nd != 2)
    throw py::value_error("input must have shape (N, C) or (C,), got shape " +
                          shape_str(x.shape()));
  const bool batched = nd == 2;
  const int64_t n = batched ? x.arr.shape(0) : 1;
  const int64_t c = x.arr.shape(nd - 1);
  if (c == 0)
    throw py::value_error("input must have at least one class, got shape " + shape_str(x.shape()));
  if (!(eps >= 0.0 && eps <= 1.0))
    throw py::value_error("label_smoothing must be between 0.0 and 1.0, got " +
                          std::string(py::str(py::float_(eps))));
  const std::vector<py::ssize_t> per_sample =
      batched ? std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)} : std::vector<py::ssize_t>{};

  // The target: class indices (any integer dtype, shape (N,) or ()) or, for cross_entropy,
  // class probabilities (input's shape and dtype).
  py::array t = py::isinstance<py::array>(t_obj) ? py::reinterpret_borrow<py::array>(t_obj)
                                                 : py::array(np().attr("asarray")(t_obj));
  std::optional<Array> probs;
  py::array labels;
  const char tk = t.dtype().kind();
  if (logits && shape_of(t) == x.shape()) {
    if (!py::isinstance<py::array>(t_obj)) t = np().attr("asarray")(t, dtype_name(x.dtype));
    probs = input(t, "target");  // TypeError for integer / bool arrays of input's shape
    check_dtype(*probs, "target", x, "input");
    if (ignore_index >= 0)
      throw py::value_error("ignore_index is not supported for class-probability targets");
  } else {
    if (tk != 'i' && tk != 'u')
      throw py::type_error("target with class indices must have an integer dtype, got " +
                           std::string(py::str(t.dtype())) +
                           (logits ? " (class probabilities need input's shape)" : ""));
    if (shape_of(t) != per_sample)
      throw py::value_error(
          "target has shape " + shape_str(shape_of(t)) + " but input has shape " +
          shape_str(x.shape()) + ": expected class indices of shape " + shape_str(per_sample) +
          (logits ? " or class probabilities of shape " + shape_str(x.shape()) : std::string()));
    labels = np().attr("ascontiguousarray")(t, "int64");
    const auto* lp = static_cast<const int64_t*>(labels.data());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = lp[i];
      if (v != ignore_index && (v < 0 || v >= c))
        throw py::value_error("target contains class index " + std::to_string(v) +
                              " out of range for " + std::to_string(c) + " classes");
    }
  }
  std::optional<Array> w;
  if (!w_obj.is_none()) {
    w = input_as(w_obj, "weight", x);
    check_dtype(*w, "weight", x, "input");
    check_shape(*w, "weight", {static_cast<py::ssize_t>(c)}, "one weight per class needs shape");
  }
  // The mean's denominator: the summed weights of the non-ignored targets (class indices), or
  // the batch size (class probabilities).
  double denom = static_cast<double>(n);
  if (red == Reduction::mean && !probs) {
    const auto* lp = static_cast<const int64_t*>(labels.data());
    denom = 0.0;
    visit(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* wp = w ? static_cast<const T*>(w->data()) : nullptr;
      for (int64_t i = 0; i < n; ++i)
        if (lp[i] != ignore_index) denom += wp ? static_cast<double>(wp[lp[i]]) : 1.0;
    });
  }
  double gscale = 1.0;
  std::optional<Array> g;
  if (call != Call::forward) {
    if (red == Reduction::none) {
      if (!g_obj.is_none()) {
        g = input_as(g_obj, "grad_output", x);
        check_dtype(*g, "grad_output", x, "input");
        check_shape(*g, "grad_output", per_sample, "reduction='none' needs one per sample:");
      }
    } else if (!g_obj.is_none()) {
      gscale = scalar_grad(g_obj, reduction.c_str());
    }
    if (red == Reduction::mean) gscale /= denom;
  }
  std::optional<Array> grad, loss_out;
  if (call != Call::backward && red == Reduction::none)
    loss_out = output(py::none(), "loss", x.dtype, per_sample, {});
  if (call != Call::forward) {
    grad = output(out_obj, "out", x.dtype, x.shape(), {&x, g ? &*g : nullptr});
    // A row's gradient is written while the target probabilities and the class weights are
    // still read: out may be the input itself (in place), never one of those.
    not_shared(*grad, probs ? &*probs : nullptr, "target");
    not_shared(*grad, w ? &*w : nullptr, "weight");
  }
  const double total = visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    ClassLossArgs<T> a;
    a.x = static_cast<const T*>(x.data());
    a.labels = probs ? nullptr : static_cast<const int64_t*>(labels.data());
    a.probs = probs ? static_cast<const T*>(probs->data()) : nullptr;
    a.w = w ? static_cast<const T*>(w->data()) : nullptr;
    a.loss_out = loss_out ? static_cast<T*>(loss_out->data()) : nullptr;
    a.grad = grad ? static_cast<T*>(grad->data()) : nullptr;
    a.grad_out = g ? static_cast<const T*>(g->data()) : nullptr;
    a.grad_scale = gscale;
    a.label_smoothing = eps;
    a.ignore_index = ignore_index;
    a.n = n;
    a.c = c;
    a.logits = logits;
    a.want_sum = call != Call::backward && red != Reduction::none;
    auto* fn = kernels().get<T>().loss.classwise;
    double s = 0.0;
    run_kernel(n * c, [&] { s = fn(a); });
    return s;
  });
  if (call == Call::backward) return grad->arr;
  py::object loss = red == Reduction::none  ? py::object(loss_out->arr)
                    : red == Reduction::sum ? scalar_result(x.dtype, total)
                                            : scalar_result(x.dtype, total / denom);
  if (call == Call::forward) return loss;
  return py::make_tuple(loss, grad->arr);
}

}  // namespace

void bind_losses(py::module_& m) {
  const py::object none = py::none();
  using PL = PointwiseLoss;

  // mse_loss, l1_loss: (input, target, reduction)
  struct Simple {
    const char* name;
    PL kind;
    const char* doc;
  };
  for (const Simple& s : {Simple{"mse_loss", PL::mse, "mean/sum/none of (input - target)**2."},
                          Simple{"l1_loss", PL::l1, "mean/sum/none of |input - target|."}}) {
    const PL kind = s.kind;
    m.def(
        s.name,
        [kind](py::handle x, py::handle y, const std::string& r) {
          return pointwise_call(Call::forward, kind, py::none(), x, y, r, py::none(), py::none(),
                                1.0, py::none());
        },
        py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", s.doc);
    m.def(
        (std::string(s.name) + "_backward").c_str(),
        [kind](py::handle g, py::handle x, py::handle y, const std::string& r, py::handle out) {
          return pointwise_call(Call::backward, kind, g, x, y, r, py::none(), py::none(), 1.0, out);
        },
        py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
        py::kw_only(), py::arg("out") = none,
        "Gradient wrt input; grad_output is a scalar for 'mean'/'sum', input's shape for 'none'.");
    m.def((std::string(s.name) + "_forward_backward").c_str(),
          [kind](py::handle x, py::handle y, const std::string& r, py::handle g, py::handle out) {
            return pointwise_call(Call::forward_backward, kind, g, x, y, r, py::none(), py::none(),
                                  1.0, out);
          },
          py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::kw_only(),
          py::arg("grad_output") = none, py::arg("out") = none,
          "(loss, grad wrt input) in one pass; grad_output defaults to 1 (ones for 'none').");
  }

  m.def(
      "huber_loss",
      [](py::handle x, py::handle y, const std::string& r, double delta) {
        return pointwise_call(Call::forward, PL::huber, py::none(), x, y, r, py::none(), py::none(),
                              delta, py::none());
      },
      py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::arg("delta") = 1.0,
      "Huber loss: 0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target.");
  m.def(
      "huber_loss_backward",
      [](py::handle g, py::handle x, py::handle y, const std::string& r, double delta,
         py::handle out) {
        return pointwise_call(Call::backward, PL::huber, g, x, y, r, py::none(), py::none(), delta,
                              out);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
      py::arg("delta") = 1.0, py::kw_only(), py::arg("out") = none,
      "Gradient of huber_loss wrt input: clip(input - target, -delta, delta) * grad_output.");
  m.def(
      "huber_loss_forward_backward",
      [](py::handle x, py::handle y, const std::string& r, double delta, py::handle g,
         py::handle out) {
        return pointwise_call(Call::forward_backward, PL::huber, g, x, y, r, py::none(), py::none(),
                              delta, out);
      },
      py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::arg("delta") = 1.0,
      py::kw_only(), py::arg("grad_output") = none, py::arg("out") = none,
      "(huber_loss, its gradient wrt input) in one pass.");

  m.def(
      "binary_cross_entropy",
      [](py::handle x, py::handle y, py::handle w, const std::string& r) {
        return pointwise_call(Call::forward, PL::bce, py::none(), x, y, r, w, py::none(), 1.0,
                              py::none());
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("reduction") = "mean",
      "-w (t log(p) + (1 - t) log(1 - p)) on probabilities p in [0, 1], logs clamped at -100.");
  m.def(
      "binary_cross_entropy_backward",
      [](py::handle g, py::handle x, py::handle y, py::handle w, const std::string& r,
         py::handle out) {
        return pointwise_call(Call::backward, PL::bce, g, x, y, r, w, py::none(), 1.0, out);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("weight") = none,
      py::arg("reduction") = "mean", py::kw_only(), py::arg("out") = none,
      "Gradient wrt input: w (p - t) / max(p (1 - p), 1e-12) * grad_output.");
  m.def(
      "binary_cross_entropy_forward_backward",
      [](py::handle x, py::handle y, py::handle w, const std::string& r, py::handle g,
         py::handle out) {
        return pointwise_call(Call::forward_backward, PL::bce, g, x, y, r, w, py::none(), 1.0, out);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("reduction") = "mean",
      py::kw_only(), py::arg("grad_output") = none, py::arg("out") = none,
      "(binary_cross_entropy, its gradient wrt input) in one pass.");

  m.def(
      "binary_cross_entropy_with_logits",
      [](py::handle x, py::handle y, py::handle w, const std::string& r, py::handle pw) {
        return pointwise_call(Call::forward, PL::bce_logits, py::none(), x, y, r, w, pw, 1.0,
                              py::none());
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("reduction") = "mean",
      py::arg("pos_weight") = none,
      "Binary cross entropy on logits, computed stably: w ((1 - t) x + (1 + (pw - 1) t) "
      "softplus(-x)).");
  m.def(
      "binary_cross_entropy_with_logits_backward",
      [](py::handle g, py::handle x, py::handle y, py::handle w, const std::string& r,
         py::handle pw, py::handle out) {
        return pointwise_call(Call::backward, PL::bce_logits, g, x, y, r, w, pw, 1.0, out);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("weight") = none,
      py::arg("reduction") = "mean", py::arg("pos_weight") = none, py::kw_only(),
      py::arg("out") = none,
      "Gradient wrt input: w ((1 + (pw - 1) t) sigmoid(x) - pw t) * grad_output.");
  m.def(
      "binary_cross_entropy_with_logits_forward_backward",
      [](py::handle x, py::handle y, py::handle w, const std::string& r, py::handle pw,
         py::handle g, py::handle out) {
        return pointwise_call(Call::forward_backward, PL::bce_logits, g, x, y, r, w, pw, 1.0, out);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("reduction") = "mean",
      py::arg("pos_weight") = none, py::kw_only(), py::arg("grad_output") = none,
      py::arg("out") = none, "(binary_cross_entropy_with_logits, its gradient) in one pass.");

  m.def(
      "cross_entropy",
      [](py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r, double eps) {
        return class_call(Call::forward, true, py::none(), x, t, w, ii, r, eps, py::none());
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("ignore_index") = -100,
      py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0,
      "Cross entropy of logits (N, C) or (C,) against class indices (N,) / () of any integer "
      "dtype or class probabilities of input's shape: log-softmax and NLL fused per row.");
  m.def(
      "cross_entropy_backward",
      [](py::handle g, py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r,
         double eps,
         py::handle out) { return class_call(Call::backward, true, g, x, t, w, ii, r, eps, out); },
      py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("weight") = none,
      py::arg("ignore_index") = -100, py::arg("reduction") = "mean",
      py::arg("label_smoothing") = 0.0, py::kw_only(), py::arg("out") = none,
      "Gradient wrt the logits: (Q softmax(x) - q) * grad_output (/ the mean's denominator), q "
      "the smoothed, weighted target and Q its sum.");
  m.def(
      "cross_entropy_forward_backward",
      [](py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r, double eps,
         py::handle g, py::handle out) {
        return class_call(Call::forward_backward, true, g, x, t, w, ii, r, eps, out);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("ignore_index") = -100,
      py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0, py::kw_only(),
      py::arg("grad_output") = none, py::arg("out") = none,
      "(cross_entropy, its gradient wrt the logits) in one pass over each row.");

  m.def(
      "nll_loss",
      [](py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r) {
        return class_call(Call::forward, false, py::none(), x, t, w, ii, r, 0.0, py::none());
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("ignore_index") = -100,
      py::arg("reduction") = "mean",
      "Negative log-likelihood of log-probabilities (N, C) or (C,) at class indices.");
  m.def(
      "nll_loss_backward",
      [](py::handle g, py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r,
         py::handle out) { return class_call(Call::backward, false, g, x, t, w, ii, r, 0.0, out); },
      py::arg("grad_output"), py::arg("input"), py::arg("target"), py::arg("weight") = none,
      py::arg("ignore_index") = -100, py::arg("reduction") = "mean", py::kw_only(),
      py::arg("out") = none, "Gradient wrt input: -w[t] * grad_output at the target class.");
  m.def(
      "nll_loss_forward_backward",
      [](py::handle x, py::handle t, py::handle w, int64_t ii, const std::string& r, py::handle g,
         py::handle out) {
        return class_call(Call::forward_backward, false, g, x, t, w, ii, r, 0.0, out);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = none, py::arg("ignore_index") = -100,
      py::arg("reduction") = "mean", py::kw_only(), py::arg("grad_output") = none,
      py::arg("out") = none, "(nll_loss, its gradient wrt input) in one pass.");
}

}  // namespace fastnn::bind
