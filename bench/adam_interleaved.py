"""Adam, one step, interleaved with NumPy, torch foreach/fused and the copy roofline (the figures in
BENCHMARKS.md "Optimizers", current): python bench/adam_interleaved.py"""

import pathlib
import sys
import time

import fastnn
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import bench_optim as bo  # noqa: E402

for nt in (2, 1):
    fastnn.set_num_threads(nt)
    torch.set_num_threads(nt)
    for layout in ("1x10M", "100x100k"):
        sizes = bo.LAYOUTS[layout]
        fns = {
            impl: bo.make(impl, "adam", sizes)
            for impl in ("fastnn", "numpy", "torch_fused", "torch_foreach", "roofline")
        }
        best = {k: 1e9 for k in fns}
        for r in range(12):
            for k, f in fns.items():
                if f is None:
                    continue
                t = time.perf_counter()
                f()
                best[k] = min(best[k], time.perf_counter() - t)
        f = best["fastnn"]
        print(
            nt,
            layout,
            " ".join(f"{k} {v * 1e3:.2f}ms" for k, v in best.items()),
            "| vs numpy %.2fx, vs fused %.2fx, vs foreach %.2fx, of roofline %.2f"
            % (
                best["numpy"] / f,
                best["torch_fused"] / f,
                best["torch_foreach"] / f,
                best["roofline"] / f,
            ),
        )
        del fns
