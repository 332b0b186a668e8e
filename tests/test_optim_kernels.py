"""Fused multi-tensor optimizer kernels (fastnn.adam_step, sgd_step, adagrad_step, rmsprop_step)
and the clipping kernels, against float64 NumPy references of torch.optim's formulas."""

import itertools

import fastnn
import numpy as np
import pytest

SIZES = [0, 1, 15, 16, 17, 1023]  # one multi-tensor call covers every odd size and tail
STEPS = 100
DTYPES = [np.float32, np.float64]


def tol(dtype, ref=None):
    """1e-5 (float32) / 1e-12 (float64) relative, elementwise or to the array's scale."""
    r = 1e-5 if dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(ref))) if ref is not None and ref.size else 1.0
    return dict(rtol=r, atol=r * scale)


# ---------------------------------------------------------------------------------------------
# float64 references (torch.optim's single-tensor formulas)


def ref_sgd(p, g, buf, t, lr, momentum, dampening, weight_decay, nesterov, maximize):
    g = -g if maximize else g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        buf = g.copy() if t == 1 else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


def ref_adagrad(p, g, s, t, lr, lr_decay, weight_decay, eps, maximize):
    g = -g if maximize else g
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g
    return p - clr * g / (np.sqrt(s) + eps), s


def ref_rmsprop(p, g, v, ga, b, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    g = -g if maximize else g
    if weight_decay != 0:
        g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    vt = v
    if centered:
        ga = alpha * ga + (1 - alpha) * g
        vt = v - ga * ga
    avg = np.sqrt(vt) + eps
    if momentum > 0:
        b = momentum * b + g / avg
        return p - lr * b, v, ga, b
    return p - lr * g / avg, v, ga, b


def ref_adam(
    p, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled
):
    g = -g if maximize else g
    if weight_decay != 0:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    bc1, bc2 = 1 - beta1**t, 1 - beta2**t
    if amsgrad:
        vmax = np.maximum(vmax, v)
        vx = vmax
    else:
        vx = v
    denom = np.sqrt(vx) / np.sqrt(bc2) + eps
    return p - (lr / bc1) * m / denom, m, v, vmax


# ---------------------------------------------------------------------------------------------
# helpers


def make(dtype, seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for n in sizes]


def grads_for(step, dtype, sizes=SIZES, seed=1):
    rng = np.random.default_rng(seed * 1000 + step)
    return [rng.standard_normal(n).astype(dtype) for n in sizes]


def check(got, ref, dtype):
    for a, r in zip(got, ref):
        np.testing.assert_allclose(a.astype(np.float64), r, **tol(dtype, r))


SGD_OPTS = [
    dict(momentum=mo, dampening=da, nesterov=ne, weight_decay=wd, maximize=mx)
    for mo, da, ne, wd, mx in itertools.product(
        [0.0, 0.9], [0.0, 0.1], [False, True], [0.0, 0.01], [False, True]
    )
    if not (ne and (mo == 0 or da != 0))
]
ADAGRAD_OPTS = [
    dict(lr_decay=ld, weight_decay=wd, init=ia, maximize=mx)
    for ld, wd, ia, mx in itertools.product([0.0, 0.01], [0.0, 0.1], [0.0, 0.1], [False, True])
]
RMSPROP_OPTS = [
    dict(weight_decay=wd, momentum=mo, centered=ce, maximize=mx)
    for wd, mo, ce, mx in itertools.product([0.0, 0.1], [0.0, 0.5], [False, True], [False, True])
]
ADAM_OPTS = [
    dict(weight_decay=wd, amsgrad=am, maximize=mx, decoupled=de)
    for wd, am, mx, de in itertools.product([0.0, 0.1], [False, True], [False, True], [False, True])
]


def ids(opts):
    return ["-".join(f"{k}={v}" for k, v in o.items()) for o in opts]


# ---------------------------------------------------------------------------------------------
# 100-step trajectories, every option combination, every SIMD level, float32 and float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", SGD_OPTS, ids=ids(SGD_OPTS))
def test_sgd_trajectory(simd_level, dtype, opt):
    lr = 0.01
    ps = make(dtype)
    bufs = [np.empty_like(p) for p in ps]
    rp = [p.astype(np.float64) for p in ps]
    rb = [None] * len(ps)
    for t in range(1, STEPS + 1):
        gs = grads_for(t, dtype)
        fastnn.sgd_step(ps, gs, bufs, lr=lr, first_step=(t == 1), **opt)
        for i, g in enumerate(gs):
            rp[i], rb[i] = ref_sgd(rp[i], g.astype(np.float64), rb[i], t, lr, **opt)
    check(ps, rp, dtype)
    if opt["momentum"]:
        check(bufs, rb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", ADAGRAD_OPTS, ids=ids(ADAGRAD_OPTS))
def test_adagrad_trajectory(simd_level, dtype, opt):
    lr, eps = 0.05, 1e-10
    opt = dict(opt)
    init = opt.pop("init")
    ps = make(dtype)
    sums = [np.full_like(p, init) for p in ps]
    rp = [p.astype(np.float64) for p in ps]
    rs = [np.full(p.shape, init, dtype=np.float64) for p in ps]
    for t in range(1, STEPS + 1):
        gs = grads_for(t, dtype)
        fastnn.adagrad_step(ps, gs, sums, step=t, lr=lr, eps=eps, **opt)
        for i, g in enumerate(gs):
            rp[i], rs[i] = ref_adagrad(rp[i], g.astype(np.float64), rs[i], t, lr, eps=eps, **opt)
    check(ps, rp, dtype)
    check(sums, rs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", RMSPROP_OPTS, ids=ids(RMSPROP_OPTS))
def test_rmsprop_trajectory(simd_level, dtype, opt):
    lr, alpha, eps = 0.01, 0.9, 1e-8
    ps = make(dtype)
    sq = [np.zeros_like(p) for p in ps]
    ga = [np.zeros_like(p) for p in ps]
    bufs = [np.zeros_like(p) for p in ps]
    rp = [p.astype(np.float64) for p in ps]
    rv = [np.zeros(p.shape) for p in ps]
    rga = [np.zeros(p.shape) for p in ps]
    rb = [np.zeros(p.shape) for p in ps]
    for t in range(1, STEPS + 1):
        gs = grads_for(t, dtype)
        fastnn.rmsprop_step(ps, gs, sq, ga, bufs, lr=lr, alpha=alpha, eps=eps, **opt)
        for i, g in enumerate(gs):
            rp[i], rv[i], rga[i], rb[i] = ref_rmsprop(
                rp[i], g.astype(np.float64), rv[i], rga[i], rb[i], lr, alpha, eps, **opt
            )
    check(ps, rp, dtype)
    check(sq, rv, dtype)
    if opt["centered"]:
        check(ga, rga, dtype)
    if opt["momentum"]:
        check(bufs, rb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", ADAM_OPTS, ids=ids(ADAM_OPTS))
def test_adam_trajectory(simd_level, dtype, opt):
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    ps = make(dtype)
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    rp = [p.astype(np.float64) for p in ps]
    rm = [np.zeros(p.shape) for p in ps]
    rv = [np.zeros(p.shape) for p in ps]
    rvm = [np.zeros(p.shape) for p in ps]
    for t in range(1, STEPS + 1):
        gs = grads_for(t, dtype)
        fastnn.adam_step(
            ps,
            gs,
            m,
            v,
            vmax if opt["amsgrad"] else None,
            step=t,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            **opt,
        )
        for i, g in enumerate(gs):
            rp[i], rm[i], rv[i], rvm[i] = ref_adam(
                rp[i], g.astype(np.float64), rm[i], rv[i], rvm[i], t, lr, beta1, beta2, eps, **opt
            )
    check(ps, rp, dtype)
    check(m, rm, dtype)
    check(v, rv, dtype)
    if opt["amsgrad"]:
        check(vmax, rvm, dtype)


# ---------------------------------------------------------------------------------------------
# per-tensor steps, mixed dtypes, big sizes


def test_adam_per_tensor_steps_and_mixed_dtypes(simd_level):
    ps = [np.linspace(-1, 1, 33, dtype=np.float32), np.linspace(-2, 2, 100_003)]
    gs = [np.cos(p * 3).astype(p.dtype) for p in ps]
    m = [np.full_like(p, 0.1) for p in ps]
    v = [np.full_like(p, 0.2) for p in ps]
    ref = [
        ref_adam(
            p.astype(np.float64),
            g.astype(np.float64),
            mm.astype(np.float64),
            vv.astype(np.float64),
            None,
            t,
            1e-2,
            0.9,
            0.99,
            1e-8,
            0.0,
            False,
            False,
            False,
        )[0]
        for p, g, mm, vv, t in zip(ps, gs, m, v, [3, 7])
    ]
    fastnn.adam_step(ps, gs, m, v, step=[3, 7], lr=1e-2, beta2=0.99)
    check(ps, ref, np.float32)
    np.testing.assert_allclose(ps[1], ref[1], rtol=1e-12)


def test_large_multi_tensor_matches_single(simd_level):
    sizes = [50_001, 3, 70_000]
    ps = make(np.float32, sizes=sizes)
    gs = grads_for(1, np.float32, sizes=sizes)
    st = [[np.zeros_like(p) for p in ps] for _ in range(2)]
    cat = [np.concatenate(ps)]
    cst = [[np.zeros_like(cat[0])] for _ in range(2)]
    for t in range(1, 4):
        fastnn.adam_step(ps, gs, *st, step=t, lr=0.1)
        fastnn.adam_step(cat, [np.concatenate(gs)], *cst, step=t, lr=0.1)
    np.testing.assert_array_equal(np.concatenate(ps), cat[0])


# ---------------------------------------------------------------------------------------------
# edge cases


def _all_steps(dtype, ps, gs, lr=0.1):
    """One step of every algorithm on copies; returns the new params per algorithm."""
    out = {}
    z = lambda: [np.zeros_like(p) for p in ps]  # noqa: E731
    q = [p.copy() for p in ps]
    fastnn.sgd_step(q, gs, z(), lr=lr, momentum=0.9, first_step=True)
    out["sgd"] = q
    q = [p.copy() for p in ps]
    fastnn.adagrad_step(q, gs, z(), step=1, lr=lr)
    out["adagrad"] = q
    q = [p.copy() for p in ps]
    fastnn.rmsprop_step(q, gs, z(), z(), z(), lr=lr, centered=True, momentum=0.5)
    out["rmsprop"] = q
    q = [p.copy() for p in ps]
    fastnn.adam_step(q, gs, z(), z(), z(), step=1, lr=lr, amsgrad=True)
    out["adam"] = q
    q = [p.copy() for p in ps]
    fastnn.adam_step(q, gs, z(), z(), step=1, lr=lr, weight_decay=0.1, decoupled=True)
    out["adamw"] = q
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_grads_leave_params(simd_level, dtype):
    ps = make(dtype, sizes=[17, 64])
    gs = [np.zeros_like(p) for p in ps]
    for name, q in _all_steps(dtype, ps, gs).items():
        if name == "adamw":
            continue  # decoupled decay still shrinks
        for a, b in zip(q, ps):
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lr_zero_leaves_params(simd_level, dtype):
    ps = make(dtype, sizes=[17, 64])
    gs = grads_for(1, dtype, sizes=[17, 64])
    for name, q in _all_steps(dtype, ps, gs, lr=0.0).items():
        for a, b in zip(q, ps):
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_inf_grads_propagate_like_reference(simd_level, dtype):
    p = np.array([1.0, -2.0, 0.5, 3.0, 0.0, 1.5], dtype=dtype)
    g = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0, -0.0], dtype=dtype)
    with np.errstate(all="ignore"):
        ref = {
            "sgd": ref_sgd(p.astype(float), g.astype(float), None, 1, 0.1, 0.9, 0, 0, False, False)[
                0
            ],
            "adagrad": ref_adagrad(
                p.astype(float), g.astype(float), 0.0, 1, 0.1, 0, 0, 1e-10, False
            )[0],
            "rmsprop": ref_rmsprop(
                p.astype(float),
                g.astype(float),
                0.0,
                0.0,
                0.0,
                0.1,
                0.99,
                1e-8,
                0,
                0.5,
                True,
                False,
            )[0],
            "adam": ref_adam(
                p.astype(float),
                g.astype(float),
                0.0,
                0.0,
                0.0,
                1,
                0.1,
                0.9,
                0.999,
                1e-8,
                0,
                True,
                False,
                False,
            )[0],
            "adamw": ref_adam(
                p.astype(float),
                g.astype(float),
                0.0,
                0.0,
                0.0,
                1,
                0.1,
                0.9,
                0.999,
                1e-8,
                0.1,
                False,
                False,
                True,
            )[0],
        }
    got = _all_steps(dtype, [p], [g])
    for name in ref:
        a, r = got[name][0], ref[name]
        np.testing.assert_array_equal(np.isnan(a), np.isnan(r), err_msg=name)
        np.testing.assert_array_equal(np.isinf(a), np.isinf(r), err_msg=name)
        fin = np.isfinite(r)
        np.testing.assert_allclose(a[fin], r[fin], rtol=1e-6, err_msg=name)
    assert np.isnan(got["adam"][0][0]) and np.isnan(got["adam"][0][1])


def test_empty_lists_are_noops():
    assert fastnn.adam_step([], [], [], [], step=1) is None
    fastnn.sgd_step([], [], lr=0.1)
    fastnn.sgd_step([], [], [], lr=0.1, momentum=0.9)
    fastnn.adagrad_step([], [], [], step=1)
    fastnn.rmsprop_step([], [], [])


def test_in_place_shares_memory():
    base = np.zeros(40, dtype=np.float32)
    p = base[8:24]  # a C-contiguous view: written through to base
    m, v = np.zeros_like(p), np.zeros_like(p)
    fastnn.adam_step([p], [np.ones_like(p)], [m], [v], step=1, lr=0.5)
    assert np.shares_memory(p, base)
    assert np.all(base[8:24] == p) and np.all(p < 0) and np.all(base[:8] == 0)
    assert np.all(m != 0) and np.all(v != 0)


# ---------------------------------------------------------------------------------------------
# threads: bitwise identical for 1 and 2 threads


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_identical(simd_level, threads, dtype):
    sizes = [70_001, 5, 0, 90_000]
    results = []
    for n in (1, 2):
        fastnn.set_num_threads(n)
        ps = make(dtype, sizes=sizes)
        st = [[np.zeros_like(p) for p in ps] for _ in range(3)]
        for t in range(1, 4):
            gs = grads_for(t, dtype, sizes=sizes)
            fastnn.adam_step(ps, gs, *st, step=t, lr=0.01, amsgrad=True, weight_decay=0.1)
            fastnn.rmsprop_step(ps, gs, *st, lr=0.01, centered=True, momentum=0.9)
            fastnn.sgd_step(ps, gs, st[0], lr=0.01, momentum=0.9, nesterov=True)
            fastnn.adagrad_step(ps, gs, st[1], step=t, lr=0.01, lr_decay=0.1)
        norm = fastnn._C._norm_reduce(gs, 2.0)
        results.append((np.concatenate(ps).tobytes(), norm))
    assert results[0] == results[1]


# ---------------------------------------------------------------------------------------------
# bad input raises before anything is written


def _adam_args():
    ps = make(np.float32, sizes=[5, 7, 9])
    gs = grads_for(1, np.float32, sizes=[5, 7, 9])
    m = [np.ones_like(p) for p in ps]
    v = [np.ones_like(p) for p in ps]
    return ps, gs, m, v


def _snapshot(*lists):
    return [[a.copy() for a in lst] for lst in lists]


def _unchanged(before, *lists):
    for b, lst in zip(before, lists):
        for x, y in zip(b, lst):
            np.testing.assert_array_equal(x, y)


BAD_ADAM = {
    "grad_shape": (
        lambda ps, gs, m, v: gs.__setitem__(2, gs[2][:-1]),
        ValueError,
        r"grads\[2\] has shape \(8,\) but params\[2\] has shape \(9,\)",
    ),
    "grad_dtype": (
        lambda ps, gs, m, v: gs.__setitem__(2, gs[2].astype(np.float64)),
        TypeError,
        r"grads\[2\] has dtype float64",
    ),
    "state_dtype": (
        lambda ps, gs, m, v: v.__setitem__(2, v[2].astype(np.float64)),
        TypeError,
        r"exp_avg_sqs\[2\] has dtype float64",
    ),
    "state_shape": (
        lambda ps, gs, m, v: m.__setitem__(2, np.ones((3, 3), np.float32)),
        ValueError,
        r"exp_avgs\[2\] has shape \(3, 3\)",
    ),
    "readonly_param": (
        lambda ps, gs, m, v: ps[2].setflags(write=False),
        ValueError,
        r"params\[2\] is read-only",
    ),
    "noncontig_state": (
        lambda ps, gs, m, v: m.__setitem__(2, np.ones(18, np.float32)[::2]),
        ValueError,
        r"exp_avgs\[2\] must be C-contiguous",
    ),
    "list_param": (
        lambda ps, gs, m, v: ps.__setitem__(2, [0.0] * 9),
        TypeError,
        r"params\[2\] must be a numpy.ndarray",
    ),
    "int_param": (
        lambda ps, gs, m, v: ps.__setitem__(2, np.zeros(9, np.int32)),
        TypeError,
        r"params\[2\] must be a float32 or float64",
    ),
    "byteswapped_param": (  # '>f4' on x86: the kernel would read garbage
        lambda ps, gs, m, v: ps.__setitem__(2, ps[2].astype(ps[2].dtype.newbyteorder())),
        TypeError,
        r"params\[2\] must be a float32 or float64 array, got dtype >f4",
    ),
    "byteswapped_grad": (
        lambda ps, gs, m, v: gs.__setitem__(2, gs[2].astype(gs[2].dtype.newbyteorder())),
        TypeError,
        r"grads\[2\] must be a float32 or float64 array, got dtype >f4",
    ),
    "length": (
        lambda ps, gs, m, v: v.pop(),
        ValueError,
        r"exp_avg_sqs has 2 entries but params has 3",
    ),
    "aliased_state": (lambda ps, gs, m, v: v.__setitem__(2, m[2]), ValueError, r"shares memory"),
    "state_is_param": (lambda ps, gs, m, v: m.__setitem__(2, ps[2]), ValueError, r"shares memory"),
}


@pytest.mark.parametrize("case", list(BAD_ADAM))
def test_adam_bad_arrays_raise_before_writing(case):
    ps, gs, m, v = _adam_args()
    mutate, exc, msg = BAD_ADAM[case]
    mutate(ps, gs, m, v)
    before = _snapshot(ps, m, v)
    with pytest.raises(exc, match=msg):
        fastnn.adam_step(ps, gs, m, v, step=1, lr=0.1)
    _unchanged(before, ps, m, v)


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        (dict(lr=-1.0), "lr must be >= 0"),
        (dict(lr=float("nan")), "lr must be >= 0"),
        (dict(eps=-1e-8), "eps must be >= 0"),
        (dict(beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (dict(beta2=-0.1), r"beta2 must be in \[0, 1\)"),
        (dict(weight_decay=-0.1), "weight_decay must be >= 0"),
        (dict(step=0), "step must be >= 1"),
        (dict(step=[1, 2, 0]), r"step\[2\] must be >= 1"),
        (dict(step=[1, 2]), "step has 2 entries"),
        (dict(step=2**63), "step is too large"),  # was a RuntimeError (failed C++ cast)
        (dict(step=[1, 2, 2**70]), r"step\[2\] is too large"),
        (dict(step=-(2**70)), "step must be >= 1"),
        (dict(amsgrad=True), "max_exp_avg_sqs is required"),
    ],
)
def test_adam_bad_hyperparameters(kwargs, msg):
    ps, gs, m, v = _adam_args()
    before = _snapshot(ps, m, v)
    kw = dict(step=1, lr=0.1)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        fastnn.adam_step(ps, gs, m, v, **kw)
    _unchanged(before, ps, m, v)


def test_other_algorithms_bad_input():
    ps, gs, m, v = _adam_args()
    before = _snapshot(ps, m, v)
    with pytest.raises(ValueError, match="nesterov"):
        fastnn.sgd_step(ps, gs, m, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum_buffers is required"):
        fastnn.sgd_step(ps, gs, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        fastnn.sgd_step(ps, gs, m, lr=0.1, momentum=-0.9)
    with pytest.raises(ValueError, match="lr_decay must be >= 0"):
        fastnn.adagrad_step(ps, gs, m, step=1, lr_decay=-1.0)
    with pytest.raises(ValueError, match=r"state_sums\[1\] has shape"):
        fastnn.adagrad_step(ps, gs, [m[0], m[0], m[2]], step=1)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        fastnn.rmsprop_step(ps, gs, m, alpha=-0.5)
    with pytest.raises(ValueError, match="grad_avgs is required"):
        fastnn.rmsprop_step(ps, gs, m, centered=True)
    with pytest.raises(TypeError, match="params must be a list or tuple"):
        fastnn.sgd_step(ps[0], gs[0], lr=0.1)
    # A first_step that is not a bool was a RuntimeError (failed C++ cast).
    with pytest.raises(TypeError, match="first_step must be a bool, got str"):
        fastnn.sgd_step(ps, gs, m, lr=0.1, momentum=0.9, first_step="yes")
    with pytest.raises(TypeError, match=r"first_step\[1\] must be a bool, got list"):
        fastnn.sgd_step(ps, gs, m, lr=0.1, momentum=0.9, first_step=[True, [1], False])
    _unchanged(before, ps, m, v)


# ---------------------------------------------------------------------------------------------
# clipping kernels


@pytest.mark.parametrize("norm_type", [1.0, 2.0, np.inf, 3.0, 0.5])
def test_clip_grad_norm(simd_level, norm_type):
    rng = np.random.default_rng(5)
    gs = [
        rng.standard_normal(n).astype(dt)
        for n, dt in [(0, np.float32), (17, np.float32), (100_003, np.float64), (1023, np.float32)]
    ]
    orig = [g.astype(np.float64) for g in gs]
    flat = np.concatenate([g.ravel() for g in orig])
    ref = np.linalg.norm(flat, ord=norm_type)
    total = fastnn.clip_grad_norm_(gs, max_norm=1.0, norm_type=norm_type)
    np.testing.assert_allclose(total, ref, rtol=1e-12)
    coef = min(1.0, 1.0 / (ref + 1e-6))
    for g, o in zip(gs, orig):
        np.testing.assert_allclose(g, o * coef, rtol=1e-6 if g.dtype == np.float32 else 1e-13)


def test_clip_grad_norm_no_clip_and_params():
    p = fastnn.Parameter(np.ones(4, dtype=np.float32))
    p.grad = np.full(4, 0.1, dtype=np.float32)
    q = fastnn.Parameter(np.ones(3))  # no grad: skipped
    g0 = p.grad
    total = fastnn.clip_grad_norm_([p, q], max_norm=10.0)
    assert total == pytest.approx(0.2, rel=1e-7)
    assert p.grad is g0 and np.all(p.grad == np.float32(0.1))
    assert fastnn.clip_grad_norm_([q], 1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    g = np.array([1.0, np.nan, 2.0], dtype=np.float32)
    with pytest.raises(RuntimeError, match="non-finite"):
        fastnn.clip_grad_norm_([g.copy()], 1.0, error_if_nonfinite=True)
    total = fastnn.clip_grad_norm_([g], 1.0)
    assert np.isnan(total) and np.all(np.isnan(g))
    g = np.array([1.0, np.inf], dtype=np.float64)
    assert fastnn.clip_grad_norm_([g], 1.0, norm_type=np.inf) == np.inf
    assert g[0] == 0.0 and np.isnan(g[1])  # torch: inf * (1/inf) = nan, 1 * 0 = 0


def test_clip_never_half_applied():
    # Every gradient is checked before any is written: a read-only or non-float gradient after a
    # valid one used to be found only after the valid one had been scaled.
    for bad, exc, msg in [
        (np.full(3, 10.0, np.float32), ValueError, r"parameters\[1\]: the gradient is read-only"),
        (np.full(3, 10), TypeError, r"parameters\[1\].*float32 or float64 array, got dtype int"),
        (np.full(3, 10j), TypeError, "got dtype complex128"),
        (np.full(3, 10.0).astype(">f8"), TypeError, "got dtype >f8"),
    ]:
        bad.flags.writeable = exc is TypeError
        before = bad.copy()
        for clip in (
            lambda gs: fastnn.clip_grad_norm_(gs, 1.0),
            lambda gs: fastnn.clip_grad_norm_(gs, 1.0, norm_type=3.0),  # the NumPy norm path
            lambda gs: fastnn.clip_grad_value_(gs, 1.0),
        ):
            g = np.full(4, 10.0, np.float32)
            with pytest.raises(exc, match=msg):
                clip([g, bad])
            assert np.all(g == 10.0)
            np.testing.assert_array_equal(bad, before)
    p, q = fastnn.Parameter(np.ones(3)), fastnn.Parameter(np.ones(3))
    p.grad, q.grad = np.full(3, 10.0), np.full(3, 10.0)
    q.grad.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastnn.clip_grad_norm_([p, q], 1.0)
    assert np.all(p.grad == 10.0)


def test_clip_grad_value_nan_bound(simd_level):
    # torch.clamp: a NaN clip_value makes every gradient NaN, on the native path (contiguous) as
    # on the NumPy one (not contiguous); the native clamp used to keep the values.
    g = np.array([-3.0, 0.5, np.inf, np.nan], np.float32)
    nc = np.linspace(-2, 2, 8)[::2]
    fastnn.clip_grad_value_([g, nc], float("nan"))
    assert np.isnan(g).all() and np.isnan(nc).all()


def test_clip_grad_value(simd_level):
    g32 = np.array([-3.0, -0.5, 0.0, 0.7, 5.0, np.nan, np.inf], dtype=np.float32)
    g64 = np.linspace(-2, 2, 100_001)
    nc = np.linspace(-2, 2, 20)[::2]  # not contiguous: handled with NumPy in place
    ref = [np.clip(g, -1.0, 1.0) for g in (g32, g64, nc)]
    fastnn.clip_grad_value_([g32, g64, nc], 1.0)
    for g, r in zip((g32, g64, nc), ref):
        np.testing.assert_array_equal(g, r)
