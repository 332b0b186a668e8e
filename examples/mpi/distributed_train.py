"""Data-parallel training over MPI: a 100 -> 64 -> 10 classifier, Adam, one replica per rank.

    mpiexec -n 2 python -m mpi4py examples/mpi/distributed_train.py

Also runs as a plain script (one process, world size 1). Lives in examples/mpi/ so that the
single-process example test (examples/*.py) does not pick it up; it only needs mpi4py.
"""

import fastnn
import numpy as np
from fastnn import nn
from fastnn.distributed import DataParallel, shard_batches


def main(epochs=10, verbose=True, compiled=False):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    rng = np.random.default_rng(0)  # the same data on every rank (or load your own shard)
    centers = rng.standard_normal((10, 100)).astype(np.float32) * 2
    y = rng.integers(0, 10, 2048)
    X = (centers[y] + rng.standard_normal((2048, 100))).astype(np.float32)

    fastnn.manual_seed(rank)  # different inits on purpose: DataParallel broadcasts rank 0's
    model = nn.Sequential(nn.Linear(100, 64), nn.ReLU(), nn.Linear(64, 10))
    ddp = DataParallel(model, comm)
    crit = nn.CrossEntropyLoss()
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    step = (
        nn.compile_step(model, crit, opt, grad_hook=ddp.allreduce_gradients) if compiled else None
    )
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in shard_batches(X, y, batch_size=64, rng_seed=epoch, comm=comm):
            if step is not None:
                loss = step(xb, yb)
            else:
                out = crit(model(xb), yb)
                ddp.zero_grad()
                out.backward()
                ddp.allreduce_gradients()
                opt.step()
                loss = out.item()
            total += loss * len(xb)
        losses.append(comm.allreduce(total) / len(X))  # the global mean loss of the epoch
        if verbose and rank == 0:
            print(f"epoch {epoch}  loss {losses[-1]:.4f}  ({size} ranks)")
    return losses


if __name__ == "__main__":
    main()
