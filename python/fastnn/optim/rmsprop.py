"""RMSprop (torch.optim.RMSprop), fused.

For a parameter θ with gradient ∇ (g = -∇ when maximize):

    g ← g + λθ                              (weight_decay λ ≠ 0)
    v ← αv + (1 − α)g²;  ṽ ← v
    centered:  ḡ ← lerp(ḡ, g, 1 − α);  ṽ ← v − ḡ²
    momentum μ > 0:  b ← μb + g / (√ṽ + ε);  θ ← θ − γb
    otherwise:       θ ← θ − γ g / (√ṽ + ε)

Textbook RMSProp (Hinton's lecture 6e) with decay 0.9, ``E[g²] ← 0.9 E[g²] + 0.1 g²;
w ← w − η g / √(E[g²] + ε')`` is ``RMSprop(lr=η, alpha=0.9)`` with ε added after the square root
(torch's placement).
"""

from __future__ import annotations

import numpy as np

from .. import _C
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    capturable=False, foreach=None, maximize=False, differentiable=False)

    torch.optim.RMSprop's update, one fused native call per group. State: step, square_avg
    (+ momentum_buffer when momentum > 0, grad_avg when centered).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        if differentiable:
            raise ValueError("differentiable=True is not supported by fastnn")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check_group(self, group):
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"Invalid alpha value: {group['alpha']}")

    def _update(self, group, params):
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        sq, ga, bufs, steps, new = [], [], [], [], {}
        for p in params:
            st = self.state.get(p)
            fresh = not st
            if fresh:
                st = {"step": 0, "square_avg": np.zeros_like(p.data)}
            if momentum > 0 and "momentum_buffer" not in st:
                st = dict(st, momentum_buffer=np.zeros_like(p.data))
                fresh = True
            if centered and "grad_avg" not in st:
                st = dict(st, grad_avg=np.zeros_like(p.data))
                fresh = True
            if fresh:
                new[p] = st
            sq.append(st["square_avg"])
            ga.append(st.get("grad_avg"))
            bufs.append(st.get("momentum_buffer"))
            steps.append(int(st["step"]) + 1)
        _C.rmsprop_step(
            [p.data for p in params],
            [p.grad for p in params],
            sq,
            ga if centered else None,
            bufs if momentum > 0 else None,
            lr=float(group["lr"]),
            alpha=float(group["alpha"]),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum=momentum,
            centered=centered,
            maximize=bool(group["maximize"]),
        )
        for p, st in new.items():
            self.state[p] = st
        for p, s in zip(params, steps):
            self.state[p]["step"] = s
