"""fastnn.nn: torch.nn-style modules, losses and autograd on fastnn's native kernels."""

from ..autograd import Tensor, no_grad
from ..parameter import Parameter
from . import functional, utils
from .compile import compile_step
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all

__all__ = ["Parameter", "Tensor", "compile_step", "functional", "no_grad", "utils", *_modules_all]
