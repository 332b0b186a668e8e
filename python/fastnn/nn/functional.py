"""Differentiable functions on fastnn Tensors (and ndarrays), the torch.nn.functional of fastnn.
Each runs the native forward now and records the native backward for Tensor.backward()."""

from __future__ import annotations

import numpy as np

import fastnn as _fn

from ..activations import activations as _registry
from ..autograd import Tensor, accumulate, as_tensor, record
from ..parameter import Parameter
from ..random import resolve


def _data(p):
    return p.data if isinstance(p, (Parameter, Tensor)) else p


def linear(input, weight, bias=None, activation=None):
    """act(input @ weight.T + bias); weight is (out_features, in_features) as torch.nn.Linear."""
    x = as_tensor(input)
    w, b = _data(weight), _data(bias)
    needs_preact = (
        activation is not None
        and not _registry[activation].has_output_backward
        and activation != "relu"
    )
    pre = np.empty(x.shape[:-1] + (w.shape[0],), dtype=w.dtype) if needs_preact else None
    y = _fn.linear(x.data, w, b, activation, preact_out=pre)

    def backward(g):
        wants_w = isinstance(weight, Parameter) and weight.requires_grad
        wants_b = isinstance(bias, Parameter) and bias.requires_grad
        gw = weight.grad if wants_w else None
        gb = bias.grad if wants_b else None
        # Accumulate straight into existing .grad buffers (torch semantics) when all exist.
        acc = (
            (gw is not None or not wants_w)
            and (gb is not None or not wants_b)
            and (wants_w or wants_b)
        )
        gi, gwn, gbn = _fn.linear_backward(
            g,
            x.data,
            w,
            activation=activation,
            y=y,
            preact=pre,
            need_grad_input=x.requires_grad,
            need_grad_weight=wants_w,
            need_grad_bias=wants_b,
            grad_weight=gw if acc else None,
            grad_bias=gb if acc else None,
            accumulate=acc,
        )
        if not acc:
            if wants_w:
                accumulate(weight, gwn)
            if wants_b:
                accumulate(bias, gbn)
        return gi, None, None

    return record(y, backward, (x, weight, bias))


def _activation(name, x, *params):
    act = _registry[name]
    x = as_tensor(x)
    y = act.forward(x.data, *params)
    if act.has_output_backward:
        return record(y, lambda g: (act.backward(g, None, *params, y=y),), (x,))
    xd = x.data
    return record(y, lambda g: (act.backward(g, xd, *params),), (x,))


def identity(x):
    return as_tensor(x)


def relu(x):
    return _activation("relu", x)


def sigmoid(x):
    return _activation("sigmoid", x)


def tanh(x):
    return _activation("tanh", x)


def leaky_relu(x, negative_slope=0.01):
    return _activation("leaky_relu", x, negative_slope)


def elu(x, alpha=1.0):
    return _activation("elu", x, alpha)


def selu(x):
    return _activation("selu", x)


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return _activation("gelu" if approximate == "none" else "gelu_tanh", x)


def silu(x):
    return _activation("silu", x)


def softplus(x, beta=1.0, threshold=20.0):
    return _activation("softplus", x, beta, threshold)


def hardsigmoid(x):
    return _activation("hardsigmoid", x)


def hardswish(x):
    return _activation("hardswish", x)


def step(x):
    return _activation("step", x)


def softmax(x, dim=-1):
    x = as_tensor(x)
    y = _fn.softmax(x.data, dim)
    return record(y, lambda g: (_fn.softmax_backward(g, y, dim),), (x,))


def log_softmax(x, dim=-1):
    x = as_tensor(x)
    y = _fn.log_softmax(x.data, dim)
    return record(y, lambda g: (_fn.log_softmax_backward(g, y, dim),), (x,))


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: dropout probability has to be between 0 and 1, got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = resolve(generator).random(x.shape) >= p
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return record(x.data * mask, lambda g: (g * mask,), (x,))


def flatten(x, start_dim=0, end_dim=-1):
    return as_tensor(x).flatten(start_dim, end_dim)


def _loss(name, input, target, **opts):
    x = as_tensor(input)
    t = _data(target)
    loss = getattr(_fn, name)(x.data, t, **opts)
    loss_arr = np.asarray(loss, dtype=x.dtype)

    def backward(g):
        go = float(g) if g.ndim == 0 else g
        return (getattr(_fn, name + "_backward")(go, x.data, t, **opts),)

    return record(loss_arr, backward, (x,))


def mse_loss(input, target, reduction="mean"):
    return _loss("mse_loss", input, target, reduction=reduction)


def l1_loss(input, target, reduction="mean"):
    return _loss("l1_loss", input, target, reduction=reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    return _loss("huber_loss", input, target, reduction=reduction, delta=delta)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    return _loss("binary_cross_entropy", input, target, weight=_data(weight), reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    return _loss(
        "binary_cross_entropy_with_logits",
        input,
        target,
        weight=_data(weight),
        reduction=reduction,
        pos_weight=_data(pos_weight),
    )


def cross_entropy(
    input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    return _loss(
        "cross_entropy",
        input,
        target,
        weight=_data(weight),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    return _loss(
        "nll_loss",
        input,
        target,
        weight=_data(weight),
        ignore_index=ignore_index,
        reduction=reduction,
    )


__all__ = [
    n
    for n in dir()
    if not n.startswith("_")
    and n
    not in (
        "np",
        "annotations",
        "Tensor",
        "Parameter",
        "accumulate",
        "as_tensor",
        "record",
        "resolve",
    )
]
