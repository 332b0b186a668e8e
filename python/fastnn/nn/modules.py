"""torch.nn-style modules: Module, Sequential, Linear, Dropout, Flatten, one module per activation,
and the loss modules. State dicts use torch's keys and shapes, so a torch MLP's state_dict
(converted to NumPy) loads into the equivalent fastnn model."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..autograd import Tensor
from ..parameter import Parameter
from ..random import resolve
from . import functional as F


class Module:
    """Base class: assign Parameters and Modules as attributes and they are registered."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        params, mods = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        mods.pop(name, None)
        if isinstance(value, Parameter) or (value is None and name in ("bias",)):
            params[name] = value
        elif isinstance(value, Module):
            mods[name] = value
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ----------------------------------------------------------------------------
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator:
        seen = set()
        for mod_prefix, mod in self.named_modules(prefix) if recurse else [(prefix, self)]:
            for name, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    # -- modes and grads ----------------------------------------------------------------------
    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def to(self, dtype):
        """Convert every parameter to float32 or float64 (a copy, like torch's .to(dtype))."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter arrays by torch's dotted names (the arrays themselves, not copies)."""
        return OrderedDict((name, p.data) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into the parameters in place. Accepts NumPy arrays, torch tensors (via
        np.asarray) or anything array-like. Every key and shape is checked before any copy."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        staged = []
        for k, p in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            v = np.asarray(v)
            if v.shape != p.data.shape:
                raise ValueError(
                    f"state_dict[{k!r}] has shape {v.shape}, the parameter has {p.data.shape}"
                )
            staged.append((p, v))
        for p, v in staged:
            np.copyto(p.data, v, casting="same_kind")
        return missing, unexpected

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + (")" if len(lines) == 1 else "\n)")


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                setattr(self, name, m)
        else:
            for i, m in enumerate(modules):
                setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self


class Linear(Module):
    """y = x @ weight.T + bias, with torch's default init (kaiming-uniform, a = sqrt(5): both
    weight and bias uniform in +-1/sqrt(in_features))."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, generator=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = resolve(generator)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        w = rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        self.weight = Parameter(w)
        self.bias = (
            Parameter(rng.uniform(-bound, bound, out_features).astype(dtype)) if bias else None
        )

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x):
        return F.identity(x)


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)


class Dropout(Module):
    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p: dropout probability has to be between 0 and 1, got {p}")
        self.p, self.generator = p, generator

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


def _activation_module(name, fn, params=(), doc=""):
    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        values = dict(params)
        names = [p for p, _ in params]
        if len(args) > len(names):
            raise TypeError(f"{name} takes at most {len(names)} positional arguments")
        for k, v in zip(names, args):
            values[k] = v
        for k, v in kwargs.items():
            if k == "inplace":
                continue  # accepted for torch compatibility; fastnn never mutates the input
            if k not in values:
                raise TypeError(f"{name} got an unexpected keyword argument {k!r}")
            values[k] = v
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def forward(self, x):
        return fn(x, *(getattr(self, p) for p, _ in params))

    def extra_repr(self):
        return ", ".join(f"{p}={getattr(self, p)!r}" for p, _ in params)

    return type(
        name,
        (Module,),
        {"__init__": __init__, "forward": forward, "extra_repr": extra_repr, "__doc__": doc},
    )


ReLU = _activation_module("ReLU", F.relu)
Sigmoid = _activation_module("Sigmoid", F.sigmoid)
Tanh = _activation_module("Tanh", F.tanh)
LeakyReLU = _activation_module("LeakyReLU", F.leaky_relu, (("negative_slope", 0.01),))
ELU = _activation_module("ELU", F.elu, (("alpha", 1.0),))
SELU = _activation_module("SELU", F.selu)
GELU = _activation_module("GELU", F.gelu, (("approximate", "none"),))
SiLU = _activation_module("SiLU", F.silu)
Softplus = _activation_module("Softplus", F.softplus, (("beta", 1.0), ("threshold", 20.0)))
Hardsigmoid = _activation_module("Hardsigmoid", F.hardsigmoid)
Hardswish = _activation_module("Hardswish", F.hardswish)
Step = _activation_module("Step", F.step)
Softmax = _activation_module("Softmax", F.softmax, (("dim", -1),))
LogSoftmax = _activation_module("LogSoftmax", F.log_softmax, (("dim", -1),))


def _loss_module(name, fn, params):
    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        values = dict(params)
        names = [p for p, _ in params]
        for k, v in zip(names, args):
            values[k] = v
        for k, v in kwargs.items():
            if k not in values:
                raise TypeError(f"{name} got an unexpected keyword argument {k!r}")
            values[k] = v
        if values.get("reduction", "mean") not in ("mean", "sum", "none"):
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none', got {values['reduction']!r}"
            )
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def forward(self, input, target):
        return fn(input, target, **{p: getattr(self, p) for p, _ in params})

    return type(name, (Module,), {"__init__": __init__, "forward": forward})


MSELoss = _loss_module("MSELoss", F.mse_loss, (("reduction", "mean"),))
L1Loss = _loss_module("L1Loss", F.l1_loss, (("reduction", "mean"),))
HuberLoss = _loss_module("HuberLoss", F.huber_loss, (("reduction", "mean"), ("delta", 1.0)))
BCELoss = _loss_module("BCELoss", F.binary_cross_entropy, (("weight", None), ("reduction", "mean")))
BCEWithLogitsLoss = _loss_module(
    "BCEWithLogitsLoss",
    F.binary_cross_entropy_with_logits,
    (("weight", None), ("reduction", "mean"), ("pos_weight", None)),
)
CrossEntropyLoss = _loss_module(
    "CrossEntropyLoss",
    F.cross_entropy,
    (("weight", None), ("ignore_index", -100), ("reduction", "mean"), ("label_smoothing", 0.0)),
)
NLLLoss = _loss_module(
    "NLLLoss", F.nll_loss, (("weight", None), ("ignore_index", -100), ("reduction", "mean"))
)

__all__ = [
    "Module",
    "Sequential",
    "Linear",
    "Identity",
    "Flatten",
    "Dropout",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "SELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Hardsigmoid",
    "Hardswish",
    "Step",
    "Softmax",
    "LogSoftmax",
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "Tensor",
]
