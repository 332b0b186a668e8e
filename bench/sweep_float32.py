"""Exhaustive float32 check: sigmoid and tanh over all 2^32 bit patterns against the float64
reference rounded to float32; prints the worst ulp distance and where it occurs.

    python bench/sweep_float32.py [--level avx512|avx2|scalar]

Not part of the test run (minutes of CPU). Record the result in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy import special

import fastnn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference import ulp_distance  # noqa: E402

REFS = {"sigmoid": special.expit, "tanh": np.tanh}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", default=fastnn.simd_level())
    ap.add_argument("--chunk-bits", type=int, default=24)
    args = ap.parse_args()
    fastnn._C._set_simd_level(args.level)
    chunk = 1 << args.chunk_bits
    worst = {name: (0, None) for name in REFS}
    t0 = time.time()
    bits = np.empty(chunk, np.uint32)
    for start in range(0, 1 << 32, chunk):
        bits[:] = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        x64 = x.astype(np.float64)
        for name, ref in REFS.items():
            want = ref(x64).astype(np.float32)
            got = fastnn.activations[name].forward(x)
            d = ulp_distance(got, want)
            i = int(d.argmax())
            if d[i] > worst[name][0]:
                worst[name] = (int(d[i]), float(x[i]))
    print(f"level {args.level}, all 2^32 float32 inputs, {time.time() - t0:.0f} s")
    for name, (ulp, where) in worst.items():
        print(f"  {name:8s} worst {ulp} ulp" + (f" at x = {where!r}" if where is not None else ""))


if __name__ == "__main__":
    main()
