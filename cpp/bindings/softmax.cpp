// Python entry points for softmax / log_softmax along an axis, forward and backward.
#include "arrays.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
namespace {

struct Axis {
  int64_t outer = 1, len = 1, inner = 1;
};

Axis split(const Array& a, int64_t axis) {
  const int64_t nd = a.arr.ndim();
  if (nd == 0) {
    if (axis != 0 && axis != -1)
      throw py::value_error("axis " + std::to_string(axis) + " is out of bounds for a 0-d array");
    return {};
  }
  if (axis < -nd || axis >= nd)
    throw py::value_error("axis " + std::to_string(axis) + " is out of bounds for an array of " +
                          std::to_string(nd) + " dimensions");
  if (axis < 0) axis += nd;
  Axis s;
  for (int64_t i = 0; i < axis; ++i) s.outer *= a.arr.shape(i);
  s.len = a.arr.shape(axis);
  for (int64_t i = axis + 1; i < nd; ++i) s.inner *= a.arr.shape(i);
  return s;
}

py::object forward(py::handle x_obj, int64_t axis, py::handle out_obj, bool log) {
  Array x = input(x_obj, "x");
  const Axis s = split(x, axis);
  Array out = output(out_obj, "out", x.dtype, x.shape(), {&x});
  visit(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    auto* fn = kernels().get<T>().softmax.forward;
    run_kernel(x.size, [&] {
      fn(static_cast<const T*>(x.data()), static_cast<T*>(out.data()), s.outer, s.len, s.inner,
         log);
    });
  });
  return out.arr;
}

py::object backward(py::handle g_obj, py::handle y_obj, int64_t axis, py::handle out_obj,
                    bool log) {
  Array g = input(g_obj, "grad_out");
  Array y = input_like(y_obj, "y", g, "grad_out");
  const Axis s = split(g, axis);
  Array out = output(out_obj, "out", g.dtype, g.shape(), {&g, &y});
  visit(g.dtype, [&](auto tag) {
    using T = decltype(tag);
    auto* fn = kernels().get<T>().softmax.backward;
    run_kernel(g.size, [&] {
      fn(static_cast<const T*>(g.data()), static_cast<const T*>(y.data()),
         static_cast<T*>(out.data()), s.outer, s.len, s.inner, log);
    });
  });
  return out.arr;
}

}  // namespace

void bind_softmax(py::module_& m) {
  const py::object none = py::none();
  m.def(
      "softmax",
      [](py::handle x, int64_t axis, py::handle out) { return forward(x, axis, out, false); },
      py::arg("x"), py::arg("axis") = -1, py::kw_only(), py::arg("out") = none,
      "exp(x) / sum(exp(x)) along axis (max-shifted, summed in double).");
  m.def(
      "log_softmax",
      [](py::handle x, int64_t axis, py::handle out) { return forward(x, axis, out, true); },
      py::arg("x"), py::arg("axis") = -1, py::kw_only(), py::arg("out") = none,
      "x - logsumexp(x) along axis.");
  m.def(
      "softmax_backward",
      [](py::handle g, py::handle y, int64_t axis, py::handle out) {
        return backward(g, y, axis, out, false);
      },
      py::arg("grad_out"), py::arg("y"), py::arg("axis") = -1, py::kw_only(), py::arg("out") = none,
      "Gradient through softmax given its output y: y * (g - sum(g*y)).");
  m.def(
      "log_softmax_backward",
      [](py::handle g, py::handle y, int64_t axis, py::handle out) {
        return backward(g, y, axis, out, true);
      },
      py::arg("grad_out"), py::arg("y"), py::arg("axis") = -1, py::kw_only(), py::arg("out") = none,
      "Gradient through log_softmax given its output y: g - exp(y) * sum(g).");
}

}  // namespace fastnn::bind
