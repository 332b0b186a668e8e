"""fastnn.Parameter: a trainable array and its gradient.

A :class:`Parameter` wraps a C-contiguous float32/float64 NumPy array (``.data``, used without a
copy when it already is one) together with its gradient (``.grad``: an array of the same shape and
dtype, or None). Optimizers update ``.data`` in place, so any other reference to that array sees
the new values. NumPy functions accept a Parameter directly (``np.sum(p)``) through ``__array__``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Parameter"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_data(data, dtype=None) -> np.ndarray:
    if isinstance(data, Parameter):
        data = data.data
    arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    if arr.dtype not in _FLOATS:
        if arr.dtype.kind in "iub" and dtype is None:
            arr = arr.astype(np.float64)
        else:
            raise TypeError(f"data must be a float32 or float64 array, got dtype {arr.dtype}")
    if not (arr.flags.c_contiguous and arr.flags.aligned and arr.flags.writeable):
        arr = np.array(arr, order="C", copy=True)  # the one case where a copy is made
    return arr


class Parameter:
    """A trainable array: ``.data`` (float32/float64, C-contiguous), ``.grad`` and
    ``.requires_grad``.

    ``Parameter(data, requires_grad=True, dtype=None)``: `data` is used as is (no copy) when it is a
    writeable C-contiguous float32/float64 ndarray; otherwise it is converted once (integers and
    lists become float64 unless `dtype` is given).
    """

    __slots__ = ("_data", "_grad", "requires_grad", "__weakref__")

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        self._data = _as_data(data, dtype)
        self._grad = None
        self.requires_grad = bool(requires_grad)

    # -- data / grad ----------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data = _as_data(value)

    @property
    def grad(self):
        """The gradient (same shape and dtype as data) or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, Parameter):
            value = value.data
        if not isinstance(value, np.ndarray):
            value = np.asarray(value, dtype=self._data.dtype)
        if value.dtype != self._data.dtype:
            raise TypeError(
                f"grad has dtype {value.dtype} but the parameter has dtype {self._data.dtype}"
            )
        if value.shape != self._data.shape:
            raise ValueError(
                f"grad has shape {value.shape} but the parameter has shape {self._data.shape}"
            )
        self._grad = value

    # -- array-like -----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self) -> np.ndarray:
        """The underlying array (no copy)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError("a copy is needed to convert the parameter to " + str(dtype))
            return a.astype(dtype)
        return a.copy() if copy else a

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Parameter(")
        extra = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter({body}, dtype={self._data.dtype}{extra})"
