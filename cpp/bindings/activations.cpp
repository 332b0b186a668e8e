// Python entry points for every activation in activation_list.h: f, f_derivative, f_backward.
#include <deque>
#include <string>

#include "arrays.h"
#include "fastnn/activation_list.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

template <class T>
const ActivationKernels<T>& act_kernels(Act a) {
  return kernels().get<T>().act[static_cast<int>(a)];
}

py::object unary(Act a, bool deriv, py::handle x_obj, py::handle out_obj, ActParams p) {
  Array x = input(x_obj, "x");
  Array out = output(out_obj, "out", x.dtype, x.shape(), {&x});
  visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto& k = act_kernels<T>(a);
    auto* fn = deriv ? k.derivative : k.forward;
    run_kernel(x.size, [&] {
      fn(static_cast<const T*>(x.data()), static_cast<T*>(out.data()), x.size, p);
    });
  });
  return out.arr;
}

py::object backward(Act a, py::handle g_obj, py::handle x_obj, py::handle y_obj, py::handle out_obj,
                    ActParams p, bool has_y) {
  const bool use_y = !y_obj.is_none();
  if (use_y && !has_y) throw py::type_error("y: this activation has no output-based backward");
  if (use_y == !x_obj.is_none())
    throw py::type_error(use_y ? "pass x or y, not both" : "x: the input x (or y=) is required");
  Array g = input(g_obj, "grad_out");
  Array v = use_y ? input_like(y_obj, "y", g, "grad_out") : input_like(x_obj, "x", g, "grad_out");
  Array out = output(out_obj, "out", g.dtype, g.shape(), {&g, &v});
  visit(g.dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto& k = act_kernels<T>(a);
    auto* fn = use_y ? k.backward_from_output : k.backward;
    run_kernel(g.size, [&] {
      fn(static_cast<const T*>(g.data()), static_cast<const T*>(v.data()),
         static_cast<T*>(out.data()), g.size, p);
    });
  });
  return out.arr;
}

std::string doc(const char* name, const char* what) {
  return std::string(what) + " of " + name +
         ", elementwise. float32/float64, any shape; `out` may be the input itself.";
}

void define(py::module_& m, const char* name, Act a, int nparams, const char* p0, double d0,
            const char* p1, double d1, bool has_y) {
  const std::string fwd = name, der = fwd + "_derivative", bwd = fwd + "_backward";
  const py::object none = py::none();
  // Python names must outlive the module: keep them in static storage.
  static std::deque<std::string> names;
  names.push_back(fwd);
  const char* fname = names.back().c_str();
  names.push_back(der);
  const char* dname = names.back().c_str();
  names.push_back(bwd);
  const char* bname = names.back().c_str();
  auto y_arg = py::arg("y") = none;

  if (nparams == 0) {
    m.def(
        fname, [a](py::handle x, py::handle out) { return unary(a, false, x, out, {}); },
        py::arg("x"), py::kw_only(), py::arg("out") = none, doc(name, "Forward").c_str());
    m.def(
        dname, [a](py::handle x, py::handle out) { return unary(a, true, x, out, {}); },
        py::arg("x"), py::kw_only(), py::arg("out") = none, doc(name, "Derivative").c_str());
    m.def(
        bname,
        [a, has_y](py::handle g, py::handle x, py::handle y, py::handle out) {
          return backward(a, g, x, y, out, {}, has_y);
        },
        py::arg("grad_out"), py::arg("x") = none, py::kw_only(), y_arg, py::arg("out") = none,
        doc(name, "grad_out * derivative").c_str());
  } else if (nparams == 1) {
    m.def(
        fname,
        [a](py::handle x, double q0, py::handle out) { return unary(a, false, x, out, {q0, 0}); },
        py::arg("x"), py::arg(p0) = d0, py::kw_only(), py::arg("out") = none,
        doc(name, "Forward").c_str());
    m.def(
        dname,
        [a](py::handle x, double q0, py::handle out) { return unary(a, true, x, out, {q0, 0}); },
        py::arg("x"), py::arg(p0) = d0, py::kw_only(), py::arg("out") = none,
        doc(name, "Derivative").c_str());
    m.def(
        bname,
        [a, has_y](py::handle g, py::handle x, double q0, py::handle y, py::handle out) {
          return backward(a, g, x, y, out, {q0, 0}, has_y);
        },
        py::arg("grad_out"), py::arg("x") = none, py::arg(p0) = d0, py::kw_only(), y_arg,
        py::arg("out") = none, doc(name, "grad_out * derivative").c_str());
  } else {
    m.def(
        fname,
        [a](py::handle x, double q0, double q1, py::handle out) {
          return unary(a, false, x, out, {q0, q1});
        },
        py::arg("x"), py::arg(p0) = d0, py::arg(p1) = d1, py::kw_only(), py::arg("out") = none,
        doc(name, "Forward").c_str());
    m.def(
        dname,
        [a](py::handle x, double q0, double q1, py::handle out) {
          return unary(a, true, x, out, {q0, q1});
        },
        py::arg("x"), py::arg(p0) = d0, py::arg(p1) = d1, py::kw_only(), py::arg("out") = none,
        doc(name, "Derivative").c_str());
    m.def(
        bname,
        [a, has_y](py::handle g, py::handle x, double q0, double q1, py::handle y, py::handle out) {
          return backward(a, g, x, y, out, {q0, q1}, has_y);
        },
        py::arg("grad_out"), py::arg("x") = none, py::arg(p0) = d0, py::arg(p1) = d1, py::kw_only(),
        y_arg, py::arg("out") = none, doc(name, "grad_out * derivative").c_str());
  }
}

}  // namespace

py::tuple param_names(int nparams, const char* p0, const char* p1) {
  if (nparams == 0) return py::tuple();
  if (nparams == 1) return py::make_tuple(p0);
  return py::make_tuple(p0, p1);
}

void bind_activations(py::module_& m) {
  py::list names;
#define FASTNN_ACT_DEF(name, Functor, nparams, p0, d0, p1, d1, has_y) \
  define(m, #name, Act::name, nparams, p0, d0, p1, d1, has_y);        \
  names.append(py::make_tuple(#name, param_names(nparams, p0, p1), has_y));
  FASTNN_ACTIVATIONS(FASTNN_ACT_DEF)
#undef FASTNN_ACT_DEF
  m.attr("_activation_names") = names;
}

}  // namespace fastnn::bind
