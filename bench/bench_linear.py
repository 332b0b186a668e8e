"""Dense layer benchmarks: fastnn.linear / linear_backward vs NumPy and torch, raw GEMM rates,
the small-kernel crossover and the BLAS/OpenMP thread policy.

    pytest bench/bench_linear.py --benchmark-group-by=param:shape     # pytest-benchmark
    python bench/bench_linear.py                                      # summary tables (BENCHMARKS.md)
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

# (batch, in_features, out_features)
SHAPES = [(64, 100, 64), (64, 64, 10), (256, 1024, 1024)]
ACT = "relu"


def _data(shape, dtype=np.float32, seed=0):
    m, k, n = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal((m, n)).astype(dtype)
    return x, w, b, g


def numpy_forward(x, w, b):
    z = x @ w.T
    z += b
    return np.maximum(z, 0, out=z)


def numpy_backward(g, x, w, y):
    g = g * (y > 0)
    return g @ w, g.T @ x, g.sum(0)


def cases(shape):
    x, w, b, g = _data(shape)
    y = fastnn.linear(x, w, b, ACT)
    out = np.empty_like(y)
    gi, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    c = {
        "fastnn fwd": lambda: fastnn.linear(x, w, b, ACT, out=out),
        "numpy fwd": lambda: numpy_forward(x, w, b),
        "fastnn bwd": lambda: fastnn.linear_backward(
            g, x, w, activation=ACT, y=y, grad_input=gi, grad_weight=gw, grad_bias=gb
        ),
        "numpy bwd": lambda: numpy_backward(g, x, w, y),
    }
    if torch is not None:
        xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, w, b, g))
        xr, wr, br = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
        yr = F.relu(F.linear(xr, wr, br))

        def torch_fwd():
            with torch.no_grad():
                return F.relu(F.linear(xt, wt, bt))

        def torch_bwd():
            return torch.autograd.grad(yr, (xr, wr, br), gt, retain_graph=True)

        c["torch fwd"] = torch_fwd
        c["torch bwd"] = torch_bwd
    return c


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(
    "impl", ["fastnn fwd", "numpy fwd", "torch fwd", "fastnn bwd", "numpy bwd", "torch bwd"]
)
def test_linear(benchmark, shape, impl):
    c = cases(shape)
    if impl not in c:
        pytest.skip("torch not importable")
    benchmark(c[impl])


def best(fn, min_time=0.2, repeat=7):
    fn()
    n = 1
    while timeit.timeit(fn, number=n) < min_time / repeat:
        n *= 2
    return min(timeit.repeat(fn, number=n, repeat=repeat)) / n


def main():
    fastnn.show_config()
    print(fastnn._C._blas_info())
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
        print("torch", torch.__version__, "threads", torch.get_num_threads())
    print("\n## linear + relu, float32, fastnn.get_num_threads() =", fastnn.get_num_threads())
    print(
        "| shape (batch, in -> out) | pass | fastnn | NumPy | torch | NumPy/fastnn | torch/fastnn |"
    )
    print("|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        c = cases(shape)
        for p in ("fwd", "bwd"):
            t = {k.split()[0]: best(v) for k, v in c.items() if k.endswith(p)}
            tt = t.get("torch", float("nan"))
            print(
                f"| {shape[0]} x {shape[1]} -> {shape[2]} | {p} | {t['fastnn'] * 1e6:.1f} us | "
                f"{t['numpy'] * 1e6:.1f} us | {tt * 1e6:.1f} us | {t['numpy'] / t['fastnn']:.2f} | "
                f"{tt / t['fastnn']:.2f} |"
            )

    print("\n## raw GEMM rate y(m, n) = x(m, k) @ W(n, k)^T, GFLOP/s (best of 7)")
    print(
        "| dtype | m x k -> n | BLAS 1 thread | BLAS 2 threads | fastnn small kernel "
        "(avx512 / avx2) | fastnn policy |"
    )
    print("|---|---|---|---|---|---|")
    extra = [(64, 64, 64), (128, 128, 128), (64, 256, 256), (256, 256, 256)]
    level = fastnn.simd_level()
    for dt in ("float32", "float64"):
        for m, k, n in SHAPES + extra:
            fl = 2.0 * m * n * k
            number = max(1, int(5e7 / fl))
            r = {}
            for impl in ("blas1", "blasN", "blas"):
                r[impl] = fastnn._C._bench_gemm(dt, impl, m, n, k, number=number, repeat=7)
            small = []
            if fl <= 4e7:
                for lvl in ("avx512", "avx2"):
                    if lvl in fastnn.supported_simd_levels():
                        fastnn._C._set_simd_level(lvl)
                        small.append(
                            fastnn._C._bench_gemm(dt, "small", m, n, k, number=number, repeat=7)
                        )
                fastnn._C._set_simd_level(level)
            s = " / ".join(f"{fl / v / 1e9:.0f}" for v in small) or "-"
            print(
                f"| {dt} | {m} x {k} -> {n} | {fl / r['blas1'] / 1e9:.0f} | "
                f"{fl / r['blasN'] / 1e9:.0f} | {s} | {fl / r['blas'] / 1e9:.0f} |"
            )

    print("\n## thread policy: GEMM then 2-thread OpenMP relu over 1M floats, alternating")
    print(
        "| GEMM m x k -> n | BLAS threads | alternating / iter | GEMM alone | relu alone |"
        " overhead of alternating |"
    )
    print("|---|---|---|---|---|---|")
    for m, k, n in [(256, 1024, 1024), (64, 256, 256)]:
        for bt in (1, 2):
            res = [fastnn._C._bench_alternate(m, n, k, 1 << 20, bt, 2, 30) for _ in range(5)]
            a, g, e = (min(r[i] for r in res) for i in range(3))
            print(
                f"| {m} x {k} -> {n} | {bt} | {a * 1e3:.3f} ms | {g * 1e3:.3f} ms | {e * 1e3:.3f} ms |"
                f" {(a - g - e) * 1e3:+.3f} ms |"
            )


if __name__ == "__main__":
    main()
