"""fastnn.distributed: data-parallel training over MPI (mpi4py).

Install the optional extra (``pip install "fastnn[mpi]"``, which brings mpi4py and the MPICH
wheel) or, on a cluster, ``pip install mpi4py`` built against the system MPI. Launch with::

    mpiexec -n 4 python -m mpi4py train.py

(``-m mpi4py`` makes an uncaught exception on one rank abort the whole job instead of leaving
the other ranks waiting in a collective forever.) mpi4py is imported lazily, on first use: this
module imports without it.

Usage (module path)::

    ddp = fastnn.distributed.DataParallel(model)        # broadcasts rank 0's parameters
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in fastnn.distributed.shard_batches(X, y, batch_size=256, rng_seed=epoch):
        loss = crit(model(xb), yb)
        ddp.zero_grad()                                  # NOT opt.zero_grad(): see below
        loss.backward()
        ddp.allreduce_gradients()                        # one Allreduce, averaged
        opt.step()

Every gradient lives in ONE contiguous buffer per dtype (each ``p.grad`` is a view into it), so
the gradient exchange is a single in-place ``Allreduce`` per dtype. Backward accumulates into an
existing ``.grad`` in place, which keeps the views. ``optimizer.zero_grad()`` (set_to_none=True
by default) would replace them with None and the next backward would allocate fresh arrays:
use ``ddp.zero_grad()`` (zeroes the buffer in place). As a safety net, ``allreduce_gradients()``
copies any gradient that is no longer a view back into the buffer (a None gradient counts as
zero) and re-attaches the views, so a stray ``optimizer.zero_grad()`` costs a copy, not
correctness.

With the mean reduction of the loss on equal local batches, averaging the gradients over the
ranks gives exactly the gradient of the global batch (up to float rounding): the result equals
single-process training on the global batch. Use a global batch size divisible by the world size
(``shard_batches`` splits each global batch as evenly as possible; the last, partial batch of an
epoch is weighted slightly differently unless ``drop_last=True``).

Compiled path: ``step = fastnn.nn.compile_step(model, crit, opt,
grad_hook=ddp.allreduce_gradients)``; ``step(xb, yb)`` then runs forward + backward natively,
calls the hook (GIL held) and applies the update to the averaged gradients. The compiled step
overwrites the gradients (no accumulation), so no zero_grad is needed; after the first step it
writes them straight into the DataParallel buffer.

Limitations / follow-ups: no bucketed ``Iallreduce`` overlap with backward (one blocking
Allreduce after backward; fastnn's backward is a few large GEMMs, so the overlap would hide at
most the exchange of the last layers' gradients); reductions use MPI's builtin SUM, which MPICH
computes identically on every rank (replicas stay bitwise equal; ``parameters_bytes()`` helps
to check).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["DataParallel", "fit", "get_comm", "rank", "shard_batches", "world_size"]


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fastnn.distributed needs mpi4py: pip install 'fastnn[mpi]' (mpi4py + the MPICH "
            "wheel) or pip install mpi4py built against your system MPI"
        ) from e
    return MPI


def get_comm(comm=None):
    """`comm`, or MPI.COMM_WORLD when None."""
    return _mpi().COMM_WORLD if comm is None else comm


def rank(comm=None) -> int:
    return get_comm(comm).Get_rank()


def world_size(comm=None) -> int:
    return get_comm(comm).Get_size()


class DataParallel:
    """Data-parallel replica of `model` on every rank of `comm` (default MPI.COMM_WORLD).

    On creation the parameters of rank `root` are broadcast to every rank (one Bcast per dtype of
    a contiguous buffer) and every trainable parameter's gradient is moved into one contiguous
    buffer per dtype (``p.grad`` becomes a view; an existing gradient is copied in).
    """

    def __init__(self, model, comm=None, root: int = 0):
        MPI = _mpi()
        self.module = model
        self.comm = get_comm(comm)
        self.root = int(root)
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self._MPI = MPI
        all_params = list(model.parameters())
        if len({id(p) for p in all_params}) != len(all_params):
            seen, uniq = set(), []
            for p in all_params:
                if id(p) not in seen:
                    seen.add(id(p))
                    uniq.append(p)
            all_params = uniq
        self.parameters = all_params
        self.broadcast_parameters()
        # One gradient buffer per dtype; the order of the parameters is the model's, identical on
        # every rank (same model definition).
        self._groups = []  # (buffer, [(param, view)])
        for dt in sorted({p.dtype for p in all_params if p.requires_grad}, key=str):
            ps = [p for p in all_params if p.requires_grad and p.dtype == dt]
            buf = np.zeros(sum(p.size for p in ps), dtype=dt)
            views, off = [], 0
            for p in ps:
                v = buf[off : off + p.size].reshape(p.shape)
                if p.grad is not None:
                    v[...] = p.grad
                p.grad = v
                views.append((p, v))
                off += p.size
            self._groups.append((buf, views))

    # -- parameters -------------------------------------------------------------------------
    def broadcast_parameters(self) -> None:
        """Copy rank root's parameter values to every rank (one Bcast per dtype)."""
        for dt in sorted({p.dtype for p in self.parameters}, key=str):
            ps = [p for p in self.parameters if p.dtype == dt]
            buf = np.concatenate([p.data.ravel() for p in ps]) if ps else np.zeros(0, dt)
            self.comm.Bcast(buf, root=self.root)
            if self.rank != self.root:
                off = 0
                for p in ps:
                    p.data[...] = buf[off : off + p.size].reshape(p.shape)  # in place
                    off += p.size

    @property
    def grad_buffers(self):
        """The contiguous gradient buffers (one per dtype)."""
        return [buf for buf, _ in self._groups]

    def _reattach(self, buf, views) -> None:
        for p, v in views:
            g = p.grad
            if g is v:
                continue
            if g is None:
                v.fill(0)
            else:
                v[...] = g
            p.grad = v

    # -- gradients --------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Zero every gradient in place (keeps ``p.grad`` a view into the shared buffer)."""
        for buf, views in self._groups:
            buf.fill(0)
            for p, v in views:
                if p.grad is not v:
                    p.grad = v

    def allreduce_gradients(self) -> None:
        """Average the gradients over the ranks: one in-place Allreduce(SUM) per dtype buffer,
        then a scale by 1/world_size."""
        MPI = self._MPI
        for buf, views in self._groups:
            self._reattach(buf, views)
            if self.world_size > 1:
                self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
                buf *= buf.dtype.type(1.0 / self.world_size)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def parameters_bytes(self) -> bytes:
        """All parameter values as bytes (to compare replicas)."""
        return b"".join(p.data.tobytes() for p in self.parameters)


def shard_batches(
    X,
    y=None,
    batch_size: int = 32,
    rng_seed=0,
    comm=None,
    *,
    shuffle=True,
    drop_last: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """This rank's part of each global batch of one epoch.

    Every rank draws the same permutation (``np.random.default_rng(rng_seed)``: use the same seed
    everywhere, e.g. ``base_seed + epoch``), cuts it into global batches of `batch_size` and keeps
    its own slice of each (``np.array_split`` into world_size parts), so the ranks together see
    exactly the global batches a single process would. `rank` / `world_size` default to those of
    `comm` (MPI.COMM_WORLD)."""
    from .data import batches

    if rank is None or world_size is None:
        c = get_comm(comm)
        rank = c.Get_rank() if rank is None else rank
        world_size = c.Get_size() if world_size is None else world_size
    rng = np.random.default_rng(rng_seed)
    return batches(
        X,
        y,
        batch_size=batch_size,
        shuffle=shuffle,
        rng=rng,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
    )


def fit(estimator, X, y, sample_weight=None, comm=None):
    """Data-parallel ``estimator.fit(X, y)`` of a fastnn.sklearn MLPClassifier/MLPRegressor.

    Call it on every rank of `comm` (default MPI.COMM_WORLD) under mpiexec, with the same
    estimator parameters (including an integer ``random_state``) and this rank's shard of the data.
    Every rank must pass the same number of samples and features, and (classifier) the same set of
    classes; a violation raises the same ValueError on every rank (no hang). Rank 0's initial
    parameters are broadcast. 'sgd'/'adam': ``batch_size`` is per rank (global batch = world_size x
    batch_size); after each batch's backward the gradients are averaged with one in-place
    Allreduce, the L2 term is divided by world_size (so it weighs as in one process training on the
    global batch), and the epoch loss and the early-stopping validation score are averaged over
    the ranks, so every rank takes the same convergence decisions and the replicas stay identical.
    'lbfgs': loss and gradient are summed over the ranks in each evaluation, so every rank runs
    the same L-BFGS iterations on the full data set. With sample weights each rank normalises by
    its own batch's weight sum. Returns the fitted estimator (identical on every rank).
    """
    estimator._comm = get_comm(comm)
    try:
        return estimator.fit(X, y, sample_weight=sample_weight)
    finally:
        del estimator._comm


class _FitSync:
    """The collectives fastnn.sklearn's fit uses under `fit` (one instance per fit)."""

    def __init__(self, comm):
        self.MPI = _mpi()
        self.comm = comm
        self.world = comm.Get_size()

    def check_same(self, what: str, value) -> None:
        values = self.comm.allgather(value)
        for r, v in enumerate(values):
            if v != values[0]:
                raise ValueError(
                    f"fastnn.distributed.fit: every rank must pass the same {what}; rank {r} has "
                    f"{v!r} but rank 0 has {values[0]!r}"
                )

    def broadcast(self, flat: np.ndarray) -> None:
        self.comm.Bcast(flat, root=0)

    def sum(self, *values: float) -> np.ndarray:
        buf = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return buf

    def averager(self, grad: np.ndarray):
        """A no-argument hook that averages `grad` over the ranks in place."""
        scale = grad.dtype.type(1.0 / self.world)

        def hook():
            self.comm.Allreduce(self.MPI.IN_PLACE, grad, op=self.MPI.SUM)
            np.multiply(grad, scale, out=grad)

        return hook

    def sum_into(self, grad: np.ndarray) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, grad, op=self.MPI.SUM)
