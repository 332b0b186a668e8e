"""Loss functions with torch.nn.functional's semantics, forward and backward, on NumPy arrays.

Every loss ``f`` (float32 or float64; ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"``) has

- ``f(input, target, ...)``: the loss, a NumPy scalar of input's dtype for ``"mean"``/``"sum"``
  (the mean of nothing is nan, like torch), an array of per-element / per-sample losses for
  ``"none"``;
- ``f_backward(grad_output, input, target, ..., *, out=None)``: the gradient wrt ``input``;
  ``grad_output`` is a scalar for ``"mean"``/``"sum"`` and has the per-element / per-sample
  shape for ``"none"``;
- ``f_forward_backward(input, target, ..., *, grad_output=None, out=None)``: ``(loss, grad)`` in
  one pass (``grad_output`` defaults to 1), for fused training steps.

Sums are accumulated in double over fixed blocks, so results do not depend on the thread count.
Arguments are validated before anything is written: mismatched shapes and bad reductions raise
ValueError, wrong dtypes TypeError, class indices outside ``[0, C)`` (other than
``ignore_index``) and binary_cross_entropy inputs/targets outside ``[0, 1]`` (NaN included)
ValueError.

``cross_entropy`` takes logits ``(N, C)`` (or ``(C,)``) and either class indices of any integer
dtype, shape ``(N,)`` (or ``()``), or class probabilities of input's shape and dtype; the
log-softmax and the NLL are fused in one pass per row, stable for logits of any magnitude.
"""

from __future__ import annotations

from ._C import (
    binary_cross_entropy,
    binary_cross_entropy_backward,
    binary_cross_entropy_forward_backward,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    binary_cross_entropy_with_logits_forward_backward,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward_backward,
    huber_loss,
    huber_loss_backward,
    huber_loss_forward_backward,
    l1_loss,
    l1_loss_backward,
    l1_loss_forward_backward,
    mse_loss,
    mse_loss_backward,
    mse_loss_forward_backward,
    nll_loss,
    nll_loss_backward,
    nll_loss_forward_backward,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_forward_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "binary_cross_entropy_with_logits_forward_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "cross_entropy_forward_backward",
    "huber_loss",
    "huber_loss_backward",
    "huber_loss_forward_backward",
    "l1_loss",
    "l1_loss_backward",
    "l1_loss_forward_backward",
    "mse_loss",
    "mse_loss_backward",
    "mse_loss_forward_backward",
    "nll_loss",
    "nll_loss_backward",
    "nll_loss_forward_backward",
]
