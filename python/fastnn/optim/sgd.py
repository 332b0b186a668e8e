"""SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD).

Update for a parameter θ with gradient ∇ (g = -∇ when maximize):

    g ← g + λθ                           (weight_decay λ ≠ 0)
    b ← g  (first step), else b ← μb + (1 − τ)g     (momentum μ ≠ 0, dampening τ)
    g ← g + μb  (nesterov)  or  g ← b
    θ ← θ − γg

Textbook special cases:

* plain gradient descent ``w ← w − η∇`` is ``SGD(params, lr=η)`` (momentum 0);
* classical momentum ``v ← γ_m v − η∇; w ← w + v`` is ``SGD(params, lr=η, momentum=γ_m)``:
  torch's buffer b = −v/η, so both produce the same iterates while η is constant (they differ
  only when the learning rate changes between steps: torch applies the new lr to the whole buffer).
"""

from __future__ import annotations

import numpy as np

from .. import _C
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
    maximize=False, foreach=None, differentiable=False, fused=None)

    torch.optim.SGD's update, one fused native call per parameter group (``foreach`` and
    ``fused`` are accepted for compatibility: fastnn always runs its fused multi-tensor kernel).
    State: ``momentum_buffer`` per parameter when momentum != 0.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        if differentiable:
            raise ValueError("differentiable=True is not supported by fastnn")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _check_group(self, group):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= wd:
            raise ValueError(f"Invalid weight_decay value: {wd}")
        if group["nesterov"] and (momentum <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group, params):
        momentum = float(group["momentum"])
        bufs, first, new = None, False, {}
        if momentum != 0:
            bufs, first = [], []
            for p in params:
                buf = self.state.get(p, {}).get("momentum_buffer")
                if buf is None:
                    buf = np.empty_like(p.data)
                    new[p] = buf
                bufs.append(buf)
                first.append(p in new)
        _C.sgd_step(
            [p.data for p in params],
            [p.grad for p in params],
            bufs,
            lr=float(group["lr"]),
            momentum=momentum,
            dampening=float(group["dampening"]),
            weight_decay=float(group["weight_decay"]),
            nesterov=bool(group["nesterov"]),
            maximize=bool(group["maximize"]),
            first_step=first,
        )
        for p, buf in new.items():
            self.state.setdefault(p, {})["momentum_buffer"] = buf
