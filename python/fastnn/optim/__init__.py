"""fastnn.optim: fused optimizers (torch.optim's interface and formulas), LR schedulers, clipping.

    opt = fastnn.optim.AdamW(model_parameters, lr=1e-3)
    ...
    opt.zero_grad(); <compute p.grad for each Parameter>; opt.step()

Each optimizer step makes one native call per parameter group, updating every parameter of the
group (float32 and float64 alike) in one pass over param, grad and state. The functional forms
(adam_step, sgd_step, adagrad_step, rmsprop_step) are in fastnn.optim.functional and re-exported
at fastnn.*.
"""

from __future__ import annotations

from . import functional, lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .functional import adagrad_step, adam_step, rmsprop_step, sgd_step
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "lr_scheduler",
    "functional",
    "clip_grad_norm_",
    "clip_grad_value_",
    "adam_step",
    "sgd_step",
    "adagrad_step",
    "rmsprop_step",
]
