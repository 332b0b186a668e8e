"""Run under mpiexec by tests/test_distributed.py:

    mpiexec -n 2 python -m mpi4py tests/mpi_sklearn_script.py MODE DTYPE OUT.npz

Each rank fits a fastnn.sklearn estimator with fastnn.distributed.fit on its shard. The shards
are cut so that global batch i (rows [2bi, 2b(i+1)) of the full data) is rank 0's batch i followed
by rank 1's batch i; rank 0 then fits the same estimator single-process on the full data with
batch 2b (shuffle=False), which must give the same model. Modes: adam, sgd, regressor, lbfgs,
early (early stopping + shuffling: only replica equality is checked), mismatch (rank 1 lacks a
class: every rank must raise the same ValueError, no hang).
"""

import sys
import warnings

import fastnn.distributed
import numpy as np
from fastnn.sklearn import MLPClassifier, MLPRegressor
from sklearn.datasets import make_classification, make_regression


def shards(X, y, b, r, size):
    n = X.shape[0]
    idx = np.arange(n).reshape(-1, size, b)[:, r].ravel()
    return X[idx], y[idx]


def main(argv):
    from mpi4py import MPI

    mode, dtype, out = argv[1], np.dtype(argv[2]), argv[3]
    comm = MPI.COMM_WORLD
    r, size = comm.Get_rank(), comm.Get_size()
    b = 30
    if mode == "regressor":
        X, y = make_regression(240, 10, n_targets=2, noise=5.0, random_state=0)
        y = y / 100
        est, params = MLPRegressor, {"solver": "adam"}
    else:
        X, y = make_classification(240, 10, n_informative=6, n_classes=3, random_state=0)
        est = MLPClassifier
        params = {"solver": "sgd" if mode == "sgd" else "adam"}
        if mode == "lbfgs":
            params = {"solver": "lbfgs"}
    X = X.astype(dtype)
    params.update(
        hidden_layer_sizes=(16,),
        random_state=0,
        max_iter=15,
        shuffle=False,
        alpha=1e-3,
        tol=0.0,
        n_iter_no_change=1000,
    )
    if mode == "sgd":
        params.update(momentum=0.9, learning_rate_init=0.05)
    if mode == "early":
        params.update(shuffle=True, early_stopping=True, n_iter_no_change=3, tol=1e-3)
    Xr, yr = shards(X, y, b, r, size)
    if mode == "mismatch" and r == 1:
        yr = np.where(yr == 2, 1, yr)  # rank 1 has no class 2
    message = ""
    warnings.simplefilter("ignore")
    try:
        model = fastnn.distributed.fit(est(batch_size=b, **params), Xr, yr, comm=comm)
    except ValueError as e:
        message = str(e)
    messages = comm.gather(message, root=0)
    if mode == "mismatch":
        if r == 0:
            np.savez(out, size=size, messages=np.array(messages))
        return
    flat = model._net.flat
    blobs = comm.gather(flat.tobytes(), root=0)
    curves = comm.gather(np.asarray(getattr(model, "loss_curve_", [model.loss_])), root=0)
    if r == 0:
        ref = est(batch_size=size * b, **params).fit(X, y)
        np.savez(
            out,
            size=size,
            replicas=np.array([np.frombuffer(x, dtype=flat.dtype) for x in blobs]),
            curves=np.array(curves),
            reference=ref._net.flat,
            ref_curve=np.asarray(getattr(ref, "loss_curve_", [ref.loss_])),
            n_iter=np.array([model.n_iter_, ref.n_iter_]),
        )


if __name__ == "__main__":
    main(sys.argv)
