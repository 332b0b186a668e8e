"""Softmax (last axis, float32, 1 thread) interleaved with the NumPy expression (BENCHMARKS.md
"softmax"): python bench/softmax_interleaved.py"""

import time

import fastnn
import numpy as np

fastnn.set_num_threads(1)
rng = np.random.default_rng(0)


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


for shape in [(64, 10), (256, 1000), (4096, 1000)]:
    x = rng.standard_normal(shape).astype(np.float32)
    out = np.empty_like(x)
    best = {"fastnn": 1e9, "numpy": 1e9}
    n = max(3, int(2e6 / x.size))
    for r in range(7):
        for k, f in (
            ("fastnn", lambda: fastnn.softmax(x, out=out)),
            ("numpy", lambda: np_softmax(x)),
        ):
            t = time.perf_counter()
            for _ in range(n):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / n)
    print(
        shape,
        "fastnn %.1f us, numpy %.1f us, ratio numpy/fastnn %.2f"
        % (best["fastnn"] * 1e6, best["numpy"] * 1e6, best["numpy"] / best["fastnn"]),
    )
