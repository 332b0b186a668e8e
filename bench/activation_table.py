"""Side-by-side activation timings as a Markdown table (the BENCHMARKS.md figures).

    python bench/activation_table.py [--threads 2] [--rounds 15]

For each size the candidates run interleaved, round after round, and each keeps its best time,
so all columns see the same machine load. Roofline = fastnn.identity (forward: 8 B/element) or
fastnn.identity_backward (backward; it never reads x, so it moves 8 B/element, not 12) through the
same driver and threads; roofline3 = fastnn.leaky_relu backward (reads grad_out and x, writes
grad_in: the 12 B/element a backward moves, with a select as its only arithmetic)."""

from __future__ import annotations

import argparse
import time

import fastnn
import numpy as np
from bench_activations import BACKWARD, FORWARD, np_backward, np_forward

try:
    import torch
except ImportError:
    torch = None


def best_times(fns, rounds):
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def torch_forward(name):
    F = torch.nn.functional
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "gelu": F.gelu,
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "softplus": F.softplus,
        "elu": F.elu,
    }[name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=fastnn.get_num_threads())
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--sizes", default="1000,100000,16000000")
    args = ap.parse_args()
    fastnn.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(
        f"fastnn {fastnn.__version__}, SIMD {fastnn.simd_level()}, {args.threads} threads; "
        f"best of {args.rounds}; times in microseconds\n"
    )
    print(
        "| kernel | n | fastnn | NumPy | torch | roofline | NumPy/fastnn | torch/fastnn "
        "| roofline/fastnn | roofline3/fastnn |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",")]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(n).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        out = np.empty_like(x)
        tx = torch.from_numpy(x) if torch is not None else None
        rounds = args.rounds if n < 10**7 else max(5, args.rounds // 3)
        leaky = fastnn.activations["leaky_relu"]
        for kind, names in (("forward", FORWARD), ("backward", BACKWARD)):
            for name in names:
                act = fastnn.activations[name]
                fns = {}
                if kind == "forward":
                    fns["fastnn"] = lambda: act.forward(x, out=out)
                    fns["numpy"] = lambda: np_forward(name, x, out)
                    fns["roof"] = lambda: fastnn.identity(x, out=out)
                    if torch is not None:
                        tf = torch_forward(name)
                        fns["torch"] = lambda: tf(tx)
                else:
                    fns["fastnn"] = lambda: act.backward(g, x, out=out)
                    fns["numpy"] = lambda: np_backward(name, g, x, out)
                    fns["roof"] = lambda: fastnn.identity_backward(g, x, out=out)
                    fns["roof3"] = lambda: leaky.backward(g, x, out=out)
                b = best_times(fns, rounds)
                us = {k: v * 1e6 for k, v in b.items()}
                t = us.get("torch", float("nan"))
                r3 = us.get("roof3", float("nan")) / us["fastnn"]
                print(
                    f"| {name} {kind} | {n:,} | {us['fastnn']:.1f} | {us['numpy']:.1f} | {t:.1f} | "
                    f"{us['roof']:.1f} | {us['numpy'] / us['fastnn']:.2f} | {t / us['fastnn']:.2f} | "
                    f"{us['roof'] / us['fastnn']:.2f} | {r3:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
