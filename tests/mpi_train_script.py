"""Run under mpiexec by tests/test_distributed.py:

    mpiexec -n 2 python -m mpi4py tests/mpi_train_script.py MODE DTYPE OUT.npz

MODE "train": every rank starts from a different init (rank 0's is broadcast), trains a small MLP
with Adam for 20 steps on its shard of each global batch; rank 0 gathers every replica's
parameter bytes and also trains the same model single-process on the full global batches, and
saves everything to OUT.npz. MODE "train_compiled": the same with
nn.compile_step(..., grad_hook=ddp.allreduce_gradients). MODE "fail": rank 1 raises before the
first Allreduce (the job must abort, not hang).
"""

import sys

import fastnn
import numpy as np
from fastnn import nn
from fastnn.distributed import DataParallel, shard_batches


def make_model(seed, dtype):
    fastnn.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(12, 32, dtype=dtype),
        nn.Tanh(),
        nn.Linear(32, 16, dtype=dtype),
        nn.ReLU(),
        nn.Linear(16, 4, dtype=dtype),
    )


def data(dtype):
    rng = np.random.default_rng(123)
    X = rng.standard_normal((160, 12)).astype(dtype)
    y = rng.integers(0, 4, 160)
    return X, y


def train(model, X, y, batch_size, ddp=None, compiled=False):
    crit = nn.CrossEntropyLoss()
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    step = None
    if compiled:
        hook = None if ddp is None else ddp.allreduce_gradients
        step = nn.compile_step(model, crit, opt, grad_hook=hook)
    losses = []
    for epoch in range(4):  # 160 / 32 = 5 steps per epoch: 20 steps
        if ddp is not None:
            it = shard_batches(X, y, batch_size, rng_seed=100 + epoch, comm=ddp.comm)
        else:
            it = fastnn.data.batches(X, y, batch_size, rng=100 + epoch)
        for xb, yb in it:
            if step is not None:
                losses.append(step(xb, yb))
                continue
            loss = crit(model(xb), yb)
            if ddp is not None:
                ddp.zero_grad()
                loss.backward()
                ddp.allreduce_gradients()
            else:
                opt.zero_grad()
                loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def main(argv):
    from mpi4py import MPI

    mode, dtype, out = argv[1], np.dtype(argv[2]), argv[3]
    comm = MPI.COMM_WORLD
    r, size = comm.Get_rank(), comm.Get_size()
    X, y = data(dtype)
    model = make_model(r, dtype)  # different init per rank: the broadcast must fix it
    ddp = DataParallel(model, comm)
    grads_are_views = all(np.shares_memory(p.grad, ddp.grad_buffers[0]) for p in ddp.parameters)
    if mode == "fail" and r == 1:
        raise RuntimeError("rank 1 fails on purpose")
    compiled = mode == "train_compiled"
    train(model, X, y, 32, ddp=ddp, compiled=compiled)
    still_views = all(np.shares_memory(p.grad, ddp.grad_buffers[0]) for p in ddp.parameters)
    blobs = comm.gather(ddp.parameters_bytes(), root=0)
    if r == 0:
        ref = make_model(0, dtype)
        train(ref, X, y, 32, compiled=compiled)
        np.savez(
            out,
            size=size,
            replicas=np.array([np.frombuffer(b, dtype=dtype) for b in blobs]),
            reference=np.concatenate([p.data.ravel() for p in ref.parameters()]),
            views=np.array([grads_are_views, still_views]),
        )


if __name__ == "__main__":
    main(sys.argv)
