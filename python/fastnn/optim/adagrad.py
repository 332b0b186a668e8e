"""Adagrad (torch.optim.Adagrad), fused.

For a parameter θ with gradient ∇ (g = -∇ when maximize), at step t = 1, 2, ...:

    g ← g + λθ                      (weight_decay λ ≠ 0)
    γ̃ = γ / (1 + (t − 1) η)         (lr_decay η, formed in double on the host)
    s ← s + g²                      (s starts at initial_accumulator_value)
    θ ← θ − γ̃ g / (√s + ε)

Textbook AdaGrad (Duchi et al.) ``w ← w − η ∇ / √(Σ∇² + ε')`` is ``Adagrad(lr=η)`` with ε placed
after the square root (torch's placement, default 1e-10).
"""

from __future__ import annotations

import numpy as np

from .. import _C
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None)

    torch.optim.Adagrad's update, one fused native call per group. State: step, sum.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        if differentiable:
            raise ValueError("differentiable=True is not supported by fastnn")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates the state eagerly
            for p in group["params"]:
                self.state[p] = self._init_state(p, group)

    @staticmethod
    def _init_state(p, group):
        return {"step": 0, "sum": np.full_like(p.data, float(group["initial_accumulator_value"]))}

    def _check_group(self, group):
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["lr_decay"]:
            raise ValueError(f"Invalid lr_decay value: {group['lr_decay']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["initial_accumulator_value"]:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {group['initial_accumulator_value']}"
            )
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")

    def _update(self, group, params):
        sums, steps, new = [], [], {}
        for p in params:
            st = self.state.get(p)
            if not st:
                st = self._init_state(p, group)
                new[p] = st
            sums.append(st["sum"])
            steps.append(int(st["step"]) + 1)
        _C.adagrad_step(
            [p.data for p in params],
            [p.grad for p in params],
            sums,
            step=steps,
            lr=float(group["lr"]),
            lr_decay=float(group["lr_decay"]),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            maximize=bool(group["maximize"]),
        )
        for p, st in new.items():
            self.state[p] = st
        for p, s in zip(params, steps):
            self.state[p]["step"] = s
