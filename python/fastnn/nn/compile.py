"""compile_step: one native call per training step for an MLP.

``step = fastnn.nn.compile_step(model, loss_fn, optimizer)`` returns a callable ``step(x, y)``
that runs forward, loss, backward and the optimizer update of ``model`` (a Sequential of Linear
layers, each optionally followed by one activation module) in a single call into C++ and
returns the loss as a Python float. It is equivalent to the module-by-module step::

    out = model(x); loss = loss_fn(out, y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

and can be mixed freely with it: each parameter's ``.grad`` holds its gradient afterwards,
``optimizer.state`` (exp_avg, momentum_buffer, step, ...) holds the very arrays the compiled step
updates, and hyperparameters (``lr`` changed by a scheduler, ...) are read from
``optimizer.param_groups`` on every call. Workspaces are allocated once for the largest batch
seen so far (``step.reserve(n)`` pre-sizes them; ``step.reallocations`` counts growths).
"""

from __future__ import annotations

from .. import _C
from . import modules as M

__all__ = ["compile_step"]

_ACTIVATIONS = {
    M.ReLU: ("relu", ()),
    M.Tanh: ("tanh", ()),
    M.Sigmoid: ("sigmoid", ()),
    M.LeakyReLU: ("leaky_relu", ("negative_slope",)),
    M.ELU: ("elu", ("alpha",)),
    M.SELU: ("selu", ()),
    M.SiLU: ("silu", ()),
    M.Softplus: ("softplus", ("beta", "threshold")),
    M.Hardsigmoid: ("hardsigmoid", ()),
    M.Hardswish: ("hardswish", ()),
    M.Step: ("step", ()),
    M.Identity: ("identity", ()),
}

_HINT = "; use the module-by-module training step (model(x), loss.backward(), optimizer.step())"


def _unsupported(what):
    return ValueError(f"compile_step does not support {what}{_HINT}")


def _flat_modules(model):
    for m in model:
        if type(m) is M.Sequential:
            yield from _flat_modules(m)
        else:
            yield m


def _activation(m):
    if type(m) is M.GELU:
        if m.approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {m.approximate!r}")
        return "gelu" if m.approximate == "none" else "gelu_tanh", 0.0, 0.0
    name, attrs = _ACTIVATIONS[type(m)]
    vals = [float(getattr(m, a)) for a in attrs] + [0.0, 0.0]
    return name, vals[0], vals[1]


def compile_step(model, loss_fn, optimizer, *, batch_size: int = 0, grad_hook=None):
    """Compile ``model`` + ``loss_fn`` + ``optimizer`` into one native training step.

    Supported: ``nn.Sequential`` (nested Sequentials are flattened) of ``nn.Linear`` layers (with
    or without bias), each optionally followed by one activation module (ReLU, Tanh, Sigmoid,
    LeakyReLU, ELU, SELU, GELU (either approximation), SiLU, Softplus, Hardsigmoid, Hardswish,
    Step, Identity), optionally starting with ``nn.Flatten()``; losses ``CrossEntropyLoss``
    (integer labels, weight=None, any ignore_index / label_smoothing, reduction mean or sum) and
    ``MSELoss`` (mean or sum); optimizers ``SGD`` (any options), ``Adam`` and ``AdamW`` (any
    options). Every trainable parameter of the model must be in the optimizer, and only those.
    Anything else raises TypeError/ValueError here, naming what is unsupported.

    Returns ``step(x, y) -> float``. x: (batch, in_features) array of the parameters' dtype
    (any trailing shape with Flatten); y: int64/int32 class indices (batch,) for cross entropy,
    or (batch, out_features) targets of the parameters' dtype for MSE. ``batch_size`` pre-sizes
    the workspaces (they also grow on demand).

    ``grad_hook``: a callable (no arguments) run with the GIL held between backward and the
    optimizer update, when every ``p.grad`` holds this step's gradient; it may modify them in
    place or assign ``p.grad`` a new array of the same shape/dtype (C-contiguous, writeable), which
    the update then reads and later steps write into. E.g. ``grad_hook=ddp.allreduce_gradients``
    for fastnn.distributed.DataParallel. Also settable later as ``step.grad_hook``. If the hook
    raises, the update is skipped (but the optimizer's step counters were already advanced).
    """
    from ..optim import SGD, Adam, AdamW

    if type(model) is not M.Sequential:
        raise TypeError(
            f"compile_step needs an nn.Sequential model, got {type(model).__name__}" + _HINT
        )
    mods = list(_flat_modules(model))
    flatten = False
    if mods and type(mods[0]) is M.Flatten:
        if mods[0].start_dim != 1 or mods[0].end_dim != -1:
            raise _unsupported("Flatten other than Flatten(start_dim=1, end_dim=-1)")
        flatten = True
        mods = mods[1:]
    layers = []
    for i, m in enumerate(mods):
        if type(m) is M.Linear:
            layers.append([m.weight, m.bias, "identity", 0.0, 0.0])
        elif type(m) in _ACTIVATIONS or type(m) is M.GELU:
            if type(m) is M.Identity:
                continue
            if not layers or layers[-1][2] != "identity":
                raise _unsupported(
                    f"{type(m).__name__} at position {i} (an activation must directly follow a "
                    "Linear layer, at most one per layer)"
                )
            layers[-1][2:5] = _activation(m)
        else:
            raise _unsupported(f"the module {type(m).__name__} (position {i})")
    if not layers:
        raise _unsupported("a model without Linear layers")

    params = []
    for lay in layers:
        params.append(lay[0])
        if lay[1] is not None:
            params.append(lay[1])
    for p in params:
        if not p.requires_grad:
            raise _unsupported("parameters with requires_grad=False")
    if len({id(p) for p in params}) != len(params):
        raise _unsupported("a parameter shared between layers")

    # Loss.
    if type(loss_fn) is M.CrossEntropyLoss:
        loss = "cross_entropy"
        if loss_fn.weight is not None:
            raise _unsupported("CrossEntropyLoss with class weights")
        ignore_index = int(loss_fn.ignore_index)
        smoothing = float(loss_fn.label_smoothing)
    elif type(loss_fn) is M.MSELoss:
        loss, ignore_index, smoothing = "mse", -100, 0.0
    else:
        raise _unsupported(f"the loss {type(loss_fn).__name__} (CrossEntropyLoss and MSELoss are)")
    if loss_fn.reduction not in ("mean", "sum"):
        raise _unsupported(f"reduction={loss_fn.reduction!r} (use 'mean' or 'sum')")

    # Optimizer.
    if type(optimizer) is SGD:
        kind = "sgd"
    elif type(optimizer) in (Adam, AdamW):
        kind = "adam"
    else:
        raise _unsupported(f"the optimizer {type(optimizer).__name__} (SGD, Adam and AdamW are)")
    index = {id(p): i for i, p in enumerate(params)}
    groups, seen = [], set()
    for gi, g in enumerate(optimizer.param_groups):
        members = []
        for p in g["params"]:
            if id(p) not in index:
                raise _unsupported(
                    f"an optimizer whose param_groups[{gi}] holds a parameter "
                    "that is not in the model"
                )
            members.append(index[id(p)])
            seen.add(id(p))
        groups.append((g["params"], members))
    if len(seen) != len(params):
        raise _unsupported("a model parameter that is not in the optimizer")

    dtypes = {p.dtype for p in params}
    if len(dtypes) != 1:
        raise TypeError(
            "compile_step: the model's parameters mix dtypes "
            f"{sorted(str(d) for d in dtypes)}; convert it with .float() or .double()"
        )
    step = _C.TrainStep(
        [tuple(lay) for lay in layers],
        flatten,
        loss,
        loss_fn.reduction,
        ignore_index,
        smoothing,
        optimizer,
        kind,
        groups,
        int(batch_size),
    )
    if grad_hook is not None:
        step.grad_hook = grad_hook
    return step
