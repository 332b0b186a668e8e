"""fastnn.sklearn.MLPClassifier vs sklearn.neural_network.MLPClassifier: fit time at equal
hyperparameters and random_state (hence equal epochs and, up to rounding, equal weights).

    python bench/bench_sklearn.py          # runs every case once, prints the BENCHMARKS.md table
    pytest bench/bench_sklearn.py          # pytest-benchmark, one round per case

sklearn is timed twice: with its BLAS threads as they come (the drop-in situation) and limited to
one thread with threadpoolctl (often faster for these small products on a busy 2-core VM).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from fastnn.sklearn import MLPClassifier as FnMLP  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def _digits(dtype=np.float64):
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr).astype(dtype), sc.transform(Xte).astype(dtype), ytr, yte


def _synthetic(dtype=np.float64):
    X, y = make_classification(24000, 100, n_informative=40, n_classes=4, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=20000, random_state=0)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr).astype(dtype), sc.transform(Xte).astype(dtype), ytr, yte


CASES = {
    # name: (data, params); n_iter_no_change > max_iter: every run does all epochs
    "digits (64,) adam 200 epochs": (
        _digits,
        dict(
            hidden_layer_sizes=(64,), solver="adam", max_iter=200, tol=0.0, n_iter_no_change=10**6
        ),
    ),
    "digits (64,) lbfgs 200 iter": (
        _digits,
        dict(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=200, tol=0.0),
    ),
    "20k x 100 (256, 256) adam 10 epochs": (
        _synthetic,
        dict(
            hidden_layer_sizes=(256, 256),
            solver="adam",
            max_iter=10,
            tol=0.0,
            n_iter_no_change=10**6,
        ),
    ),
}


def _fit(cls, data, params, dtype):
    """Best of up to 3 fits (fits under a second are repeated: one is too noisy here)."""
    Xtr, Xte, ytr, yte = data(dtype)
    best = np.inf
    for _ in range(3):
        est = cls(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            est.fit(Xtr, ytr)
            best = min(best, time.perf_counter() - t0)
        if best > 1.0:
            break
    return best, est.score(Xte, yte), est.n_iter_


@pytest.mark.parametrize("impl", ["sklearn", "fastnn"])
@pytest.mark.parametrize("case", list(CASES))
def test_fit(benchmark, case, impl):
    data, params = CASES[case]
    cls = SkMLP if impl == "sklearn" else FnMLP
    benchmark.group = case
    benchmark.pedantic(lambda: _fit(cls, data, params, np.float64), rounds=1, iterations=1)


def main():
    import fastnn
    from threadpoolctl import threadpool_limits

    rows = []
    nt = fastnn.get_num_threads()
    for name, (data, params) in CASES.items():
        for dtype in (np.float64, np.float32):
            if dtype == np.float32 and "lbfgs" in name:
                continue
            t_sk, acc_sk, it_sk = _fit(SkMLP, data, params, dtype)
            t_fn, acc_fn, it_fn = _fit(FnMLP, data, params, dtype)
            with threadpool_limits(1):  # every BLAS (NumPy's and fastnn's) single-threaded
                fastnn.set_num_threads(1)
                t_sk1, _, _ = _fit(SkMLP, data, params, dtype)
                t_fn1, _, _ = _fit(FnMLP, data, params, dtype)
                fastnn.set_num_threads(nt)
            rows.append(
                (name, np.dtype(dtype).name, t_sk, t_fn, t_sk1, t_fn1, acc_sk, acc_fn, it_sk, it_fn)
            )
            print(rows[-1], flush=True)
    print()
    print(
        "| case | dtype | sklearn s | fastnn s | ratio | sklearn 1 thread s | fastnn 1 thread s "
        "| ratio | test accuracy sklearn / fastnn | iterations |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, dt, t_sk, t_fn, t_sk1, t_fn1, a_sk, a_fn, i_sk, i_fn in rows:
        print(
            f"| {name} | {dt} | {t_sk:.2f} | {t_fn:.2f} | {t_sk / t_fn:.1f}x | {t_sk1:.2f} | "
            f"{t_fn1:.2f} | {t_sk1 / t_fn1:.1f}x | {a_sk:.4f} / {a_fn:.4f} | {i_sk} / {i_fn} |"
        )


if __name__ == "__main__":
    main()
