"""Functional fused optimizer steps: one native call updates a whole list of parameters in place.

    adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3,
              beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
              decoupled=False)                       # decoupled=True: AdamW
    sgd_step(params, grads, momentum_buffers=None, *, lr=1e-3, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False, maximize=False, first_step=False)
    adagrad_step(params, grads, state_sums, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 eps=1e-10, maximize=False)
    rmsprop_step(params, grads, square_avgs, grad_avgs=None, momentum_buffers=None, *, lr=1e-2,
                 alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False)

Every list has one entry per parameter. Parameters and states are writeable, C-contiguous
float32/float64 ndarrays (never copied: they are updated in place); each gradient and state has its
parameter's shape and dtype; a list may mix float32 and float64 tensors. ``step`` is the step count
after this update (1 on the first call), an int or one int per parameter; ``first_step`` (a bool or
one per parameter) initialises SGD's momentum buffer to the gradient, as torch does for a parameter
without a buffer. All lists, arrays and hyperparameters (lr >= 0, eps >= 0, 0 <= beta < 1, ...)
are validated before any array is written: a bad argument raises TypeError/ValueError naming it
(e.g. ``grads[3] has shape (3,) but params[3] has shape (4,)``) and nothing is modified.

The formulas are torch.optim's (see fastnn.optim.sgd / adagrad / rmsprop / adam). Textbook methods
as special cases:

* gradient descent ``w ← w − η∇``: ``sgd_step(ps, gs, lr=η)``;
* momentum ``v ← μv − η∇; w ← w + v``: ``sgd_step(ps, gs, bufs, lr=η, momentum=μ,
  first_step=(t == 1))`` (buffer b = −v/η, identical iterates for a constant η);
* AdaGrad: ``adagrad_step(ps, gs, sums, step=t, lr=η)`` with sums starting at 0;
* RMSProp with decay 0.9: ``rmsprop_step(ps, gs, sq, lr=η, alpha=0.9)``;
* Adam (with bias correction): ``adam_step(ps, gs, m, v, step=t, lr=η, beta1=β1, beta2=β2)``.

The multi-tensor update runs one OpenMP region over the concatenated element range of all tensors,
so 100 tensors of 100k elements cost about the same as one tensor of 10M.
"""

from __future__ import annotations

from .._C import adagrad_step, adam_step, rmsprop_step, sgd_step

__all__ = ["adam_step", "sgd_step", "adagrad_step", "rmsprop_step"]
