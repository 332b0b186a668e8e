"""Seeding: `fastnn.manual_seed(s)` resets the default generator that layer initialisation and
dropout draw from; every such function also takes an explicit `generator=` (a
numpy.random.Generator) for independent streams."""

from __future__ import annotations

import numpy as np

_default = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the default generator (like torch.manual_seed) and return it."""
    global _default
    _default = np.random.default_rng(seed)
    return _default


def default_generator() -> np.random.Generator:
    return _default


def Generator(seed=None) -> np.random.Generator:
    """An explicit generator for `generator=` arguments."""
    return np.random.default_rng(seed)


def resolve(generator) -> np.random.Generator:
    return _default if generator is None else generator
