// The extension module: registers each binding family and the runtime controls.
#include <omp.h>
#include <pybind11/stl.h>

#include "arrays.h"
#include "fastnn/dispatch.h"
#include "fastnn/kernel_table.h"

namespace fastnn::bind {
void bind_activations(py::module_& m);
void bind_softmax(py::module_& m);
void bind_optim(py::module_& m);
void bind_losses(py::module_& m);
void bind_linear(py::module_& m);
void bind_train_step(py::module_& m);
void bind_mlp_epoch(py::module_& m);
}  // namespace fastnn::bind

PYBIND11_MODULE(_C, m) {
  namespace py = pybind11;
  using namespace fastnn;
  m.doc() = "fastnn native kernels";
  bind::bind_activations(m);
  bind::bind_softmax(m);
  bind::bind_optim(m);
  bind::bind_losses(m);
  bind::bind_linear(m);
  bind::bind_train_step(m);
  bind::bind_mlp_epoch(m);

  m.def("get_num_threads", &num_threads, "Threads the kernels may use.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Set the threads kernels may use (default: OpenMP's, which honours OMP_NUM_THREADS).");
  m.def(
      "simd_level", [] { return std::string(kernels().isa); },
      "The SIMD level whose kernels run: avx512, avx2 or scalar.");
  m.def("supported_simd_levels", &supported_simd_levels,
        "SIMD levels this CPU can run, best first.");
  m.def(
      "_set_simd_level",
      [](const std::string& s) {
        try {
          set_simd_level(s);
        } catch (const std::invalid_argument& e) {
          throw py::value_error(e.what());
        }
      },
      py::arg("level"), "Switch kernels to another supported level (for tests and benchmarks).");
  m.def("_build_info", [] {
    py::dict d;
    d["version"] = FASTNN_VERSION;
    d["compiler"] = __VERSION__;
    d["openmp"] = _OPENMP;
    d["omp_max_threads"] = omp_get_max_threads();
    d["forked_child"] = in_forked_child();
    return d;
  });
}
