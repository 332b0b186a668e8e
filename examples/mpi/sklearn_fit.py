"""Data-parallel scikit-learn-style fit over MPI: each rank trains on its shard of digits.

    mpiexec -n 2 python -m mpi4py examples/mpi/sklearn_fit.py

Every rank builds the same estimator (same parameters, integer random_state) and passes its own
rows; fastnn.distributed.fit averages the gradients after every batch, so all ranks end with the
same model. Also runs as a plain script (world size 1). Needs mpi4py and scikit-learn.
"""

import numpy as np
from fastnn.distributed import fit, get_comm
from fastnn.sklearn import MLPClassifier
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def main(verbose=True):
    comm = get_comm()
    rank, size = comm.Get_rank(), comm.Get_size()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr).astype(np.float32), scaler.transform(Xte).astype(np.float32)
    n = len(Xtr) // size * size  # equal shards: every rank must pass the same number of rows
    clf = MLPClassifier(hidden_layer_sizes=(64,), batch_size=100, max_iter=300, random_state=0)
    clf = fit(clf, Xtr[rank:n:size], ytr[rank:n:size], comm=comm)
    acc = clf.score(Xte, yte)
    if verbose and rank == 0:
        print(f"{size} ranks, {clf.n_iter_} epochs, test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
