"""A small reverse-mode autograd for fastnn.nn: `Tensor` records the operation that made it, and
`Tensor.backward()` walks the records in reverse, calling each operation's native backward.

What a forward may contain (documented in the README): fastnn modules, the functions of
`fastnn.nn.functional`, and Tensor arithmetic (+, -, * by a scalar or a Tensor of the same or a
broadcastable shape, / by a scalar, unary -), `reshape`/`view`/`flatten`. Plain NumPy calls on a
Tensor's `.data` are invisible to autograd (as `.detach().numpy()` would be in torch)."""

from __future__ import annotations

import threading
from typing import Callable, Optional, Sequence

import numpy as np

from .parameter import Parameter

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


class no_grad:
    """Context manager / decorator that turns recording off, like torch.no_grad."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        _state.enabled = False
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class Node:
    """How a Tensor was made: `backward(grad)` returns one gradient per entry of `inputs`
    (None where not needed). Parameters among the inputs get their .grad accumulated."""

    __slots__ = ("backward", "inputs")

    def __init__(self, backward: Callable, inputs: Sequence):
        self.backward = backward
        self.inputs = tuple(inputs)


def _needs_grad(v) -> bool:
    if isinstance(v, Tensor):
        return v.requires_grad
    if isinstance(v, Parameter):
        return v.requires_grad
    return False


def record(data: np.ndarray, backward: Callable, inputs: Sequence) -> "Tensor":
    """Wrap an op's result, recording its backward when any input needs a gradient."""
    if is_grad_enabled() and any(_needs_grad(v) for v in inputs):
        return Tensor(data, _node=Node(backward, inputs))
    return Tensor(data)


def accumulate(param, g: np.ndarray) -> None:
    """param.grad += g (allocating on first use), as torch accumulates into .grad."""
    if param.grad is None:
        param.grad = np.array(g, dtype=param.data.dtype, order="C", copy=True)
    else:
        param.grad += g


def _unbroadcast(g: np.ndarray, shape) -> np.ndarray:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


class Tensor:
    """An ndarray plus the record of how it was computed. `.data` is the array (zero-copy)."""

    __slots__ = ("data", "grad", "_node", "_requires_grad")
    __array_priority__ = 100

    def __init__(self, data, requires_grad: bool = False, _node: Optional[Node] = None):
        self.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        self.grad = None
        self._node = _node
        self._requires_grad = requires_grad

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self._node is not None

    @property
    def grad_fn(self):
        return self._node

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __repr__(self):
        extra = ", grad_fn" if self._node is not None else ""
        return f"Tensor({self.data!r}{extra})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    # -- shape ops ------------------------------------------------------------------------
    def reshape(self, *shape) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.shape
        return record(self.data.reshape(shape), lambda g: (g.reshape(src),), (self,))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        nd = self.ndim
        s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        shape = self.shape[:s] + (int(np.prod(self.shape[s : e + 1])),) + self.shape[e + 1 :]
        return self.reshape(shape)

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other):
        o = other.data if isinstance(other, Tensor) else other
        a, b = self.shape, np.shape(o)
        return record(
            self.data + o, lambda g: (_unbroadcast(g, a), _unbroadcast(g, b)), (self, other)
        )

    __radd__ = __add__

    def __neg__(self):
        return record(-self.data, lambda g: (-g,), (self,))

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        o = other.data if isinstance(other, Tensor) else other
        x = self.data
        a, b = self.shape, np.shape(o)
        return record(
            x * o, lambda g: (_unbroadcast(g * o, a), _unbroadcast(g * x, b)), (self, other)
        )

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if isinstance(scalar, Tensor):
            raise TypeError("Tensor / Tensor is not supported; divide by a Python number")
        return self * (1.0 / scalar)

    # -- backward ---------------------------------------------------------------------------
    def backward(self, gradient=None) -> None:
        """Accumulate d(self)/d(leaf) into every Parameter's (and leaf Tensor's) .grad."""
        if gradient is None:
            if self.data.size != 1:
                raise ValueError("gradient: backward() of a non-scalar Tensor needs a gradient")
            gradient = np.ones_like(self.data)
        gradient = np.asarray(gradient, dtype=self.data.dtype)
        if gradient.shape != self.shape:
            raise ValueError(f"gradient has shape {gradient.shape} but the tensor has {self.shape}")
        order = _topological(self)
        grads = {id(self): gradient}
        for t in order:
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._node is None:
                if t._requires_grad:
                    accumulate(t, g)
                continue
            for inp, gi in zip(t._node.inputs, t._node.backward(g)):
                if gi is None or not _needs_grad(inp):
                    continue
                if isinstance(inp, Parameter):
                    accumulate(inp, gi)
                elif id(inp) in grads:
                    grads[id(inp)] = grads[id(inp)] + gi
                else:
                    grads[id(inp)] = gi
        # Free the graph, as torch does after backward (retain_graph=False).
        for t in order:
            t._node = None


def _topological(root: Tensor):
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._node is not None:
            for inp in t._node.inputs:
                if isinstance(inp, Tensor) and id(inp) not in seen:
                    stack.append((inp, False))
    return order[::-1]


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)
