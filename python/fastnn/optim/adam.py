"""Adam and AdamW (torch.optim.Adam / AdamW), fused.

For a parameter θ with gradient ∇ (g = -∇ when maximize), at step t = 1, 2, ...:

    AdamW: θ ← θ(1 − γλ)           Adam: g ← g + λθ      (weight_decay λ)
    m ← β1 m + (1 − β1) g          (computed as torch's lerp)
    v ← β2 v + (1 − β2) g²
    v_max ← max(v_max, v)          (amsgrad; then v_max replaces v below)
    θ ← θ − (γ / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)

Bias corrections are formed in double once per step; float32 parameters are updated in float32
arithmetic with the denominator computed as √v / √(1 − β2^t) + ε, exactly as torch orders it.

Textbook Adam (Kingma & Ba, Algorithm 1) is this with λ = 0: m̂ = m/(1 − β1^t),
v̂ = v/(1 − β2^t), θ ← θ − γ m̂ / (√v̂ + ε). The variant "without bias correction" that some texts
show (θ ← θ − γ m / (√v + ε)) is *not* torch's Adam: early steps differ by the factor
√(1 − β2^t)/(1 − β1^t) (≈ 0.32 at t = 1 with the default betas) and ε is effectively rescaled.
"""

from __future__ import annotations

import numpy as np

from .. import _C
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False)

    torch.optim.Adam's update (decoupled_weight_decay=True gives AdamW), one fused native call
    per parameter group. State per parameter: step (int), exp_avg, exp_avg_sq
    (and max_exp_avg_sq with amsgrad).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        if differentiable:
            raise ValueError("differentiable=True is not supported by fastnn")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_group(self, group):
        lr, eps, betas, wd = group["lr"], group["eps"], group["betas"], group["weight_decay"]
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair, got {betas!r}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= wd:
            raise ValueError(f"Invalid weight_decay value: {wd}")

    def _update(self, group, params):
        amsgrad = bool(group["amsgrad"])
        m, v, vmax, steps, new = [], [], [], [], {}
        for p in params:
            st = self.state.get(p)
            if not st:
                st = {
                    "step": 0,
                    "exp_avg": np.zeros_like(p.data),
                    "exp_avg_sq": np.zeros_like(p.data),
                }
                if amsgrad:
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
                new[p] = st
            elif amsgrad and "max_exp_avg_sq" not in st:
                st = dict(st, max_exp_avg_sq=np.zeros_like(p.data))
                new[p] = st
            m.append(st["exp_avg"])
            v.append(st["exp_avg_sq"])
            if amsgrad:
                vmax.append(st["max_exp_avg_sq"])
            steps.append(int(st["step"]) + 1)
        beta1, beta2 = group["betas"]
        _C.adam_step(
            [p.data for p in params],
            [p.grad for p in params],
            m,
            v,
            vmax if amsgrad else None,
            step=steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            amsgrad=amsgrad,
            maximize=bool(group["maximize"]),
            decoupled=bool(group["decoupled_weight_decay"]),
        )
        for p, st in new.items():
            self.state[p] = st
        for p, s in zip(params, steps):
            self.state[p]["step"] = s


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False, foreach=None, capturable=False, differentiable=False, fused=None)

    Adam with decoupled weight decay: θ ← θ(1 − lr·weight_decay) before the Adam update
    (torch.optim.AdamW).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
