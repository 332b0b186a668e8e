"""Elementwise activations and the registry that maps each name to its functions.

Every activation ``f`` has ``f(x, *params, out=None)``, ``f_derivative(x, *params, out=None)`` and
``f_backward(grad_out, x, *params, out=None)`` (``grad_out * f'(x)`` in one pass). ``sigmoid`` and
``tanh`` also take ``y=`` (their output) instead of ``x`` in the backward. The native functions are
generated from one table in C++ (cpp/include/fastnn/activation_list.h); this module adds ``gelu``'s
``approximate`` switch and the registry.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from . import _C


class Activation(NamedTuple):
    """An activation's functions, as registered in :data:`activations`."""

    name: str
    forward: Callable
    derivative: Callable
    backward: Callable
    params: tuple  # names of its keyword parameters, in order
    has_output_backward: bool  # backward accepts y= (the forward's output)


def _check_approximate(approximate: str) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return "gelu" if approximate == "none" else "gelu_tanh"


def gelu(x, approximate: str = "none", *, out=None):
    """GELU: x * Phi(x) (exact, erf-based) or its tanh approximation (approximate='tanh')."""
    return getattr(_C, _check_approximate(approximate))(x, out=out)


def gelu_derivative(x, approximate: str = "none", *, out=None):
    """d/dx GELU(x), for either form."""
    return getattr(_C, _check_approximate(approximate) + "_derivative")(x, out=out)


def gelu_backward(grad_out, x, approximate: str = "none", *, out=None):
    """grad_out * GELU'(x) in one pass."""
    return getattr(_C, _check_approximate(approximate) + "_backward")(grad_out, x, out=out)


activations: dict[str, Activation] = {}
__all__ = ["Activation", "activations", "gelu", "gelu_derivative", "gelu_backward"]

for _name, _params, _has_y in _C._activation_names:
    _fns = (
        getattr(_C, _name),
        getattr(_C, _name + "_derivative"),
        getattr(_C, _name + "_backward"),
    )
    activations[_name] = Activation(_name, *_fns, tuple(_params), bool(_has_y))
    if _name.startswith("gelu"):
        continue  # exposed through gelu(approximate=...) above
    for _fn in _fns:
        globals()[_fn.__name__] = _fn
        __all__.append(_fn.__name__)

# Names scikit-learn and textbooks use for the same functions.
activations["logistic"] = activations["sigmoid"]
activations["heaviside"] = activations["step"]
activations["swish"] = activations["silu"]
