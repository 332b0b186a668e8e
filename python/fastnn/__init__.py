"""fastnn: fast CPU neural-network kernels on NumPy arrays.

The functional API (activations, softmax, losses, linear, optimizer steps) runs native SIMD +
OpenMP kernels directly on the caller's NumPy buffers. See README.md for the copy rules:
C-contiguous float32/float64 inputs are used in place; other array-likes are converted (one copy)
first.
"""

from __future__ import annotations

import os as _os

# GNU OpenMP's idle workers spin for a long time after each parallel region and take the core the
# next OpenBLAS call needs: a 256x1024x1024 training step measured 2.6x its GEMM time with the
# default, 1.16x with a 10,000-iteration spin (elementwise kernels unchanged), 0.83x with
# OMP_WAIT_POLICY=passive (but 100k-element kernels 2x slower). libgomp reads this when _C loads
# it; a value the user set wins.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

# OpenBLAS's idle workers spin for 2^28 cycles (~0.1 s) after each threaded product and hold a
# core the OpenMP kernels between products (Adam, cross entropy) need. With 2^4 they sleep at
# once: the 256x1024x1024 step's median went 30-34 -> 22-25 ms (bench/bench_train_step.py), and
# fastnn threads only products of >= 16 MFLOP, where a wake-up costs well under 1%. OpenBLAS
# reads this when it loads (next import); a value the user set wins.
if "OPENBLAS_THREAD_TIMEOUT" not in _os.environ:
    _os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"

import scipy_openblas32 as _openblas  # noqa: F401  (loads libscipy_openblas before _C needs it)

from . import _C, data, distributed, nn, optim, random
from ._C import (
    get_num_threads,
    linear,
    linear_backward,
    log_softmax,
    log_softmax_backward,
    set_num_threads,
    simd_level,
    softmax,
    softmax_backward,
    supported_simd_levels,
)
from ._config import show_config
from .activations import *  # noqa: F401,F403  (every activation function)
from .activations import __all__ as _activation_all
from .activations import activations
from .autograd import Tensor, no_grad
from .losses import *  # noqa: F401,F403  (every loss, forward / backward / forward_backward)
from .losses import __all__ as _loss_all
from .optim import (
    adagrad_step,
    adam_step,
    clip_grad_norm_,
    clip_grad_value_,
    rmsprop_step,
    sgd_step,
)
from .parameter import Parameter
from .random import manual_seed

__version__ = _C._build_info()["version"]

__all__ = [
    "Parameter",
    "Tensor",
    "no_grad",
    "manual_seed",
    "nn",
    "optim",
    "data",
    "distributed",
    "random",
    "adam_step",
    "sgd_step",
    "adagrad_step",
    "rmsprop_step",
    "clip_grad_norm_",
    "clip_grad_value_",
    "activations",
    "get_num_threads",
    "linear",
    "linear_backward",
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
