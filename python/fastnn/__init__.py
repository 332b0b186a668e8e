"""fastnn: fast CPU neural-network kernels on NumPy arrays.

The functional API (activations, softmax, ...) runs native SIMD + OpenMP kernels directly on the
caller's NumPy buffers. See README.md for the copy rules: C-contiguous float32/float64 inputs are
used in place; other array-likes are converted (one copy) first.
"""

from __future__ import annotations

from . import _C
from ._C import (
    get_num_threads,
    log_softmax,
    log_softmax_backward,
    set_num_threads,
    simd_level,
    softmax,
    softmax_backward,
    supported_simd_levels,
)
from .activations import *  # noqa: F401,F403  (re-exports every activation function)
from .activations import __all__ as _activation_all
from .activations import activations
from .losses import *  # noqa: F401,F403  (re-exports every loss function)
from .losses import __all__ as _loss_all
from ._config import show_config

__version__ = _C._build_info()["version"]

__all__ = [
    "activations",
    "get_num_threads",
    "log_softmax",
    "log_softmax_backward",
    "set_num_threads",
    "show_config",
    "simd_level",
    "softmax",
    "softmax_backward",
    "supported_simd_levels",
    *_activation_all,
    *_loss_all,
]
