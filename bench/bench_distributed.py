"""Data-parallel scaling over MPI (fastnn.distributed + compile_step's grad_hook).

    python bench/bench_distributed.py          # launches the runs below, prints a markdown table

Model: Sequential(Linear(1024, 1024), ReLU, Linear(1024, 1024)), cross entropy, Adam, float32,
global batch 256 (strong scaling: each of p ranks trains on 256/p rows and the gradients,
4 * n_params bytes, are averaged by one Allreduce per step). Runs: 1 rank with 1 and with all
threads, p ranks x 1 thread each (OMP_NUM_THREADS=1). Also times the Allreduce alone.
Scaling efficiency = T(1 rank, 1 thread) / (p * T(p ranks)).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH, D, H, C = 256, 1024, 1024, 1024
WARMUP, STEPS = 3, 20


def worker(out):
    import fastnn
    from fastnn import nn
    from fastnn.distributed import DataParallel
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    r, p = comm.Get_rank(), comm.Get_size()
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))
    ddp = DataParallel(model, comm)
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    step = nn.compile_step(model, nn.CrossEntropyLoss(), opt, grad_hook=ddp.allreduce_gradients)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, D), dtype=np.float32)
    y = rng.integers(0, C, BATCH)
    lo, hi = r * BATCH // p, (r + 1) * BATCH // p
    xb, yb = X[lo:hi].copy(), y[lo:hi].copy()
    times, ar = [], []
    for i in range(WARMUP + STEPS):
        comm.Barrier()
        t0 = time.perf_counter()
        step(xb, yb)
        t1 = time.perf_counter()
        if i >= WARMUP:
            times.append(t1 - t0)
    buf = ddp.grad_buffers[0]
    for i in range(WARMUP + STEPS):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        if i >= WARMUP:
            ar.append(time.perf_counter() - t0)
    times = comm.gather(statistics.median(times), root=0)
    ar = comm.gather(statistics.median(ar), root=0)
    if r == 0:
        n_params = sum(q.size for q in model.parameters())
        pathlib.Path(out).write_text(
            json.dumps(
                {
                    "ranks": p,
                    "threads": fastnn.get_num_threads(),
                    "step_s": max(times),
                    "allreduce_s": max(ar),
                    "n_params": int(n_params),
                }
            )
        )


def launch(ranks, threads, out):
    mpiexec = pathlib.Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(
        [mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py", __file__, "--worker", out],
        check=True,
        env=env,
        timeout=600,
    )
    return json.loads(pathlib.Path(out).read_text())


def main():
    import tempfile

    ncpu = os.cpu_count() or 1
    runs = [(1, 1), (1, ncpu), (2, 1)]
    if ncpu >= 4:
        runs.append((ncpu, 1))
    res = []
    with tempfile.TemporaryDirectory() as d:
        for ranks, threads in runs:
            res.append(launch(ranks, threads, str(pathlib.Path(d) / f"r{ranks}t{threads}.json")))
    base = res[0]["step_s"]
    nbytes = 4 * res[0]["n_params"]
    print(
        f"global batch {BATCH}, {D}->{H}->{C}, float32 Adam, compiled step; "
        f"{res[0]['n_params']} parameters = {nbytes / 1e6:.1f} MB of gradients per step\n"
    )
    print("| ranks x threads | rows/rank | ms/step | Allreduce ms | samples/s | efficiency |")
    print("|---|---|---|---|---|---|")
    for r in res:
        p = r["ranks"]
        eff = base / (p * r["step_s"]) if r["threads"] == 1 else base / (r["threads"] * r["step_s"])
        ar = f"{r['allreduce_s'] * 1e3:.2f}" if p > 1 else "-"
        print(
            f"| {p} x {r['threads']} | {BATCH // p} | {r['step_s'] * 1e3:.2f} | {ar} | "
            f"{BATCH / r['step_s']:.0f} | {eff:.0%} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
