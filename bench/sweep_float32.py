"""Exhaustive float32 check: activations over all 2^32 bit patterns (or every stride-th one)
against the float64 reference (tests/reference.py) rounded to float32; prints the worst ulp
distance and where it occurs. --kind derivative checks f' the same way (reporting ulp only where
|error| > 2e-7, the test's absolute floor near the zero crossings).

    python bench/sweep_float32.py [--level avx512|avx2|scalar] [--functions sigmoid,tanh]
                                  [--stride 16] [--kind forward|derivative]

Not part of the test run (minutes of CPU). Record the result in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import sys
import time

import fastnn
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference import DERIVATIVE, FORWARD, ulp_distance


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", default=fastnn.simd_level())
    ap.add_argument("--chunk-bits", type=int, default=24)
    ap.add_argument("--functions", default="sigmoid,tanh")
    ap.add_argument("--stride", type=int, default=1, help="check every stride-th bit pattern")
    ap.add_argument("--kind", choices=["forward", "derivative"], default="forward")
    args = ap.parse_args()
    fastnn._C._set_simd_level(args.level)
    chunk = 1 << args.chunk_bits
    names = args.functions.split(",")
    refs = {n: (FORWARD if args.kind == "forward" else DERIVATIVE)[n] for n in names}
    worst = {name: (0, None) for name in refs}
    beyond = {name: (0, None) for name in refs}  # derivative: worst ulp where |err| > 2e-7
    t0 = time.time()
    bits = np.empty(chunk, np.uint32)
    step = chunk * args.stride
    for start in range(0, 1 << 32, step):
        bits[:] = (start + np.arange(chunk, dtype=np.uint64) * args.stride).astype(np.uint32)
        x = bits.view(np.float32)
        x64 = x.astype(np.float64)
        for name, ref in refs.items():
            want64 = ref(x64)
            want = want64.astype(np.float32)
            got = getattr(fastnn.activations[name], args.kind)(x)
            d = ulp_distance(got, want)
            i = int(d.argmax())
            if d[i] > worst[name][0]:
                worst[name] = (int(d[i]), float(x[i]))
            if args.kind == "derivative":
                d = np.where(np.abs(got - want64) <= 2e-7, 0, d)
                i = int(d.argmax())
                if d[i] > beyond[name][0]:
                    beyond[name] = (int(d[i]), float(x[i]))
    what = "all 2^32" if args.stride == 1 else f"every {args.stride}th of the 2^32"
    print(f"level {args.level}, {args.kind}, {what} float32 inputs, {time.time() - t0:.0f} s")
    for name, (ulp, where) in worst.items():
        line = f"  {name:8s} worst {ulp} ulp" + (f" at x = {where!r}" if where is not None else "")
        if args.kind == "derivative":
            b, at = beyond[name]
            line += f"; beyond the 2e-7 floor: {b} ulp" + (
                f" at x = {at!r}" if at is not None else ""
            )
        print(line)


if __name__ == "__main__":
    main()
