"""fastnn.distributed: data-parallel training over MPI (skipped without mpi4py / mpiexec)."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import fastnn
import numpy as np
import pytest

needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None, reason="mpi4py is not installed"
)

SCRIPT = pathlib.Path(__file__).parent / "mpi_train_script.py"


def _mpiexec():
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec next to sys.executable or on PATH")
    return found


def _launch(n, *args, script=SCRIPT):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@needs_mpi
@pytest.mark.parametrize("mode", ["train", "train_compiled"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_ranks_match_single_process(tmp_path, dtype, mode):
    out = tmp_path / "result.npz"
    res = _launch(2, mode, dtype, out)
    assert res.returncode == 0, res.stdout + res.stderr
    r = np.load(out)
    assert int(r["size"]) == 2
    assert r["views"].all()  # .grad stays a view into the one buffer through training
    reps = r["replicas"]
    # (a) replicas are bitwise identical.
    assert reps[0].tobytes() == reps[1].tobytes()
    # (b) equal to single-process training on the global batch.
    if dtype == "float64":
        np.testing.assert_allclose(reps[0], r["reference"], rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(reps[0], r["reference"], rtol=1e-5, atol=1e-6)


@needs_mpi
def test_failing_rank_aborts_the_job(tmp_path):
    res = _launch(2, "fail", "float32", tmp_path / "x.npz")
    assert res.returncode != 0
    assert "rank 1 fails on purpose" in res.stdout + res.stderr


@needs_mpi
def test_single_process_world():
    from fastnn.distributed import DataParallel

    fastnn.manual_seed(0)
    model = fastnn.nn.Sequential(fastnn.nn.Linear(3, 4), fastnn.nn.ReLU(), fastnn.nn.Linear(4, 2))
    ddp = DataParallel(model)
    assert ddp.world_size == 1
    buf = ddp.grad_buffers[0]
    assert buf.size == 3 * 4 + 4 + 4 * 2 + 2
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    t = np.ones((5, 2), np.float32)
    crit = fastnn.nn.MSELoss()
    ddp.zero_grad()
    crit(model(x), t).backward()
    assert all(np.shares_memory(p.grad, buf) for p in model.parameters())
    g = [p.grad.copy() for p in model.parameters()]
    # A stray optimizer.zero_grad() (set_to_none) then backward: the views come back.
    opt = fastnn.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    crit(model(x), t).backward()
    ddp.allreduce_gradients()
    for p, gi in zip(model.parameters(), g):
        assert np.shares_memory(p.grad, buf)
        np.testing.assert_array_equal(p.grad, gi)
    ddp.zero_grad()
    assert not buf.any()


def test_batches_sharding_covers_each_global_batch():
    X = np.arange(23 * 2, dtype=np.float64).reshape(23, 2)
    y = np.arange(23)
    full = list(fastnn.data.batches(X, y, batch_size=8, rng=5))
    parts = [
        list(fastnn.data.batches(X, y, batch_size=8, rng=5, rank=k, world_size=3)) for k in range(3)
    ]
    assert all(len(p) == len(full) for p in parts)
    for i, (xb, yb) in enumerate(full):
        np.testing.assert_array_equal(np.concatenate([p[i][1] for p in parts]), yb)
        np.testing.assert_array_equal(np.concatenate([p[i][0] for p in parts]), xb)
    with pytest.raises(ValueError, match="rank"):
        list(fastnn.data.batches(X, y, rank=3, world_size=3))
    with pytest.raises(ValueError, match="together"):
        list(fastnn.data.batches(X, y, rank=0))
    from fastnn.distributed import shard_batches

    sb = list(shard_batches(X, y, 8, rng_seed=5, rank=1, world_size=3))
    for a, b in zip(sb, parts[1]):
        np.testing.assert_array_equal(a[1], b[1])


def test_compile_step_grad_hook():
    nn = fastnn.nn
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 5)).astype(np.float64)
    t = rng.standard_normal((8, 3)).astype(np.float64)

    def make():
        fastnn.manual_seed(3)
        m = nn.Sequential(
            nn.Linear(5, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 3, dtype=np.float64)
        )
        return m, fastnn.optim.SGD(m.parameters(), lr=0.1)

    # A hook that doubles the gradients in place == lr doubled.
    m1, o1 = make()
    calls = []

    def double():
        calls.append(1)
        for p in m1.parameters():
            p.grad *= 2

    s1 = nn.compile_step(m1, nn.MSELoss(), o1, grad_hook=double)
    m2, o2 = make()
    o2.param_groups[0]["lr"] = 0.2
    s2 = nn.compile_step(m2, nn.MSELoss(), o2)
    for _ in range(3):
        assert s1(x, t) == pytest.approx(s2(x, t), rel=1e-14)
    assert len(calls) == 3
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(p1.data, p2.data, rtol=1e-14, atol=1e-15)
    # A hook assigning new gradient arrays: they are adopted (written into by later steps).
    m3, o3 = make()
    bufs = {}

    def replace():
        for p in m3.parameters():
            if id(p) not in bufs:
                bufs[id(p)] = np.array(p.grad)
            else:
                assert p.grad is bufs[id(p)]
            p.grad = bufs[id(p)]

    s3 = nn.compile_step(m3, nn.MSELoss(), o3, grad_hook=replace)
    m4, o4 = make()
    s4 = nn.compile_step(m4, nn.MSELoss(), o4)
    for _ in range(3):
        s3(x, t), s4(x, t)
    for p3, p4 in zip(m3.parameters(), m4.parameters()):
        np.testing.assert_array_equal(p3.data, p4.data)
        assert p3.grad is bufs[id(p3)]
    # Bad hooks.
    with pytest.raises(TypeError, match="callable"):
        s3.grad_hook = 3

    def bad():
        next(iter(m3.parameters()))._grad = np.zeros((2, 2))  # bypasses the setter's checks

    s3.grad_hook = bad
    before = [p.data.copy() for p in m3.parameters()]
    with pytest.raises(ValueError, match="shape"):
        s3(x, t)
    for p, b in zip(m3.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # update skipped
    s3.grad_hook = None
    assert s3.grad_hook is None


EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "mpi" / "distributed_train.py"


@needs_mpi
@pytest.mark.parametrize("compiled", [False, True])
def test_example_single_process(compiled):
    import runpy

    losses = runpy.run_path(str(EXAMPLE))["main"](epochs=6, verbose=False, compiled=compiled)
    assert losses[-1] < 0.5 * losses[0]


@needs_mpi
def test_example_two_ranks():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4py", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "(2 ranks)" in res.stdout


SK_SCRIPT = pathlib.Path(__file__).parent / "mpi_sklearn_script.py"


@needs_mpi
@pytest.mark.parametrize(
    "mode,dtype",
    [
        ("adam", "float64"),
        ("adam", "float32"),
        ("sgd", "float64"),
        ("regressor", "float64"),
        ("lbfgs", "float64"),
        ("early", "float64"),
    ],
)
def test_sklearn_fit_two_ranks_match_single_process(tmp_path, mode, dtype):
    pytest.importorskip("sklearn")
    out = tmp_path / "result.npz"
    res = _launch(2, mode, dtype, out, script=SK_SCRIPT)
    assert res.returncode == 0, res.stdout + res.stderr
    r = np.load(out)
    reps = r["replicas"]
    assert reps[0].tobytes() == reps[1].tobytes()  # identical replicas
    np.testing.assert_array_equal(r["curves"][0], r["curves"][1])
    if mode == "early":
        return  # shuffled shards: no single-process equivalent, only consistency
    assert r["n_iter"][0] == r["n_iter"][1]
    tol = {"float64": 1e-8, "float32": 2e-4}[dtype]
    if mode == "lbfgs":
        tol = 1e-6  # L-BFGS amplifies the rounding of the summed loss over 15 iterations
    np.testing.assert_allclose(reps[0], r["reference"], rtol=tol, atol=tol)
    np.testing.assert_allclose(r["curves"][0], r["ref_curve"], rtol=tol, atol=tol)


@needs_mpi
def test_sklearn_fit_mismatched_shards_raise_on_every_rank(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "result.npz"
    res = _launch(2, "mismatch", "float64", out, script=SK_SCRIPT)
    assert res.returncode == 0, res.stdout + res.stderr
    msgs = np.load(out)["messages"]
    assert all("same classes" in m and "rank 1" in m for m in msgs), msgs


SK_EXAMPLE = EXAMPLE.parent / "sklearn_fit.py"


@needs_mpi
def test_sklearn_example_two_ranks():
    pytest.importorskip("sklearn")
    res = _launch(2, script=SK_EXAMPLE)
    assert res.returncode == 0, res.stdout + res.stderr
    acc = float(res.stdout.split("test accuracy")[1])
    assert "2 ranks" in res.stdout and acc >= 0.95
