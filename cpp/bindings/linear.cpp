// fastnn.linear / fastnn.linear_backward: validation of every argument, then the raw C++ driver
// (cpp/linear.cpp). Plus private timing hooks for bench/bench_linear.py.
#include "fastnn/linear.h"

#include <omp.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "act_names.h"
#include "arrays.h"
#include "fastnn/activation_list.h"
#include "fastnn/blas.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

// One activation parameter's value: a real number (TypeError naming it otherwise).
double param_value(py::handle v, const std::string& act, const char* param) {
  try {
    return py::cast<double>(v);
  } catch (const py::cast_error&) {
    throw py::type_error("activation_params: '" + act + "' parameter '" + param +
                         "' must be a number, got " +
                         std::string(py::str(py::type::of(v).attr("__name__"))));
  }
}

struct ResolvedAct {
  Act act = Act::identity;
  ActParams p;
  std::string name = "identity";
};

// activation: None or a registry name (aliases logistic, heaviside, swish; "gelu" with
// activation_params {"approximate": "tanh"} is gelu_tanh). activation_params: None, a dict of the
// activation's parameter names, or a tuple/list of values in order; missing ones take defaults.
ResolvedAct resolve_activation(py::handle act_obj, py::handle params_obj) {
  ResolvedAct r;
  if (act_obj.is_none()) {
    if (!params_obj.is_none())
      throw py::value_error("activation_params given but activation is None");
    return r;
  }
  if (!py::isinstance<py::str>(act_obj))
    throw py::type_error("activation must be None or an activation name (str), got " +
                         std::string(py::str(py::type::of(act_obj).attr("__name__"))));
  std::string name = act_obj.cast<std::string>();
  if (name == "logistic") name = "sigmoid";
  if (name == "heaviside") name = "step";
  if (name == "swish") name = "silu";
  py::object params = py::reinterpret_borrow<py::object>(params_obj);
  if (name == "gelu" && py::isinstance<py::dict>(params_obj)) {
    py::dict d = py::reinterpret_borrow<py::dict>(params_obj);
    if (d.contains("approximate")) {
      const std::string ap = py::str(d["approximate"]);
      if (ap == "tanh")
        name = "gelu_tanh";
      else if (ap != "none")
        throw py::value_error("activation_params: approximate must be 'none' or 'tanh', got '" +
                              ap + "'");
      py::dict rest;
      for (auto kv : d)
        if (std::string(py::str(kv.first)) != "approximate") rest[kv.first] = kv.second;
      params = rest;
    }
  }
  const ActInfo* info = nullptr;
  for (const ActInfo& a : act_infos())
    if (name == a.name) info = &a;
  if (info == nullptr) {
    std::string names;
    for (const ActInfo& a : act_infos()) names += std::string(names.empty() ? "" : ", ") + a.name;
    throw py::value_error("activation: unknown activation '" + name +
                          "' (expected None or one of " + names + ")");
  }
  r.act = info->act;
  r.name = name;
  double vals[2] = {info->d[0], info->d[1]};
  if (py::isinstance<py::dict>(params)) {
    for (auto kv : py::reinterpret_borrow<py::dict>(params)) {
      const std::string key = py::str(kv.first);
      int idx = -1;
      for (int i = 0; i < info->nparams; ++i)
        if (key == info->p[i]) idx = i;
      if (idx < 0)
        throw py::value_error("activation_params: '" + name + "' has no parameter '" + key + "'");
      vals[idx] = param_value(kv.second, name, info->p[idx]);
    }
  } else if (!params.is_none()) {
    if (!py::isinstance<py::sequence>(params) || py::isinstance<py::str>(params))
      throw py::type_error("activation_params must be None, a dict or a tuple");
    py::sequence s = py::reinterpret_borrow<py::sequence>(params);
    if (static_cast<int>(s.size()) > info->nparams)
      throw py::value_error("activation_params: '" + name + "' takes " +
                            std::to_string(info->nparams) + " parameter(s), got " +
                            std::to_string(s.size()));
    for (size_t i = 0; i < s.size(); ++i) vals[i] = param_value(s[i], name, info->p[i]);
  }
  r.p.a = vals[0];
  r.p.b = vals[1];
  return r;
}

std::string shape_str(const std::vector<py::ssize_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    out += std::to_string(s[i]);
    if (s.size() == 1 || i + 1 < s.size()) out += ",";
    if (i + 1 < s.size()) out += " ";
  }
  return out + ")";
}

void same_dtype(const Array& a, const char* name, const Array& like, const char* like_name) {
  if (a.dtype != like.dtype)
    throw py::type_error(std::string(name) + " has dtype " + dtype_name(a.dtype) + " but " +
                         like_name + " has dtype " + dtype_name(like.dtype));
}

// Outputs of a matrix product may not share any memory with its inputs or other outputs.
void disjoint(const Array& out, const char* name, std::initializer_list<const Array*> others) {
  const auto* lo = static_cast<const char*>(out.arr.data());
  const auto* hi = lo + out.arr.nbytes();
  for (const Array* o : others) {
    if (o == nullptr || o->arr.nbytes() == 0 || out.arr.nbytes() == 0) continue;
    const auto* olo = static_cast<const char*>(o->arr.data());
    const auto* ohi = olo + o->arr.nbytes();
    if (lo < ohi && olo < hi)
      throw py::value_error(std::string(name) +
                            " shares memory with another argument; pass a separate array");
  }
}

void check_dim(int64_t v, const char* what) {
  if (v > blas::kMaxDim)
    throw py::value_error(std::string(what) + " is too large for 32-bit BLAS (" +
                          std::to_string(v) + ")");
}

struct Geometry {
  int64_t m, k, n;
  std::vector<py::ssize_t> out_shape;
};

Geometry geometry(const Array& x, const Array& w) {
  if (x.arr.ndim() < 1)
    throw py::value_error("x must have at least 1 dimension (..., in_features), got a scalar");
  if (w.arr.ndim() != 2)
    throw py::value_error("weight must be 2-D (out_features, in_features), got shape " +
                          shape_str(w.shape()));
  same_dtype(w, "weight", x, "x");
  const int64_t k = x.arr.shape(x.arr.ndim() - 1);
  if (w.arr.shape(1) != k)
    throw py::value_error("weight has shape " + shape_str(w.shape()) + " but x has " +
                          std::to_string(k) + " features (x.shape = " + shape_str(x.shape()) +
                          "): expected (out_features, " + std::to_string(k) + ")");
  Geometry g;
  g.k = k;
  g.n = w.arr.shape(0);
  g.m = k > 0 ? x.size / k : 1;
  if (k == 0) {
    g.m = 1;
    for (py::ssize_t i = 0; i + 1 < x.arr.ndim(); ++i) g.m *= x.arr.shape(i);
  }
  g.out_shape = x.shape();
  g.out_shape.back() = g.n;
  check_dim(g.m, "the number of rows of x");
  check_dim(g.k, "in_features");
  check_dim(g.n, "out_features");
  return g;
}

template <class T>
T* ptr(const Array& a) {
  return static_cast<T*>(a.data());
}
template <class T>
T* ptr_or_null(const Array* a) {
  return a != nullptr ? static_cast<T*>(a->data()) : nullptr;
}

py::object linear(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle act_obj,
                  py::handle params_obj, py::handle out_obj, py::handle pre_obj) {
  const ResolvedAct ra = resolve_activation(act_obj, params_obj);
  Array x = input(x_obj, "x");
  Array w = input(w_obj, "weight");
  const Geometry g = geometry(x, w);
  Array b;
  const bool has_b = !b_obj.is_none();
  if (has_b) {
    b = input(b_obj, "bias");
    same_dtype(b, "bias", x, "x");
    if (b.arr.ndim() != 1 || b.arr.shape(0) != g.n)
      throw py::value_error("bias has shape " + shape_str(b.shape()) + " but weight has shape " +
                            shape_str(w.shape()) + ": expected (" + std::to_string(g.n) + ",)");
  }
  const Array* bp = has_b ? &b : nullptr;
  Array out = output(out_obj, "out", x.dtype, g.out_shape, {&x, &w, bp});
  disjoint(out, "out", {&x, &w, bp});
  Array pre;
  const bool has_pre = !pre_obj.is_none();
  if (has_pre) {
    pre = output(pre_obj, "preact_out", x.dtype, g.out_shape, {&x, &w, bp});
    disjoint(pre, "preact_out", {&x, &w, bp, &out});
  }
  visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    run_kernel(g.m * g.n * (g.k + 1), [&] {
      linear_forward_raw<T>(ptr<T>(x), ptr<T>(w), has_b ? ptr<T>(b) : nullptr, ptr<T>(out),
                            has_pre ? ptr<T>(pre) : nullptr, g.m, g.k, g.n, ra.act, ra.p);
    });
  });
  return out.arr;
}

py::tuple linear_backward(py::handle go_obj, py::handle x_obj, py::handle w_obj, py::handle act_obj,
                          py::handle params_obj, py::handle y_obj, py::handle pre_obj, bool need_gi,
                          bool need_gw, bool need_gb, py::handle gi_obj, py::handle gw_obj,
                          py::handle gb_obj, bool accumulate) {
  const ResolvedAct ra = resolve_activation(act_obj, params_obj);
  Array x = input(x_obj, "x");
  Array w = input(w_obj, "weight");
  const Geometry g = geometry(x, w);
  Array go = input(go_obj, "grad_out");
  same_dtype(go, "grad_out", x, "x");
  if (go.shape() != g.out_shape)
    throw py::value_error("grad_out has shape " + shape_str(go.shape()) + " but x @ weight.T has " +
                          shape_str(g.out_shape));
  // Which saved tensor the activation backward reads.
  Array v;
  bool from_y = false;
  const bool has_y = !y_obj.is_none(), has_pre = !pre_obj.is_none();
  if (ra.act != Act::identity) {
    if (has_pre) {
      v = input_like(pre_obj, "preact", go, "grad_out");
    } else if (has_y && linear_backward_uses_output(ra.act)) {
      v = input_like(y_obj, "y", go, "grad_out");
      from_y = true;
    } else if (has_y) {
      throw py::type_error("y: the backward of activation '" + ra.name +
                           "' needs the pre-activation; pass preact= (linear(..., preact_out=))");
    } else {
      throw py::type_error(std::string(linear_backward_uses_output(ra.act) ? "y" : "preact") +
                           ": activation '" + ra.name + "' needs " +
                           (linear_backward_uses_output(ra.act)
                                ? "y= (the forward output) or preact="
                                : "preact= (the pre-activation)"));
    }
  }
  const Array* vp = ra.act != Act::identity ? &v : nullptr;
  Array gi, gw, gb;
  if (need_gi) {
    gi = output(gi_obj, "grad_input", x.dtype, x.shape(), {});
    disjoint(gi, "grad_input", {&x, &w, &go, vp});
  }
  if (need_gw) {
    if (accumulate && gw_obj.is_none())
      throw py::type_error("grad_weight: accumulate=True needs the grad_weight array to add into");
    gw = output(gw_obj, "grad_weight", x.dtype, w.shape(), {});
    disjoint(gw, "grad_weight", {&x, &w, &go, vp, need_gi ? &gi : nullptr});
  }
  if (need_gb) {
    if (accumulate && gb_obj.is_none())
      throw py::type_error("grad_bias: accumulate=True needs the grad_bias array to add into");
    gb = output(gb_obj, "grad_bias", x.dtype, {static_cast<py::ssize_t>(g.n)}, {});
    disjoint(gb, "grad_bias", {&x, &w, &go, vp, need_gi ? &gi : nullptr, need_gw ? &gw : nullptr});
  }
  visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    run_kernel(g.m * g.n * (g.k + 1), [&] {
      linear_backward_raw<T>(ptr<T>(go), ptr<T>(x), ptr<T>(w), ptr_or_null<T>(vp), from_y, g.m, g.k,
                             g.n, ra.act, ra.p, need_gi ? ptr<T>(gi) : nullptr,
                             need_gw ? ptr<T>(gw) : nullptr, need_gb ? ptr<T>(gb) : nullptr,
                             accumulate);
    });
  });
  py::object none = py::none();
  return py::make_tuple(need_gi ? py::object(gi.arr) : none, need_gw ? py::object(gw.arr) : none,
                        need_gb ? py::object(gb.arr) : none);
}

// ---- timing hooks (bench/bench_linear.py) --------------------------------------------------

using Clock = std::chrono::steady_clock;

// Seconds per call of C (m, n) = A (m, k) @ B (n, k)^T, impl "blas" (threads by fastnn's policy),
// "blas1" (one BLAS thread), "blasN" (fastnn.get_num_threads() BLAS threads whatever the size) or
// "small" (fastnn's register-blocked kernel at the current SIMD level). Best of `repeat` runs of
// `number` calls.
// trans_a / trans_b: A stored (k, m) / B stored (k, n) instead (the backward's layouts).
double bench_gemm(const std::string& dtype, const std::string& impl, int64_t m, int64_t n,
                  int64_t k, int number, int repeat, bool trans_a, bool trans_b) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> a(m * k), b(n * k), c(m * n);
    for (size_t i = 0; i < a.size(); ++i) a[i] = T((i * 7919 % 1000) * 1e-3 - 0.5);
    for (size_t i = 0; i < b.size(); ++i) b[i] = T((i * 104729 % 1000) * 1e-3 - 0.5);
    const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
    auto call = [&] {
      if (impl == "small") {
        const int64_t sai = trans_a ? 1 : lda, sal = trans_a ? lda : 1;
        const int64_t sbl = trans_b ? 1 : ldb, sbj = trans_b ? ldb : 1;
        kernels().get<T>().linear.gemm_small(m, n, k, a.data(), sai, sal, b.data(), sbl, sbj,
                                             c.data(), n, false);
      } else if (impl == "blas1" || impl == "blasN") {
        // Bypass the size policy: pin the thread count, then call cblas directly via gemm with a
        // huge-flop disguise is not possible, so set threads and call the raw BLAS entry.
        blas::set_threads(impl == "blas1" ? 1 : num_threads());
        blas::gemm_fixed(trans_a, trans_b, m, n, k, T(1), a.data(), lda, b.data(), ldb, T(0),
                         c.data(), n);
      } else {
        matmul_raw<T>(trans_a, trans_b, m, n, k, a.data(), lda, b.data(), ldb, c.data(), n, false);
      }
    };
    call();
    double best = 1e30;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = Clock::now();
      for (int i = 0; i < number; ++i) call();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / number);
    }
    return best;
  };
  py::gil_scoped_release release;
  return dtype == "float64" ? run(double{}) : run(float{});
}

// Thread-policy measurement: `iters` times, a float32 GEMM (m, n, k) with `blas_threads` BLAS
// threads, then a 2-thread OpenMP elementwise pass (relu forward on `elems` floats). Returns
// (seconds per iteration, seconds of the GEMMs alone per iteration, seconds of the elementwise
// alone per iteration) measured in the same run.
py::tuple bench_alternate(int64_t m, int64_t n, int64_t k, int64_t elems, int blas_threads,
                          int omp_threads, int iters) {
  std::vector<float> a(m * k, 0.25f), b(n * k, 0.5f), c(m * n), e(elems, -0.5f), f(elems);
  const auto& relu = kernels().get<float>().act[static_cast<int>(Act::relu)];
  const int saved = num_threads();
  double t_all, t_gemm = 0, t_elem = 0;
  {
    py::gil_scoped_release release;
    set_num_threads(omp_threads);
    blas::set_threads(blas_threads);
    auto gemm = [&] {
      blas::gemm_fixed(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
    };
    auto elem = [&] { relu.forward(e.data(), f.data(), elems, {}); };
    gemm();
    elem();
    auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) {
      gemm();
      elem();
    }
    t_all = std::chrono::duration<double>(Clock::now() - t0).count() / iters;
    t0 = Clock::now();
    for (int i = 0; i < iters; ++i) gemm();
    t_gemm = std::chrono::duration<double>(Clock::now() - t0).count() / iters;
    t0 = Clock::now();
    for (int i = 0; i < iters; ++i) elem();
    t_elem = std::chrono::duration<double>(Clock::now() - t0).count() / iters;
    set_num_threads(saved);
  }
  return py::make_tuple(t_all, t_gemm, t_elem);
}

}  // namespace

void bind_linear(py::module_& m) {
  const py::object none = py::none();
  m.def("linear", &linear, py::arg("x"), py::arg("weight"), py::arg("bias") = none,
        py::arg("activation") = none, py::kw_only(), py::arg("activation_params") = none,
        py::arg("out") = none, py::arg("preact_out") = none,
        R"doc(Dense layer: activation(x @ weight.T + bias), bias add and activation fused.

x: (..., in_features) float32/float64; weight: (out_features, in_features) like torch.nn.Linear;
bias: (out_features,) or None. activation: None or a name from fastnn.activations ("relu", "gelu",
"tanh", ...); activation_params: None, a dict ({"negative_slope": 0.2}; gelu also takes
{"approximate": "tanh"}) or a tuple of the parameters in order. out: optional output array
(..., out_features); preact_out: optional array receiving z = x @ weight.T + bias, which
linear_backward needs for activations other than identity/step/relu/sigmoid/tanh.
Returns out.)doc");
  m.def("linear_backward", &linear_backward, py::arg("grad_out"), py::arg("x"), py::arg("weight"),
        py::kw_only(), py::arg("activation") = none, py::arg("activation_params") = none,
        py::arg("y") = none, py::arg("preact") = none, py::arg("need_grad_input") = true,
        py::arg("need_grad_weight") = true, py::arg("need_grad_bias") = true,
        py::arg("grad_input") = none, py::arg("grad_weight") = none, py::arg("grad_bias") = none,
        py::arg("accumulate") = false,
        R"doc(Backward of linear(): returns (grad_input, grad_weight, grad_bias).

g = grad_out * activation'(.) is formed first (from y= for identity/step/relu/sigmoid/tanh,
otherwise from preact=), with grad_bias = g.sum(rows) in the same pass (double accumulation);
then grad_input = g @ weight and grad_weight = g.T @ x by BLAS. need_grad_*=False skips one
(returned as None). grad_input/grad_weight/grad_bias: optional output arrays. accumulate=True adds
into grad_weight and grad_bias (which must then be given), as autograd accumulation does.)doc");
  m.def(
      "_linear_backward_uses_output",
      [](py::handle a) {
        return linear_backward_uses_output(resolve_activation(a, py::none()).act);
      },
      py::arg("activation"));
  m.def("_blas_info", [] {
    py::dict d;
    d["info"] = blas::info();
    d["threads"] = blas::get_threads();
    d["single_thread_flops"] =
        py::make_tuple(blas::kSingleThreadFlopsF32, blas::kSingleThreadFlopsF64);
    d["small_gemm_flops"] = py::make_tuple(kSmallGemmFlopsF32, kSmallGemmFlopsF64);
    d["small_gemm_min_n"] = kSmallGemmMinN;
    return d;
  });
  m.def(
      "_gemm_small",
      [](py::handle a_obj, py::handle b_obj, bool trans_b) {
        // a @ b (or a @ b.T) through the small kernel at the current SIMD level (tests).
        Array a = input(a_obj, "a");
        Array b = input(b_obj, "b");
        same_dtype(b, "b", a, "a");
        if (a.arr.ndim() != 2 || b.arr.ndim() != 2) throw py::value_error("a and b must be 2-D");
        const int64_t m = a.arr.shape(0), k = a.arr.shape(1);
        const int64_t n = trans_b ? b.arr.shape(0) : b.arr.shape(1);
        if ((trans_b ? b.arr.shape(1) : b.arr.shape(0)) != k)
          throw py::value_error("b: inner dims");
        Array c = output(py::none(), "out", a.dtype,
                         {static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)}, {});
        visit(a.dtype, [&](auto tag) {
          using T = decltype(tag);
          kernels().get<T>().linear.gemm_small(m, n, k, ptr<T>(a), k, 1, ptr<T>(b), trans_b ? 1 : n,
                                               trans_b ? k : 1, ptr<T>(c), n, false);
        });
        return c.arr;
      },
      py::arg("a"), py::arg("b"), py::arg("trans_b") = false);
  m.def("_bench_gemm", &bench_gemm, py::arg("dtype"), py::arg("impl"), py::arg("m"), py::arg("n"),
        py::arg("k"), py::arg("number") = 10, py::arg("repeat") = 5, py::arg("trans_a") = false,
        py::arg("trans_b") = true);
  m.def("_bench_alternate", &bench_alternate, py::arg("m"), py::arg("n"), py::arg("k"),
        py::arg("elems"), py::arg("blas_threads"), py::arg("omp_threads"), py::arg("iters"));
}

}  // namespace fastnn::bind
