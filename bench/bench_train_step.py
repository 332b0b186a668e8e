"""Training-step benchmarks: fastnn.nn.compile_step (one native call per step) vs the
module-by-module fastnn step, torch eager (same thread count) and a hand-written NumPy step.
Model: Sequential(Linear, ReLU, Linear), cross entropy, Adam, float32.

    python bench/bench_train_step.py             # markdown table (interleaved rounds)
    python -m pytest bench/bench_train_step.py --benchmark-only -q --benchmark-columns=min,median

Shapes: "tiny" = batch 64, 100 -> 64 -> 10 (the classic PyTorch tutorial MLP); "big" = batch 256,
1024 -> 1024 -> 1024, compared also with its matrix products alone at BLAS's rate (fastnn's own
BLAS call, timed in C++, same run): the 6 products of two layers' forward, weight gradient and
input gradient, and the 5 a training step needs (no input gradient for the first layer).
"""

from __future__ import annotations

import statistics
import time

import fastnn
import numpy as np
import pytest
from fastnn import nn, optim

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

SHAPES = {"tiny": (64, 100, 64, 10), "big": (256, 1024, 1024, 1024)}


def make_data(shape, seed=0):
    n, d, _h, c = shape
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d), dtype=np.float32), rng.integers(0, c, n)


def fastnn_model(shape):
    _n, d, h, c = shape
    fastnn.manual_seed(0)
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, c))


def compiled(shape):
    model = fastnn_model(shape)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    step = nn.compile_step(model, nn.CrossEntropyLoss(), opt, batch_size=shape[0])
    x, y = make_data(shape)
    return lambda: step(x, y)


def module_path(shape):
    model = fastnn_model(shape)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    x, y = make_data(shape)

    def step():
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_eager(shape):
    _n, d, h, c = shape
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, c))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    xn, yn = make_data(shape)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)

    def step():
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def numpy_step(shape):
    """Hand-written NumPy: forward, fused softmax-CE gradient, backward, Adam (in-place ufuncs)."""
    n, d, h, c = shape
    rng = np.random.default_rng(0)
    b1_, b2_ = 1 / np.sqrt(d), 1 / np.sqrt(h)
    ps = [
        rng.uniform(-b1_, b1_, (h, d)).astype(np.float32),
        rng.uniform(-b1_, b1_, h).astype(np.float32),
        rng.uniform(-b2_, b2_, (c, h)).astype(np.float32),
        rng.uniform(-b2_, b2_, c).astype(np.float32),
    ]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    tmp = [np.empty_like(p) for p in ps]
    x, y = make_data(shape)
    rows = np.arange(n)
    t = [0]
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def step():
        w1, bb1, w2, bb2 = ps
        a = x @ w1.T
        a += bb1
        np.maximum(a, 0, out=a)
        z = a @ w2.T
        z += bb2
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - np.log(z[rows, y])))
        z /= s
        z[rows, y] -= 1
        z *= 1.0 / n
        gw2 = z.T @ a
        gb2 = z.sum(axis=0)
        ga = z @ w2
        ga *= a > 0
        gw1 = ga.T @ x
        gb1 = ga.sum(axis=0)
        t[0] += 1
        bc1 = 1 - b1 ** t[0]
        bc2s = np.sqrt(1 - b2 ** t[0])
        for p, g, mm, vv, tt in zip(ps, (gw1, gb1, gw2, gb2), m, v, tmp):
            mm *= b1
            mm += (1 - b1) * g
            vv *= b2
            np.multiply(g, g, out=tt)
            tt *= 1 - b2
            vv += tt
            np.sqrt(vv, out=tt)
            tt /= bc2s
            tt += eps
            np.divide(mm, tt, out=tt)
            tt *= -lr / bc1
            p += tt
        return loss

    return step


def gemm_reference(shape):
    """Seconds of the products alone (fastnn's BLAS call with its thread policy, timed in C++)."""
    n, d, h, c = shape
    t = lambda m_, n_, k_: fastnn._C._bench_gemm("float32", "blas", m_, n_, k_, 5, 5)
    fwd = t(n, h, d) + t(n, c, h)
    dw = t(h, d, n) + t(c, h, n)
    dx = t(n, h, c) + t(n, d, h)  # layer 2's input gradient, layer 1's (not needed)
    return fwd + dw + dx, fwd + dw + t(n, h, c)


CONTESTANTS = {"compiled": compiled, "module": module_path, "numpy": numpy_step}
if torch is not None:
    CONTESTANTS["torch"] = torch_eager


def timed(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def measure(shape_name, rounds=15, budget=0.15):
    shape = SHAPES[shape_name]
    steps = {k: f(shape) for k, f in CONTESTANTS.items()}
    number = {}
    for k, fn in steps.items():
        fn()
        fn()
        number[k] = max(1, int(budget / max(timed(fn, 3), 1e-7)))
    res = {k: [] for k in steps}
    for _ in range(rounds):  # interleaved: every contestant sees the same machine load
        for k, fn in steps.items():
            res[k].append(timed(fn, number[k]))
    return res


def fmt(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main():
    nt = fastnn.get_num_threads()
    if torch is not None:
        torch.set_num_threads(nt)
    print(
        f"fastnn {fastnn.__version__} ({fastnn.simd_level()}), threads {nt}, "
        f"torch {torch.__version__ if torch else '-'}, numpy {np.__version__}"
    )
    try:
        import os

        print("load average before:", os.getloadavg())
    except OSError:
        pass
    for name in SHAPES:
        res = measure(name, rounds=15 if name == "tiny" else 7)
        med = {k: statistics.median(v) for k, v in res.items()}
        best = {k: min(v) for k, v in res.items()}
        print(
            f"\n### {name}: batch {SHAPES[name][0]}, "
            f"{SHAPES[name][1]} -> {SHAPES[name][2]} -> {SHAPES[name][3]}"
        )
        print("| step | median | best | torch / this (median) |")
        print("|---|---|---|---|")
        for k in res:
            ratio = med["torch"] / med[k] if "torch" in med else float("nan")
            print(f"| {k} | {fmt(med[k])} | {fmt(best[k])} | {ratio:.2f} |")
        if name == "big":
            six, five = gemm_reference(SHAPES[name])
            print(
                f"| 6 GEMMs alone (BLAS) | {fmt(six)} | | compiled / 6 GEMMs = "
                f"{med['compiled'] / six:.3f} (best {best['compiled'] / six:.3f}) |"
            )
            print(
                f"| 5 GEMMs a step needs | {fmt(five)} | | compiled / 5 GEMMs = "
                f"{med['compiled'] / five:.3f} (best {best['compiled'] / five:.3f}) |"
            )
    try:
        import os

        print("\nload average after:", os.getloadavg())
    except OSError:
        pass


# -- pytest-benchmark ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("who", list(CONTESTANTS))
def test_train_step(benchmark, who, shape):
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    benchmark.group = f"train_step {shape}"
    benchmark(CONTESTANTS[who](SHAPES[shape]))


if __name__ == "__main__":
    main()
