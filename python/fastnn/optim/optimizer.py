"""The Optimizer base class: parameter groups, state, state_dict, zero_grad.

Subclasses implement ``_check_group(group)`` (hyperparameter validation, torch's messages) and
``_update(group, params)`` (one fused native call for the group's parameters that have a grad).
"""

from __future__ import annotations

import copy
from itertools import chain

import numpy as np

from ..parameter import Parameter

__all__ = ["Optimizer"]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of fastnn's optimizers (torch.optim.Optimizer's interface).

    ``params`` is an iterable of :class:`fastnn.Parameter` or of dicts (parameter groups) with a
    ``"params"`` entry and per-group hyperparameters overriding ``defaults``. Hyperparameters in
    ``param_groups`` may be changed between steps (LR schedulers do so).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, (Parameter, np.ndarray, dict)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Parameters or "
                f"dicts, but got {type(params).__name__}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -- groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        elif params is None:
            raise ValueError("param_group has no 'params' entry")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    "optimizer can only optimize fastnn.Parameter objects, but params["
                    + str(i)
                    + f"] is a {type(p).__name__} (wrap arrays with fastnn.Parameter(array))"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required "
                    f"optimization parameter {name}"
                )
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:  # pragma: no cover - overridden
        pass

    # -- stepping -------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.fill(0)

    def step(self, closure=None):
        """One optimization step over every group (parameters whose grad is None are skipped).

        Every group's hyperparameters and every gradient are checked before any parameter is
        written: an error leaves the whole model untouched. Returns closure() when given.
        """
        loss = None
        if closure is not None:
            loss = closure()
        work = []
        for gi, group in enumerate(self.param_groups):
            self._check_group(group)
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                g = p.grad
                if not isinstance(g, np.ndarray) or g.dtype != p.dtype or g.shape != p.shape:
                    raise ValueError(
                        f"param_groups[{gi}]: a parameter of shape {p.shape} and dtype {p.dtype} "
                        f"has a gradient of shape {getattr(g, 'shape', None)} and dtype "
                        f"{getattr(g, 'dtype', None)}"
                    )
            if params:
                work.append((group, params))
        for group, params in work:
            self._update(group, params)
        return loss

    def _update(self, group: dict, params: list) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- state_dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]} like torch.

        Parameters are numbered in group order; state arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            key = index.get(id(p), p)
            state[key] = {
                k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                for k, v in s.items()
            }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state and hyperparameters saved by state_dict() (validated before applied)."""
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state = {}
        for key, value in state_dict["state"].items():
            if key not in id_map:
                continue
            p = id_map[key]
            new = {}
            for k, v in value.items():
                if isinstance(v, np.ndarray) and k != "step":
                    if v.shape != p.shape:
                        raise ValueError(
                            f"state {key} entry {k!r} has shape {v.shape} but its parameter "
                            f"has shape {p.shape}"
                        )
                    v = np.array(v, dtype=p.dtype, order="C", copy=True)
                elif k == "step":
                    v = int(np.asarray(v).item()) if not isinstance(v, int) else v
                else:
                    v = copy.deepcopy(v)
                new[k] = v
            state[p] = new
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            self._check_group(s)
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)
