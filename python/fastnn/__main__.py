"""`python -m fastnn`: show the build's configuration and a short speed table against NumPy."""

from __future__ import annotations

import time

import numpy as np

import fastnn


def _best_of(fn, repeat=7):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def activation_table(n: int = 4_000_000) -> None:
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    numpy_versions = {
        "sigmoid": lambda: np.divide(1.0, 1.0 + np.exp(-x), out=out),
        "tanh": lambda: np.tanh(x, out=out),
        "relu": lambda: np.maximum(x, 0, out=out),
        "gelu (tanh)": lambda: np.multiply(
            0.5 * x, 1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)), out=out
        ),
        "silu": lambda: np.divide(x, 1.0 + np.exp(-x), out=out),
    }
    ours = {
        "sigmoid": lambda: fastnn.sigmoid(x, out=out),
        "tanh": lambda: fastnn.tanh(x, out=out),
        "relu": lambda: fastnn.relu(x, out=out),
        "gelu (tanh)": lambda: fastnn.gelu(x, approximate="tanh", out=out),
        "silu": lambda: fastnn.silu(x, out=out),
    }
    copy = _best_of(lambda: np.copyto(out, x))
    print(f"\nActivations, {n:,} float32 elements (best of 7; copy roofline {copy * 1e3:.2f} ms)")
    print(f"{'function':<14}{'numpy ms':>10}{'fastnn ms':>11}{'speed-up':>10}")
    for name in ours:
        t_np = _best_of(numpy_versions[name])
        t_fn = _best_of(ours[name])
        print(f"{name:<14}{t_np * 1e3:>10.2f}{t_fn * 1e3:>11.2f}{t_np / t_fn:>9.1f}x")


def main() -> None:
    from fastnn import demo

    fastnn.show_config()
    activation_table()
    demo.main()


if __name__ == "__main__":
    main()
