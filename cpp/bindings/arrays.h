// Argument checking shared by every binding: each array is validated once, here, before any
// kernel runs or any buffer is written. Messages name the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fastnn::bind {

namespace py = pybind11;

enum class DType { f32, f64 };

// Below this many elements a kernel keeps the GIL: releasing it costs more than the call.
inline constexpr int64_t kReleaseGilAbove = 8192;

struct Array {
  py::array arr;
  DType dtype;
  int64_t size;
  void* data() const { return const_cast<void*>(arr.data()); }
  std::vector<py::ssize_t> shape() const {
    return std::vector<py::ssize_t>(arr.shape(), arr.shape() + arr.ndim());
  }
};

// Any float32/float64 array-like as a C-contiguous array. ndarrays of other dtypes are a
// TypeError; non-contiguous arrays are copied; lists and scalars of numbers become float64.
Array input(py::handle obj, const char* name);

// As input(), and it must have `like`'s dtype (TypeError) and shape (ValueError).
Array input_like(py::handle obj, const char* name, const Array& like, const char* like_name);

// Validates a caller-supplied output (or allocates one when obj is None): an ndarray of the
// given dtype and shape, writeable, C-contiguous, and not partially overlapping any input
// (exactly the same buffer is allowed: in-place).
Array output(py::handle obj, const char* name, DType dtype, const std::vector<py::ssize_t>& shape,
             std::initializer_list<const Array*> inputs);

const char* dtype_name(DType d);

// Whether a dtype's elements are in this machine's byte order: a byte-swapped float64 ('>f8' on
// x86) is another dtype, which kernels cannot read.
inline bool native_byte_order(const py::dtype& dt) {
  return dt.byteorder() == '=' || dt.byteorder() == '|';
}

// Dispatch on dtype: fn(float{}) or fn(double{}).
template <class Fn>
decltype(auto) visit(DType d, Fn&& fn) {
  if (d == DType::f32) return fn(float{});
  return fn(double{});
}

// Runs fn with the GIL released when the work is large enough to be worth it.
template <class Fn>
void run_kernel(int64_t work, Fn&& fn) {
  if (work >= kReleaseGilAbove) {
    py::gil_scoped_release release;
    fn();
  } else {
    fn();
  }
}

}  // namespace fastnn::bind
