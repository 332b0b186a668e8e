#include "arrays.h"

#include <cstring>

namespace fastnn::bind {

namespace {

py::module_& numpy() {
  static py::module_ np = py::module_::import("numpy");
  return np;
}

bool dtype_of(const py::array& a, DType* out) {
  const py::dtype dt = a.dtype();
  if (dt.kind() != 'f' || !native_byte_order(dt)) return false;
  if (dt.itemsize() == 4) {
    *out = DType::f32;
    return true;
  }
  if (dt.itemsize() == 8) {
    *out = DType::f64;
    return true;
  }
  return false;
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

bool is_c_contiguous_aligned(const py::array& a) {
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  return (flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) &&
         (flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
}

bool same_shape(const py::array& a, const std::vector<py::ssize_t>& shape) {
  if (static_cast<size_t>(a.ndim()) != shape.size()) return false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) != shape[i]) return false;
  return true;
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

}  // namespace

const char* dtype_name(DType d) { return d == DType::f32 ? "float32" : "float64"; }

Array input(py::handle obj, const char* name) {
  py::array a;
  if (py::isinstance<py::array>(obj)) {
    a = py::reinterpret_borrow<py::array>(obj);
  } else {
    // Lists, scalars, other array-likes: numbers become float64 (NumPy's default float).
    a = numpy().attr("asarray")(obj);
    const char kind = a.dtype().kind();
    if (kind == 'i' || kind == 'u' || kind == 'b') a = numpy().attr("asarray")(a, "float64");
  }
  DType dt;
  if (!dtype_of(a, &dt))
    throw py::type_error(std::string(name) + " must be a float32 or float64 array, got dtype " +
                         std::string(py::str(a.dtype())));
  if (!is_c_contiguous_aligned(a)) a = numpy().attr("ascontiguousarray")(a);
  return Array{a, dt, static_cast<int64_t>(a.size())};
}

Array input_like(py::handle obj, const char* name, const Array& like, const char* like_name) {
  Array a = input(obj, name);
  if (a.dtype != like.dtype)
    throw py::type_error(std::string(name) + " has dtype " + dtype_name(a.dtype) + " but " +
                         like_name + " has dtype " + dtype_name(like.dtype));
  if (!same_shape(a.arr, like.shape()))
    throw py::value_error(std::string(name) + " has shape " + shape_str(a.arr) + " but " +
                          like_name + " has shape " + shape_str(like.arr));
  return a;
}

Array output(py::handle obj, const char* name, DType dtype, const std::vector<py::ssize_t>& shape,
             std::initializer_list<const Array*> inputs) {
  if (obj.is_none()) {
    py::array a = dtype == DType::f32 ? py::array(py::array_t<float>(shape))
                                      : py::array(py::array_t<double>(shape));
    return Array{a, dtype, static_cast<int64_t>(a.size())};
  }
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  DType dt;
  if (!dtype_of(a, &dt) || dt != dtype)
    throw py::type_error(std::string(name) + " must have dtype " + dtype_name(dtype) + ", got " +
                         std::string(py::str(a.dtype())));
  if (!same_shape(a, shape))
    throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " +
                          shape_str(a));
  if (!a.writeable()) throw py::value_error(std::string(name) + " is read-only");
  if (!is_c_contiguous_aligned(a))
    throw py::value_error(std::string(name) + " must be C-contiguous and aligned");
  const auto* lo = static_cast<const char*>(a.data());
  const auto* hi = lo + a.nbytes();
  for (const Array* in : inputs) {
    if (in == nullptr) continue;
    const auto* ilo = static_cast<const char*>(in->arr.data());
    const auto* ihi = ilo + in->arr.nbytes();
    const bool overlap = lo < ihi && ilo < hi;
    if (overlap && !(lo == ilo && hi == ihi))
      throw py::value_error(std::string(name) +
                            " partially overlaps an input; use a separate array or the input "
                            "itself (in place)");
  }
  return Array{a, dt, static_cast<int64_t>(a.size())};
}

}  // namespace fastnn::bind
