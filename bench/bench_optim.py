"""Optimizer step benchmarks: fastnn fused multi-tensor kernels vs hand-written NumPy (in-place
ufuncs with out=), torch.optim foreach and fused (when importable), and a roofline: np.copyto of
the same number of bytes the step must move (Adam/AdamW 28 B/param in float32: param r+w, grad r,
exp_avg r+w, exp_avg_sq r+w; SGD-momentum/Adagrad/RMSprop 20 B/param).

    python -m pytest bench/bench_optim.py --benchmark-only -q --benchmark-columns=min,median
    python bench/bench_optim.py          # prints a markdown table of ratios
"""

from __future__ import annotations

import time

import fastnn
import numpy as np
import pytest

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

LAYOUTS = {"1x10M": [10_000_000], "100x100k": [100_000] * 100}
ALGOS = ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
BYTES = {"sgd": 20, "adagrad": 20, "rmsprop": 20, "adam": 28, "adamw": 28}
HP = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum=0.9, alpha=0.99, wd=1e-2)


def arrays(sizes, seed=0):
    rng = np.random.default_rng(seed)
    ps = [rng.standard_normal(n, dtype=np.float32) for n in sizes]
    gs = [rng.standard_normal(n, dtype=np.float32) for n in sizes]
    return ps, gs


# -- fastnn -----------------------------------------------------------------------------------


def fastnn_step(algo, sizes):
    ps, gs = arrays(sizes)
    s1 = [np.zeros_like(p) for p in ps]
    s2 = [np.zeros_like(p) for p in ps]
    t = [0]

    def step():
        t[0] += 1
        if algo == "sgd":
            fastnn.sgd_step(ps, gs, s1, lr=HP["lr"], momentum=HP["momentum"], first_step=t[0] == 1)
        elif algo == "adagrad":
            fastnn.adagrad_step(ps, gs, s1, step=t[0], lr=HP["lr"])
        elif algo == "rmsprop":
            fastnn.rmsprop_step(ps, gs, s1, lr=HP["lr"], alpha=HP["alpha"])
        else:
            fastnn.adam_step(
                ps,
                gs,
                s1,
                s2,
                step=t[0],
                lr=HP["lr"],
                weight_decay=HP["wd"] if algo == "adamw" else 0.0,
                decoupled=algo == "adamw",
            )

    return step


# -- best hand-written NumPy ------------------------------------------------------------------


def numpy_step(algo, sizes):
    ps, gs = arrays(sizes)
    s1 = [np.zeros_like(p) for p in ps]
    s2 = [np.zeros_like(p) for p in ps]
    tmp = np.empty(max(sizes), dtype=np.float32)
    t = [0]
    lr, b1, b2, eps = HP["lr"], HP["beta1"], HP["beta2"], HP["eps"]

    def step():
        t[0] += 1
        bc1, bc2s = 1 - b1 ** t[0], (1 - b2 ** t[0]) ** 0.5
        for p, g, a, b in zip(ps, gs, s1, s2):
            w = tmp[: p.size]
            if algo == "sgd":
                a *= HP["momentum"]
                a += g
                np.multiply(a, -lr, out=w)
                p += w
            elif algo == "adagrad":
                np.multiply(g, g, out=w)
                a += w
                np.sqrt(a, out=w)
                w += 1e-10
                np.divide(g, w, out=w)
                w *= -lr
                p += w
            elif algo == "rmsprop":
                a *= HP["alpha"]
                np.multiply(g, g, out=w)
                w *= 1 - HP["alpha"]
                a += w
                np.sqrt(a, out=w)
                w += eps
                np.divide(g, w, out=w)
                w *= -lr
                p += w
            else:
                if algo == "adamw":
                    p *= 1 - lr * HP["wd"]
                a *= b1
                np.multiply(g, 1 - b1, out=w)
                a += w
                b *= b2
                np.multiply(g, g, out=w)
                w *= 1 - b2
                b += w
                np.sqrt(b, out=w)
                w /= bc2s
                w += eps
                np.divide(a, w, out=w)
                w *= -lr / bc1
                p += w

    return step


# -- torch -------------------------------------------------------------------------------------


def torch_step(algo, sizes, mode):
    torch.set_num_threads(fastnn.get_num_threads())
    ps, gs = arrays(sizes)
    tps = [torch.from_numpy(p).requires_grad_() for p in ps]
    for tp, g in zip(tps, gs):
        tp.grad = torch.from_numpy(g)
    kw = {mode: True}
    if algo == "sgd":
        opt = torch.optim.SGD(tps, lr=HP["lr"], momentum=HP["momentum"], **kw)
    elif algo == "adagrad":
        opt = torch.optim.Adagrad(tps, lr=HP["lr"], **kw)
    elif algo == "rmsprop":
        if mode == "fused":
            return None
        opt = torch.optim.RMSprop(tps, lr=HP["lr"], alpha=HP["alpha"], **kw)
    elif algo == "adam":
        opt = torch.optim.Adam(tps, lr=HP["lr"], **kw)
    else:
        opt = torch.optim.AdamW(tps, lr=HP["lr"], weight_decay=HP["wd"], **kw)

    def step():
        with torch.no_grad():
            opt.step()

    return step


def roofline_step(algo, sizes):
    half = BYTES[algo] * sum(sizes) // 2
    src = np.ones(half, dtype=np.uint8)
    dst = np.empty_like(src)
    return lambda: np.copyto(dst, src)


IMPLS = ["fastnn", "numpy", "torch_foreach", "torch_fused", "roofline"]


def make(impl, algo, sizes):
    if impl == "fastnn":
        return fastnn_step(algo, sizes)
    if impl == "numpy":
        return numpy_step(algo, sizes)
    if impl == "roofline":
        return roofline_step(algo, sizes)
    if torch is None:
        return None
    return torch_step(algo, sizes, impl.split("_")[1])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_optim_step(benchmark, layout, algo, impl):
    benchmark.group = f"{algo} {layout}"
    fn = make(impl, algo, LAYOUTS[layout])
    if fn is None:
        pytest.skip(f"{impl} not available for {algo}")
    benchmark.pedantic(fn, rounds=7, iterations=1, warmup_rounds=2)


def _time(fn, rounds=15, warmup=3):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    print(
        f"fastnn {fastnn.__version__}, SIMD {fastnn.simd_level()}, "
        f"threads {fastnn.get_num_threads()}, torch {getattr(torch, '__version__', '-')}"
    )
    print(
        "| algorithm | layout | fastnn ms | GB/s | NumPy ms | torch foreach ms | torch fused ms"
        " | roofline ms | vs NumPy | vs foreach | vs fused | of roofline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for layout, sizes in LAYOUTS.items():
        for algo in ALGOS:
            t = {}
            for impl in IMPLS:
                fn = make(impl, algo, sizes)
                t[impl] = _time(fn) if fn is not None else None
                del fn
            f = t["fastnn"]
            gbs = BYTES[algo] * sum(sizes) / f / 1e9

            def ms(x):
                return "-" if x is None else f"{x * 1e3:.2f}"

            def ratio(x):
                return "-" if x is None else f"{x / f:.2f}x"

            print(
                f"| {algo} | {layout} | {ms(f)} | {gbs:.1f} | {ms(t['numpy'])} | "
                f"{ms(t['torch_foreach'])} | {ms(t['torch_fused'])} | {ms(t['roofline'])} | "
                f"{ratio(t['numpy'])} | {ratio(t['torch_foreach'])} | "
                f"{ratio(t['torch_fused'])} | {t['roofline'] / f:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
