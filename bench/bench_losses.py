"""Loss functions, forward + backward (reduction="mean", float32): fastnn's fused
``<loss>_forward_backward`` vs the best NumPy expression and torch (autograd) when importable.

    pytest bench/bench_losses.py --benchmark-group-by=group      # pytest-benchmark
    python bench/bench_losses.py [--threads N]                    # markdown table of ratios
"""

from __future__ import annotations

import timeit

import fastnn
import numpy as np
import pytest

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None

DTYPE = np.float32
DELTA = 1.0
SIZES = {"64x10": (64, 10), "1024x1000": (1024, 1000), "1e6": (10**6,)}
LOSSES = [
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
]
# The 1e6-element case is for the elementwise losses.
CASES = [
    (name, size)
    for name in LOSSES
    for size in SIZES
    if size != "1e6" or name in ("mse_loss", "binary_cross_entropy_with_logits")
]


def make(name, size):
    rng = np.random.default_rng(0)
    shape = SIZES[size]
    if name in ("cross_entropy", "nll_loss"):
        n, c = shape
        x = rng.standard_normal(shape).astype(DTYPE)
        if name == "nll_loss":
            x = fastnn.log_softmax(x)
        return x, rng.integers(0, c, n)
    if name == "binary_cross_entropy":
        return rng.uniform(0.01, 0.99, shape).astype(DTYPE), rng.random(shape).astype(DTYPE)
    if name == "binary_cross_entropy_with_logits":
        return rng.standard_normal(shape).astype(DTYPE), rng.random(shape).astype(DTYPE)
    return rng.standard_normal(shape).astype(DTYPE), rng.standard_normal(shape).astype(DTYPE)


def numpy_fb(name, x, y):
    """loss and gradient, mean reduction, with the best plain NumPy expressions."""
    n = x.size if name not in ("cross_entropy", "nll_loss") else x.shape[0]
    if name == "mse_loss":
        d = x - y
        return np.vdot(d, d) / n, d * DTYPE(2 / n)
    if name == "l1_loss":
        d = x - y
        return np.abs(d).sum() / n, np.sign(d) * DTYPE(1 / n)
    if name == "huber_loss":
        d = x - y
        z = np.abs(d)
        loss = np.where(z < DELTA, 0.5 * d * d, DELTA * (z - 0.5 * DELTA)).sum() / n
        return loss, np.clip(d, -DELTA, DELTA) * DTYPE(1 / n)
    if name == "binary_cross_entropy":
        lx = np.maximum(np.log(x), -100)
        l1x = np.maximum(np.log1p(-x), -100)
        loss = -(y * lx + (1 - y) * l1x).sum() / n
        return loss, (x - y) / np.maximum((1 - x) * x, DTYPE(1e-12)) * DTYPE(1 / n)
    if name == "binary_cross_entropy_with_logits":
        loss = ((1 - y) * x + np.logaddexp(DTYPE(0), -x)).sum() / n
        s = 0.5 + 0.5 * np.tanh(0.5 * x)
        return loss, (s - y) * DTYPE(1 / n)
    rows = np.arange(n)
    if name == "nll_loss":
        g = np.zeros_like(x)
        g[rows, y] = -1 / n
        return -x[rows, y].sum() / n, g
    m = x.max(1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(1, keepdims=True)
    loss = (np.log(s[:, 0]) + m[:, 0] - x[rows, y]).sum() / n
    g = e / s
    g[rows, y] -= 1
    g *= DTYPE(1 / n)
    return loss, g


def fastnn_fb(name, x, y, out):
    return getattr(fastnn, name + "_forward_backward")(x, y, out=out)


def torch_setup(name, x, y):
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(y)
    fn = getattr(F, name)

    def run():
        xt.grad = None
        loss = fn(xt, yt)
        loss.backward()
        return loss, xt.grad

    return run


def impls(name, size):
    x, y = make(name, size)
    out = np.empty_like(x)
    fns = {"fastnn": lambda: fastnn_fb(name, x, y, out), "numpy": lambda: numpy_fb(name, x, y)}
    if torch is not None:
        fns["torch"] = torch_setup(name, x, y)
    return fns


@pytest.mark.parametrize("impl", ["fastnn", "numpy", "torch"])
@pytest.mark.parametrize("name,size", CASES)
def test_loss_forward_backward(benchmark, name, size, impl):
    fns = impls(name, size)
    if impl not in fns:
        pytest.skip("torch not importable")
    benchmark.group = f"{name} {size}"
    benchmark(fns[impl])


def best_time(fn, slice_s=0.002, repeat=25):
    """Best time per call over short repeats (each ~2 ms: a shared machine preempts longer)."""
    fn()
    number = max(1, int(slice_s / max(timeit.timeit(fn, number=1), 1e-7)))
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main():
    import sys

    if "--threads" in sys.argv:  # e.g. 1: stable figures on a loaded machine
        nt = int(sys.argv[sys.argv.index("--threads") + 1])
        fastnn.set_num_threads(nt)
        if torch is not None:
            torch.set_num_threads(nt)
    print(
        f"fastnn {fastnn.__version__}, SIMD {fastnn.simd_level()}, "
        f"{fastnn.get_num_threads()} threads; torch "
        f"{torch.__version__ if torch else '-'} ({torch.get_num_threads() if torch else '-'}"
        " threads); float32, reduction='mean', forward+backward"
    )
    print()
    print(
        "| loss | size | fastnn (µs) | NumPy (µs) | torch (µs) | NumPy / fastnn | torch / fastnn |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, size in CASES:
        t = {k: best_time(f) * 1e6 for k, f in impls(name, size).items()}
        fa, nu, tt = t["fastnn"], t["numpy"], t.get("torch")
        ts = f"{tt:.1f}" if tt else "-"
        tr = f"{tt / fa:.1f}x" if tt else "-"
        print(f"| {name} | {size} | {fa:.1f} | {nu:.1f} | {ts} | {nu / fa:.1f}x | {tr} |")


if __name__ == "__main__":
    main()
