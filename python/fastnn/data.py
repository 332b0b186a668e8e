"""Mini-batch iteration over NumPy arrays."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

from .random import resolve


def batches(
    X,
    y=None,
    batch_size: int = 32,
    shuffle: bool = True,
    rng=None,
    drop_last: bool = False,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
) -> Iterator[Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Yield (X_batch, y_batch) pairs covering the data once (an epoch).

    Shuffled with `rng` (a numpy Generator or seed; default: fastnn's default generator) when
    `shuffle`. Batches are contiguous copies when shuffled (fancy indexing), views otherwise.

    Data-parallel sharding: with `rank` and `world_size`, each global batch of `batch_size` rows
    is split as evenly as possible into `world_size` parts (``np.array_split``) and only part
    `rank` is yielded. Every rank must pass the same `rng` seed so that they all draw the same
    permutation (see fastnn.distributed.shard_batches)."""
    X = np.asarray(X)
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} rows but X has {n}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if (rank is None) != (world_size is None):
        raise ValueError("rank and world_size must be given together")
    if world_size is not None:
        if not isinstance(world_size, (int, np.integer)) or world_size < 1:
            raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank!r}")
    if shuffle:
        gen = np.random.default_rng(rng) if isinstance(rng, (int, np.integer)) else resolve(rng)
        order = gen.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if world_size is not None:
            end = min(start + batch_size, n)
            # The same split as np.array_split(range(start, end), world_size)[rank].
            q, r = divmod(end - start, world_size)
            lo = start + rank * q + min(rank, r)
            hi = lo + q + (1 if rank < r else 0)
            if shuffle:
                idx = order[lo:hi]
                yield X[idx], (None if y is None else y[idx])
            else:
                yield X[lo:hi], (None if y is None else y[lo:hi])
            continue
        if shuffle:
            idx = order[start : start + batch_size]
            yield X[idx], (None if y is None else y[idx])
        else:
            sl = slice(start, start + batch_size)
            yield X[sl], (None if y is None else y[sl])
