"""Mini-batch iteration over NumPy arrays."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

from .random import resolve


def batches(X, y=None, batch_size: int = 32, shuffle: bool = True, rng=None,
            drop_last: bool = False) -> Iterator[Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Yield (X_batch, y_batch) pairs covering the data once (an epoch).

    Shuffled with `rng` (a numpy Generator or seed; default: fastnn's default generator) when
    `shuffle`. Batches are contiguous copies when shuffled (fancy indexing), views otherwise."""
    X = np.asarray(X)
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} rows but X has {n}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle:
        gen = np.random.default_rng(rng) if isinstance(rng, (int, np.integer)) else resolve(rng)
        order = gen.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if shuffle:
            idx = order[start : start + batch_size]
            yield X[idx], (None if y is None else y[idx])
        else:
            sl = slice(start, start + batch_size)
            yield X[sl], (None if y is None else y[sl])
