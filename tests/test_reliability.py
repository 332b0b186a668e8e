"""Thread safety, fork safety and memory stability of the native kernels."""

import multiprocessing as mp
import resource
import threading

import fastnn
import numpy as np
import pytest


def _child_sigmoid_sum(x):
    return float(fastnn.sigmoid(x).astype(np.float64).sum()), fastnn.get_num_threads()


def test_fork_after_openmp_does_not_hang():
    x = np.random.default_rng(0).standard_normal(2_000_000).astype(np.float32)
    want = float(fastnn.sigmoid(x).astype(np.float64).sum())  # starts the OpenMP pool here
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        res = pool.map_async(_child_sigmoid_sum, [x] * 4).get(timeout=60)
    for total, threads in res:
        assert total == want
        assert threads == 1  # a forked child runs single-threaded (GNU OpenMP is not fork-safe)
    assert fastnn._C._build_info()["forked_child"] is False


def test_concurrent_python_threads_match_sequential():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(300_000).astype(np.float32) for _ in range(8)]
    want = [fastnn.gelu(x) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(3):
            got[i] = fastnn.gelu(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_many_small_calls_keep_memory_flat():
    x = np.ones(100, np.float32)
    out = np.empty_like(x)

    def loop():
        for _ in range(20_000):
            fastnn.sigmoid(x, out=out)
            fastnn.tanh_backward(x, x)
            try:
                fastnn.relu(np.ones(3, int))
            except TypeError:
                pass

    loop()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(5):
        loop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 20_000  # KiB: 10^5 calls may not grow the peak by 20 MB


@pytest.mark.parametrize("level", fastnn.supported_simd_levels())
def test_forced_level_via_environment(level):
    import subprocess
    import sys

    env = {"FASTNN_SIMD": level, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "import fastnn; print(fastnn.simd_level())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == level


@pytest.mark.parametrize(
    "env,want",
    [
        ({}, ("10000", "4")),
        ({"GOMP_SPINCOUNT": "7", "OPENBLAS_THREAD_TIMEOUT": "20"}, ("7", "20")),
        ({"OMP_WAIT_POLICY": "passive"}, (None, "4")),
    ],
)
def test_import_sets_thread_pool_waits_unless_the_user_did(env, want):
    """import fastnn shortens libgomp's and OpenBLAS's idle spinning (README, Threads) before
    either library loads, and leaves a value the user set alone."""
    import subprocess
    import sys

    code = (
        "import os, fastnn; "
        "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == [str(w) for w in want]


def _train(seed, steps=30, threads_ok=True):
    from fastnn import nn

    # Explicit generators: the default one (manual_seed) is process-wide, as torch's is.
    gen = fastnn.random.Generator(seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((128, 20)).astype(np.float32)
    y = rng.integers(0, 3, 128)
    model = nn.Sequential(
        nn.Linear(20, 32, generator=gen), nn.Tanh(), nn.Linear(32, 3, generator=gen)
    )
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    crit = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        crit(model(X), y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_two_optimizers_in_two_threads():
    want = [_train(1), _train(2)]
    got = [None, None]

    def work(i):
        got[i] = _train(i + 1)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a, b in zip(got, want):
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa, pb)


def test_training_steps_keep_memory_flat():
    from fastnn import nn

    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = fastnn.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    step = nn.compile_step(model, nn.CrossEntropyLoss(), opt)
    X = np.random.default_rng(0).standard_normal((64, 20)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 64)
    crit = nn.CrossEntropyLoss()

    def loop():
        for _ in range(500):
            step(X, y)
            opt.zero_grad()
            crit(model(X), y).backward()
            opt.step()

    loop()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 20_000  # KiB
