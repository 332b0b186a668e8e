"""fastnn.nn.compile_step: the fused native training step against the module-by-module step."""

import copy
import tracemalloc

import fastnn
import numpy as np
import pytest
from fastnn import nn, optim

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def module_step(model, crit, opt, x, y):
    out = model(x)
    loss = crit(out, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.data)


def assert_same_params(m1, m2, dtype, grads=True):
    tol = TOL[dtype]
    for (n, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        scale = max(1.0, float(np.max(np.abs(p1.data))))
        np.testing.assert_allclose(p2.data, p1.data, rtol=tol, atol=tol * scale, err_msg=n)
        if grads:
            gs = max(1.0, float(np.max(np.abs(p1.grad))))
            np.testing.assert_allclose(p2.grad, p1.grad, rtol=tol, atol=tol * gs, err_msg=n)


def assert_same_state(m1, m2, o1, o2, dtype):
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        s1, s2 = o1.state.get(p1, {}), o2.state.get(p2, {})
        assert s1.keys() == s2.keys()
        for k in s1:
            np.testing.assert_allclose(
                np.asarray(s2[k]), np.asarray(s1[k]), rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10
            )


def data(rng, dtype, n, d, c, loss, flat_shape=None):
    x = rng.standard_normal((n, d) if flat_shape is None else (n, *flat_shape)).astype(dtype)
    if loss == "ce":
        y = rng.integers(0, c, n)
    else:
        y = rng.standard_normal((n, c)).astype(dtype)
    return x, y


ARCHS = {
    "relu2": lambda dt: nn.Sequential(
        nn.Linear(12, 16, dtype=dt), nn.ReLU(), nn.Linear(16, 5, dtype=dt)
    ),
    "tanh_nobias": lambda dt: nn.Sequential(
        nn.Linear(12, 9, bias=False, dtype=dt),
        nn.Tanh(),
        nn.Linear(9, 7, dtype=dt),
        nn.Sigmoid(),
        nn.Linear(7, 5, bias=False, dtype=dt),
    ),
    "mixed": lambda dt: nn.Sequential(
        nn.Linear(12, 17, dtype=dt),
        nn.GELU(),
        nn.Linear(17, 15, dtype=dt),
        nn.LeakyReLU(0.2),
        nn.Linear(15, 16, dtype=dt),
        nn.ELU(0.7),
        nn.Linear(16, 8, dtype=dt),
        nn.SiLU(),
        nn.Linear(8, 6, dtype=dt),
        nn.Softplus(2.0, 5.0),
        nn.Linear(6, 9, dtype=dt),
        nn.Hardswish(),
        nn.Linear(9, 8, dtype=dt),
        nn.SELU(),
        nn.Linear(8, 8, dtype=dt),
        nn.GELU(approximate="tanh"),
        nn.Linear(8, 7, dtype=dt),
        nn.Hardsigmoid(),
        nn.Identity(),
        nn.Linear(7, 5, dtype=dt),
    ),
    "single": lambda dt: nn.Sequential(nn.Linear(12, 5, dtype=dt)),
}

OPTS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05),
    "sgd_mom": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, maximize=True),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "adam_ams": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
}


def pair(arch, opt, dtype, seed=0):
    fastnn.manual_seed(seed)
    m1 = ARCHS[arch](dtype)
    m2 = copy.deepcopy(m1)
    return m1, m2, OPTS[opt](m1.parameters()), OPTS[opt](m2.parameters())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt", list(OPTS))
@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_matches_module_path(arch, opt, dtype, loss):
    m1, m2, o1, o2 = pair(arch, opt, dtype)
    crit = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(1)
    for n in (11, 70, 11, 70):  # 70 rows: the one-region parallel path (>= 2 x 16 rows)
        x, y = data(rng, dtype, n, 12, 5, loss)
        l1 = module_step(m1, crit, o1, x, y)
        l2 = step(x, y)
        assert isinstance(l2, float)
        assert l2 == pytest.approx(l1, rel=TOL[dtype], abs=TOL[dtype])
    assert_same_params(m1, m2, dtype)
    assert_same_state(m1, m2, o1, o2, dtype)


def wide(dt):
    # products of 1.8 MFLOP at batch 96: below OpenBLAS's threading threshold (2 MFLOP in
    # float64), 12 MFLOP per step in all: the one-region parallel path
    return nn.Sequential(
        nn.Linear(12, 96, dtype=dt),
        nn.Tanh(),
        nn.Linear(96, 96, dtype=dt),
        nn.ReLU(),
        nn.Linear(96, 96, bias=False, dtype=dt),
        nn.GELU(),
        nn.Linear(96, 5, dtype=dt),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt", ["adam_ams", "sgd_mom"])
def test_parallel_step_any_thread_count(opt, dtype, threads):
    """The one-region path (rows split over threads) gives the one-thread parameters, and the
    module path's."""
    results = []
    for nt in (1, 2, 3):
        fastnn.set_num_threads(nt)
        fastnn.manual_seed(0)
        m1 = wide(dtype)
        m2 = copy.deepcopy(m1)
        o1, o2 = OPTS[opt](m1.parameters()), OPTS[opt](m2.parameters())
        crit = nn.CrossEntropyLoss()
        step = nn.compile_step(m2, crit, o2)
        assert step._parallel_path(96) == (nt > 1)
        rng = np.random.default_rng(5)
        for n in (96, 40, 100):
            x, y = data(rng, dtype, n, 12, 5, "ce")
            l1 = module_step(m1, crit, o1, x, y)
            assert step(x, y) == pytest.approx(l1, rel=TOL[dtype], abs=TOL[dtype])
        assert_same_params(m1, m2, dtype)
        results.append([p.data.copy() for p in m2.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(b, a, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"ignore_index": 2}])
def test_cross_entropy_options(dtype, reduction, kw, simd_level):
    m1, m2, o1, o2 = pair("relu2", "adam", dtype)
    crit = nn.CrossEntropyLoss(reduction=reduction, **kw)
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x, y = data(rng, dtype, 13, 12, 5, "ce")
        y = y.astype(np.int32) if reduction == "sum" else y  # int32 labels too
        assert step(x, y) == pytest.approx(
            module_step(m1, crit, o1, x, y.astype(np.int64)), rel=TOL[dtype]
        )
    assert_same_params(m1, m2, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_sum_flatten_and_groups(dtype):
    fastnn.manual_seed(3)
    m1 = nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 10, dtype=dtype),
        nn.Tanh(),
        nn.Sequential(nn.Linear(10, 4, dtype=dtype)),
    )
    m2 = copy.deepcopy(m1)

    def groups(m):
        ps = list(m.parameters())
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.003, "weight_decay": 0.1}]

    o1, o2 = optim.AdamW(groups(m1), lr=0.01), optim.AdamW(groups(m2), lr=0.01)
    crit = nn.MSELoss(reduction="sum")
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, y = data(rng, dtype, 6, 12, 4, "mse", flat_shape=(3, 4))
        assert step(x, y) == pytest.approx(module_step(m1, crit, o1, x, y), rel=TOL[dtype])
    assert_same_params(m1, m2, dtype)


@pytest.mark.parametrize("opt", ["sgd_mom", "adam_ams"])
def test_mixing_with_optimizer_step_and_scheduler(opt):
    dtype = np.float64
    m1, m2, o1, o2 = pair("relu2", opt, dtype)
    crit = nn.CrossEntropyLoss()
    step = nn.compile_step(m2, crit, o2)
    sched1 = optim.lr_scheduler.StepLR(o1, step_size=2, gamma=0.5)
    sched2 = optim.lr_scheduler.StepLR(o2, step_size=2, gamma=0.5)
    rng = np.random.default_rng(5)
    for i in range(8):
        x, y = data(rng, dtype, 9, 12, 5, "ce")
        module_step(m1, crit, o1, x, y)
        if i % 3 == 1:
            module_step(m2, crit, o2, x, y)  # the Python optimizer on the compiled step's state
        else:
            step(x, y)
        sched1.step()
        sched2.step()
    assert_same_params(m1, m2, dtype)
    p = next(iter(m2.parameters()))
    if "step" in o2.state[p]:
        assert o2.state[p]["step"] == 8
    # The state arrays are the ones the compiled step updates (same objects, in place).
    st = o2.state[p]
    before = {k: v for k, v in st.items() if isinstance(v, np.ndarray)}
    step(*data(rng, dtype, 9, 12, 5, "ce"))
    for k, v in before.items():
        assert o2.state[p][k] is v


def test_state_dict_roundtrip_and_grad_assignment():
    dtype = np.float64
    m1, m2, o1, o2 = pair("relu2", "adam", dtype)
    crit = nn.CrossEntropyLoss()
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(6)
    for _ in range(2):
        x, y = data(rng, dtype, 9, 12, 5, "ce")
        module_step(m1, crit, o1, x, y)
        step(x, y)
    o2.load_state_dict(o2.state_dict())  # new state arrays: picked up by the next call
    o2.zero_grad()  # grads set to None: reassigned by the next call
    for _ in range(2):
        x, y = data(rng, dtype, 9, 12, 5, "ce")
        module_step(m1, crit, o1, x, y)
        step(x, y)
    assert_same_params(m1, m2, dtype)
    assert all(p.grad is not None for p in m2.parameters())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_size_changes(dtype):
    m1, m2, o1, o2 = pair("tanh_nobias", "sgd_mom", dtype)
    crit = nn.CrossEntropyLoss()
    step = nn.compile_step(m2, crit, o2, batch_size=8)
    assert step.capacity >= 8
    rng = np.random.default_rng(7)
    for n in (8, 3, 1, 8, 40, 17, 40, 2):
        x, y = data(rng, dtype, n, 12, 5, "ce")
        assert step(x, y) == pytest.approx(module_step(m1, crit, o1, x, y), rel=TOL[dtype])
    assert_same_params(m1, m2, dtype)
    assert step.reallocations == 1  # grew once, for 40 rows
    assert step.capacity >= 40


def test_no_allocation_per_step():
    m, _, o, _ = pair("relu2", "adam", np.float32)
    step = nn.compile_step(m, nn.CrossEntropyLoss(), o, batch_size=64)
    rng = np.random.default_rng(8)
    x, y = data(rng, np.float32, 64, 12, 5, "ce")
    for _ in range(3):
        step(x, y)
    tracemalloc.start()
    try:
        step(x, y)
        snap0 = tracemalloc.take_snapshot()
        for _ in range(200):
            step(x, y)
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename") if s.size_diff > 0)
    assert grown < 2048, grown
    assert step.reallocations == 0


def test_non_contiguous_and_list_inputs():
    m1, m2, o1, o2 = pair("relu2", "sgd", np.float64)
    crit = nn.CrossEntropyLoss()
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(9)
    x, y = data(rng, np.float64, 10, 24, 5, "ce")
    xs = x[:, ::2]
    assert step(xs, list(y)) == pytest.approx(module_step(m1, crit, o1, xs, y), rel=1e-12)
    assert_same_params(m1, m2, np.float64)


def snapshot(model, opt):
    ps = [p.data.copy() for p in model.parameters()]
    st = {
        id(p): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        for p, s in opt.state.items()
    }
    return ps, st


def unchanged(model, opt, snap):
    ps, st = snap
    for p, q in zip(model.parameters(), ps):
        np.testing.assert_array_equal(p.data, q)
    for p, s in opt.state.items():
        for k, v in s.items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(st[id(p)][k]))


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_bad_inputs_raise_before_writing(loss):
    dtype = np.float32
    m, _, o, _ = pair("relu2", "adam", dtype)
    crit = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    step = nn.compile_step(m, crit, o)
    rng = np.random.default_rng(10)
    x, y = data(rng, dtype, 6, 12, 5, loss)
    step(x, y)
    snap = snapshot(m, o)
    with pytest.raises(TypeError, match="x has dtype float64"):
        step(x.astype(np.float64), y)
    with pytest.raises(ValueError, match="in_features=12"):
        step(x[:, :11], y)
    with pytest.raises(ValueError, match="x has shape"):
        step(x.reshape(6, 3, 4), y)
    with pytest.raises(ValueError, match="empty"):
        step(x[:0], y[:0])
    if loss == "ce":
        with pytest.raises(TypeError, match="int64 or int32"):
            step(x, y.astype(np.float32))
        with pytest.raises(ValueError, match="y has shape"):
            step(x, y[:5])
        for bad in (5, -1, 2**40):
            yb = y.copy()
            yb[3] = bad
            with pytest.raises(ValueError, match="out of range"):
                step(x, yb)
    else:
        with pytest.raises(TypeError, match="y has dtype"):
            step(x, y.astype(np.float64))
        with pytest.raises(ValueError, match="y has shape"):
            step(x, y[:, :4])
    o.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="learning rate"):
        step(x, y)
    o.param_groups[0]["lr"] = 1e-3
    o.param_groups[0]["betas"] = (0.9, 1.0)
    with pytest.raises(ValueError, match="beta"):
        step(x, y)
    o.param_groups[0]["betas"] = (0.9, 0.999)
    p0 = next(iter(m.parameters()))
    good = o.state[p0]["exp_avg"]
    o.state[p0]["exp_avg"] = good.astype(np.float64)
    with pytest.raises(TypeError, match="exp_avg"):
        step(x, y)
    o.state[p0]["exp_avg"] = good[:-1]
    with pytest.raises(ValueError, match="exp_avg"):
        step(x, y)
    o.state[p0]["exp_avg"] = good
    unchanged(m, o, snap)
    step(x, y)  # still works


def test_sgd_fresh_state_first_step():
    # Momentum buffers are created by the compiled step exactly like SGD does (first step: b = g).
    m1, m2, o1, o2 = pair("relu2", "sgd_mom", np.float64)
    crit = nn.MSELoss()
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(11)
    x, y = data(rng, np.float64, 7, 12, 5, "mse")
    module_step(m1, crit, o1, x, y)
    step(x, y)
    assert_same_params(m1, m2, np.float64)
    for p in m2.parameters():
        assert set(o2.state[p]) == {"momentum_buffer"}


def test_unsupported_raise_at_compile_time():
    dt = np.float32
    lin = nn.Linear(4, 3, dtype=dt)
    ce = nn.CrossEntropyLoss()
    o = optim.SGD(lin.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="nn.Sequential"):
        nn.compile_step(lin, ce, o)
    m = nn.Sequential(nn.Linear(4, 3, dtype=dt), nn.Dropout(0.5))
    with pytest.raises(ValueError, match="Dropout.*module-by-module"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))
    m = nn.Sequential(nn.Linear(4, 3, dtype=dt), nn.ReLU(), nn.Tanh())
    with pytest.raises(ValueError, match="Tanh"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))
    m = nn.Sequential(nn.ReLU(), nn.Linear(4, 3, dtype=dt))
    with pytest.raises(ValueError, match="ReLU"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))
    m = nn.Sequential(nn.Linear(4, 3, dtype=dt), nn.Softmax())
    with pytest.raises(ValueError, match="Softmax"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))
    m = nn.Sequential(nn.Linear(4, 3, dtype=dt))
    with pytest.raises(ValueError, match="L1Loss"):
        nn.compile_step(m, nn.L1Loss(), optim.SGD(m.parameters()))
    with pytest.raises(ValueError, match="weights"):
        nn.compile_step(m, nn.CrossEntropyLoss(weight=np.ones(3, dt)), optim.SGD(m.parameters()))
    with pytest.raises(ValueError, match="reduction='none'"):
        nn.compile_step(m, nn.MSELoss(reduction="none"), optim.SGD(m.parameters()))
    with pytest.raises(ValueError, match="RMSprop"):
        nn.compile_step(m, ce, optim.RMSprop(m.parameters()))
    with pytest.raises(ValueError, match="not in the optimizer"):
        nn.compile_step(m, ce, optim.SGD([m[0].weight]))
    other = nn.Linear(2, 2, dtype=dt)
    with pytest.raises(ValueError, match="not in the model"):
        nn.compile_step(m, ce, optim.SGD(list(m.parameters()) + list(other.parameters())))
    m = nn.Sequential(nn.Linear(4, 3, dtype=np.float32), nn.Linear(3, 2, dtype=np.float64))
    with pytest.raises(TypeError, match="mix dtypes"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))
    m = nn.Sequential(nn.Linear(4, 3, dtype=dt), nn.Linear(4, 2, dtype=dt))
    with pytest.raises(ValueError, match="in_features"):
        nn.compile_step(m, ce, optim.SGD(m.parameters()))


def test_changed_param_groups_detected():
    m, _, o, _ = pair("relu2", "sgd", np.float64)
    step = nn.compile_step(m, nn.CrossEntropyLoss(), o)
    o.add_param_group({"params": [fastnn.Parameter(np.zeros(3))]})
    x, y = data(np.random.default_rng(0), np.float64, 4, 12, 5, "ce")
    with pytest.raises(ValueError, match="compile again"):
        step(x, y)


def test_larger_shapes_threaded(threads):
    # Sizes big enough for multi-threaded BLAS and kernels.
    fastnn.set_num_threads(2)
    dtype = np.float32
    fastnn.manual_seed(12)
    m1 = nn.Sequential(nn.Linear(256, 192, dtype=dtype), nn.ReLU(), nn.Linear(192, 10, dtype=dtype))
    m2 = copy.deepcopy(m1)
    o1, o2 = optim.Adam(m1.parameters(), lr=1e-3), optim.Adam(m2.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    step = nn.compile_step(m2, crit, o2)
    rng = np.random.default_rng(13)
    for _ in range(2):
        x, y = data(rng, dtype, 300, 256, 10, "ce")
        assert step(x, y) == pytest.approx(module_step(m1, crit, o1, x, y), rel=1e-5)
    assert_same_params(m1, m2, dtype)


FEATURE_ARCHS = {
    # hidden width 64 in blocks of 32: the tiny-step shape (batch 64, 100 -> 64 -> 10)
    "relu64": lambda dt: nn.Sequential(
        nn.Linear(100, 64, dtype=dt), nn.ReLU(), nn.Linear(64, 10, dtype=dt)
    ),
    # 40 = a block of 32 and one of 8; output activation with bias: the epilogue and its backward
    "tanh40_sigmoid": lambda dt: nn.Sequential(
        nn.Linear(100, 40, dtype=dt), nn.Tanh(), nn.Linear(40, 10, dtype=dt), nn.Sigmoid()
    ),
    # no biases, a pre-activation backward (GELU), 3 blocks of 16 with 3 threads
    "gelu48_nobias": lambda dt: nn.Sequential(
        nn.Linear(100, 48, bias=False, dtype=dt),
        nn.GELU(),
        nn.Linear(48, 10, bias=False, dtype=dt),
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt", ["adam_ams", "adamw", "sgd_mom", "sgd"])
@pytest.mark.parametrize("arch", list(FEATURE_ARCHS))
def test_feature_split_step(arch, opt, dtype, threads):
    """Two-layer steps split by hidden features over 2 or 3 threads give the module path's
    parameters, gradients and optimizer state, and the one-thread step's."""
    results = []
    for nt in (1, 2, 3):
        fastnn.set_num_threads(nt)
        fastnn.manual_seed(3)
        m1 = FEATURE_ARCHS[arch](dtype)
        m2 = copy.deepcopy(m1)
        o1, o2 = OPTS[opt](m1.parameters()), OPTS[opt](m2.parameters())
        loss = "mse" if arch == "tanh40_sigmoid" else "ce"
        crit = nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()
        step = nn.compile_step(m2, crit, o2)
        assert step._step_path(64) == ("layers" if nt == 1 else "features")
        assert step._parallel_path(64) == (nt > 1)
        rng = np.random.default_rng(7)
        for n in (64, 5, 64, 37):
            x, y = data(rng, dtype, n, 100, 10, loss)
            l1 = module_step(m1, crit, o1, x, y)
            assert step(x, y) == pytest.approx(l1, rel=TOL[dtype], abs=TOL[dtype])
        assert_same_params(m1, m2, dtype)
        assert_same_state(m1, m2, o1, o2, dtype)
        results.append([p.data.copy() for p in m2.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(b, a, rtol=TOL[dtype], atol=TOL[dtype])


def test_feature_split_with_grad_hook(threads):
    """With a gradient hook the split step stops before the update; the hook sees the module
    path's gradients and the update after it gives the module path's parameters."""
    fastnn.set_num_threads(2)
    m1, m2 = FEATURE_ARCHS["relu64"](np.float32), None
    m2 = copy.deepcopy(m1)
    o1, o2 = OPTS["adam"](m1.parameters()), OPTS["adam"](m2.parameters())
    crit = nn.CrossEntropyLoss()
    seen = []
    step = nn.compile_step(m2, crit, o2, grad_hook=lambda: seen.append(m2[2].bias.grad.copy()))
    assert step._step_path(64) == "features"
    rng = np.random.default_rng(9)
    for _ in range(3):
        x, y = data(rng, np.float32, 64, 100, 10, "ce")
        module_step(m1, crit, o1, x, y)
        step(x, y)
        np.testing.assert_allclose(seen[-1], m1[2].bias.grad, rtol=1e-5, atol=1e-7)
    assert_same_params(m1, m2, np.float32)


def test_feature_split_not_for_other_shapes(threads):
    fastnn.set_num_threads(2)
    crit = nn.CrossEntropyLoss()
    narrow = nn.Sequential(nn.Linear(100, 24), nn.ReLU(), nn.Linear(24, 10))  # < 2 blocks of 16
    deep = nn.Sequential(
        nn.Linear(100, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    tiny = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))  # below the flop floor
    for model, path in ((narrow, "layers"), (deep, "layers"), (tiny, "layers")):
        step = nn.compile_step(model, crit, optim.Adam(model.parameters()))
        assert step._step_path(64) == path


def assert_team_choice_invisible(make, sizes, dtype, d, c, loss, seed):
    """Steps forced onto one thread (0), the team (1) and the tuner's choice (-1) give bitwise
    the same losses and parameters. make() -> (model, step). Returns the last step."""
    runs = []
    for mode in (0, 1, -1):
        m, step = make()
        step._force_team(mode)
        rng = np.random.default_rng(seed)
        losses = []
        for n in sizes * 12:  # past the tuner's first windows
            x, y = data(rng, dtype, n, d, c, loss)
            losses.append(step(x, y))
        runs.append((losses, [p.data.copy() for p in m.parameters()]))
    for losses, ps in runs[1:]:
        assert losses == runs[0][0]
        for a, b in zip(runs[0][1], ps):
            np.testing.assert_array_equal(a, b)
    return step


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("arch", list(FEATURE_ARCHS))
def test_feature_split_team_choice_is_invisible(arch, dtype, threads):
    """The features path runs on its team or on one thread (chosen from step timings); both give
    bitwise the same parameters and losses, so the choice never changes a result."""
    loss = "mse" if arch == "tanh40_sigmoid" else "ce"

    def make():
        fastnn.set_num_threads(2)
        fastnn.manual_seed(4)
        m = FEATURE_ARCHS[arch](dtype)
        o = OPTS["adam_ams"](m.parameters())
        return m, nn.compile_step(m, nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss(), o)

    step = assert_team_choice_invisible(make, (64, 37, 64, 33), dtype, 100, 10, loss, seed=8)
    with pytest.raises(ValueError, match="mode"):
        step._force_team(2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_split_team_choice_is_invisible(dtype, threads):
    """The row-split path's fixed partition also gives bitwise the same results on its team and
    on one thread."""

    def make():
        fastnn.set_num_threads(3)
        fastnn.manual_seed(6)
        m = wide(dtype)
        step = nn.compile_step(m, nn.CrossEntropyLoss(), OPTS["sgd_mom"](m.parameters()))
        assert step._step_path(96) == "rows"
        return m, step

    assert_team_choice_invisible(make, (96, 100, 96, 120), dtype, 12, 5, "ce", seed=10)
