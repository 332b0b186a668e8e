"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ (torch.nn.utils semantics).

clip_grad_norm_ makes two native passes over all gradients: one reduction for the total norm
(float64 accumulation, fixed blocks so the result does not depend on the thread count), then one
in-place scale by ``min(1, max_norm / (total_norm + 1e-6))``. Norm types 1, 2 and inf run
natively; other orders are computed with NumPy in float64.

Every gradient must be a writeable float32/float64 array (non-contiguous ones are clipped with
NumPy, in place); all are checked before any is written, so a call that raises TypeError/ValueError
leaves every gradient as it was.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..parameter import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _grads(parameters) -> list:
    """The gradients to clip, all validated before any is written: float32/float64 arrays
    (TypeError otherwise), writeable (ValueError otherwise)."""
    if isinstance(parameters, (Parameter, np.ndarray)):
        parameters = [parameters]
    out = []
    for i, p in enumerate(parameters):
        if isinstance(p, Parameter):
            g = p.grad
            if g is None:
                continue
        elif isinstance(p, np.ndarray):
            g = p  # an array is taken to be a gradient itself
        else:
            raise TypeError(f"parameters must be Parameters or arrays, got {type(p).__name__}")
        if g.dtype not in _FLOATS:
            raise TypeError(
                f"parameters[{i}]: the gradient must be a float32 or float64 array, got dtype "
                f"{g.dtype}"
            )
        if not g.flags.writeable:
            raise ValueError(f"parameters[{i}]: the gradient is read-only (it is clipped in place)")
        out.append(g)
    return out


def _native_ok(a: np.ndarray) -> bool:
    return a.flags.c_contiguous and a.flags.aligned  # else clipped with NumPy, in place


def _inplace(grads, native_fn, numpy_fn) -> None:
    native = [g for g in grads if _native_ok(g)]
    if native:
        native_fn(native)
    for g in grads:
        if not _native_ok(g):
            numpy_fn(g)


def _total_norm(grads, p: float) -> float:
    if p in (1.0, 2.0, math.inf):
        r = _C._norm_reduce(grads, p)
        return math.sqrt(r) if p == 2.0 else float(r)
    per = [np.linalg.norm(np.asarray(g, dtype=np.float64).ravel(), ord=p) for g in grads]
    return float(np.linalg.norm(np.asarray(per, dtype=np.float64), ord=p))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of `parameters` in place so their total `norm_type`-norm is at most
    `max_norm`; returns the total norm before clipping (a float).

    `parameters`: a Parameter, an array (taken as a gradient) or an iterable of those; parameters
    whose grad is None are skipped. As torch: coefficient ``max_norm / (total + 1e-6)`` clamped to
    1; a non-finite total raises RuntimeError when `error_if_nonfinite`, else it is applied
    (NaN gradients result).
    """
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    total = _total_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = max_norm / (total + 1e-6)
    coef = coef if (math.isnan(coef) or coef < 1.0) else 1.0
    if coef != 1.0:
        _inplace(
            grads,
            lambda gs: _C._scale_(gs, coef),
            lambda g: np.multiply(g, g.dtype.type(coef), out=g),
        )
    return total


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient of `parameters` to [-clip_value, clip_value] in place (NaN kept; a
    NaN clip_value makes every gradient NaN, as torch.clamp)."""
    grads = _grads(parameters)
    v = float(clip_value)
    _inplace(grads, lambda gs: _C._clamp_(gs, -v, v), lambda g: np.clip(g, -v, v, out=g))
