"""fastnn.linear / fastnn.linear_backward against float64 NumPy references."""

from __future__ import annotations

import math

import fastnn
import numpy as np
import pytest

SQRT2 = math.sqrt(2.0)
_erf = np.vectorize(math.erf, otypes=[float])

# Parameters exercised for the parametrized activations (non-default on purpose).
PARAMS = {"leaky_relu": (0.2,), "elu": (0.7,), "softplus": (2.0, 3.0)}
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
NAMES = [name for name, _, _ in fastnn._C._activation_names]


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def ref_f(name, z, p=()):
    """Activation and its derivative, float64 NumPy."""
    if name == "identity":
        return z, np.ones_like(z)
    if name == "step":
        return (z > 0).astype(float), np.zeros_like(z)
    if name == "sigmoid":
        s = _sig(z)
        return s, s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1 - t * t
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float)
    if name == "leaky_relu":
        (a,) = p
        return np.where(z > 0, z, a * z), np.where(z > 0, 1.0, a)
    if name == "elu":
        (a,) = p
        return np.where(z > 0, z, a * np.expm1(z)), np.where(z > 0, 1.0, a * np.exp(z))
    if name == "selu":
        return (
            SELU_S * np.where(z > 0, z, SELU_A * np.expm1(z)),
            SELU_S * np.where(z > 0, 1.0, SELU_A * np.exp(z)),
        )
    if name == "gelu":
        cdf = 0.5 * (1 + _erf(z / SQRT2))
        return z * cdf, cdf + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    if name == "gelu_tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (z + 0.044715 * z**3))
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * c * (
            1 + 3 * 0.044715 * z * z
        )
    if name == "silu":
        s = _sig(z)
        return z * s, s * (1 + z * (1 - s))
    if name == "softplus":
        beta, thr = p
        lin = beta * z > thr
        return (
            np.where(lin, z, np.log1p(np.exp(np.minimum(beta * z, thr))) / beta),
            np.where(lin, 1.0, _sig(beta * z)),
        )
    if name == "hardsigmoid":
        return np.clip((z + 3) / 6, 0, 1), np.where((z > -3) & (z < 3), 1 / 6, 0.0)
    if name == "hardswish":
        return z * np.clip((z + 3) / 6, 0, 1), np.where(
            z < -3, 0.0, np.where(z <= 3, z / 3 + 0.5, 1.0)
        )
    raise KeyError(name)


def make(rng, lead, k, n, dtype):
    x = rng.standard_normal((*lead, k)).astype(dtype)
    w = (rng.standard_normal((n, k)) / math.sqrt(max(k, 1))).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    return x, w, b


def tol(dtype, *dims):
    if dtype == np.float64:
        return 1e-12 * math.sqrt(max(dims + (1,)))
    return 1e-5 * math.sqrt(max(dims + (1,)))


# (leading dims, in_features, out_features): empty batch, 1, odd sizes, 3-d x, the MLP shapes
# (small-kernel path) and one BLAS-path shape with several epilogue blocks.
SHAPES = [
    ((0,), 7, 5),
    ((1,), 1, 1),
    ((17,), 33, 15),
    ((3, 5), 16, 17),
    ((64,), 100, 64),
    ((64,), 64, 10),
    ((130,), 257, 129),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_every_activation(simd_level, name, dtype):
    rng = np.random.default_rng(1)
    p = PARAMS.get(name, ())
    for lead, k, n in SHAPES:
        x, w, b = make(rng, lead, k, n, dtype)
        z = x.astype(float) @ w.T.astype(float) + b
        yref, _ = ref_f(name, z, p)
        pre = np.empty((*lead, n), dtype)
        y = fastnn.linear(x, w, b, name, activation_params=p or None, preact_out=pre)
        assert y.dtype == dtype and y.shape == (*lead, n)
        t = tol(dtype, k)
        np.testing.assert_allclose(y, yref, rtol=t, atol=t, err_msg=f"{lead} {k} {n}")
        np.testing.assert_allclose(pre, z, rtol=t, atol=t)
        # without bias, without preact_out
        y2 = fastnn.linear(x, w, None, name, activation_params=p or None)
        np.testing.assert_allclose(y2, ref_f(name, z - b, p)[0], rtol=t, atol=t)


def test_forward_many_blocks(simd_level):
    # m large enough for several L2-sized epilogue blocks, both dtypes, one costly activation.
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        x, w, b = make(rng, (1100,), 40, 300, dtype)
        z = x.astype(float) @ w.T.astype(float) + b
        t = tol(dtype, 40)
        pre = np.empty((1100, 300), dtype)
        y = fastnn.linear(x, w, b, "silu", preact_out=pre)
        np.testing.assert_allclose(y, ref_f("silu", z)[0], rtol=t, atol=t)
        np.testing.assert_allclose(pre, z, rtol=t, atol=t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_backward_every_activation(simd_level, name, dtype):
    rng = np.random.default_rng(3)
    p = PARAMS.get(name, ())
    for lead, k, n in SHAPES:
        x, w, b = make(rng, lead, k, n, dtype)
        m = int(np.prod(lead))
        z = x.astype(float) @ w.T.astype(float) + b
        go = rng.standard_normal((*lead, n)).astype(dtype)
        _, d = ref_f(name, z, p)
        g = (go * d).reshape(m, n)
        gi_ref = (g @ w.astype(float)).reshape(x.shape)
        gw_ref = g.T @ x.reshape(m, k).astype(float)
        gb_ref = g.sum(0)
        pre = np.empty((*lead, n), dtype)
        y = fastnn.linear(x, w, b, name, activation_params=p or None, preact_out=pre)
        saved = [("preact", pre)]
        if fastnn._C._linear_backward_uses_output(name):
            saved.append(("y", y))
        t = tol(dtype, k, m, n)
        for key, v in saved:
            gi, gw, gb = fastnn.linear_backward(
                go, x, w, activation=name, activation_params=p or None, **{key: v}
            )
            msg = f"{lead} {k} {n} from {key}"
            np.testing.assert_allclose(gi, gi_ref, rtol=t, atol=t, err_msg=msg)
            np.testing.assert_allclose(gw, gw_ref, rtol=t, atol=t, err_msg=msg)
            np.testing.assert_allclose(gb, gb_ref, rtol=t, atol=t, err_msg=msg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_gemm_kernel(simd_level, dtype):
    # fastnn's register-blocked kernel directly (linear() uses it only where it beats BLAS).
    rng = np.random.default_rng(11)
    for m, k, n in [
        (1, 1, 1),
        (5, 3, 7),
        (17, 33, 15),
        (64, 100, 64),
        (64, 64, 10),
        (13, 8, 33),
        (7, 0, 5),
    ]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((n, k)).astype(dtype)
        ref = a.astype(float) @ b.T.astype(float)
        t = tol(dtype, k)
        np.testing.assert_allclose(fastnn._C._gemm_small(a, b, True), ref, rtol=t, atol=t)
        np.testing.assert_allclose(
            fastnn._C._gemm_small(a, np.ascontiguousarray(b.T), False), ref, rtol=t, atol=t
        )


@pytest.mark.parametrize(
    "name",
    [
        "identity",
        "tanh",
        "sigmoid",
        "gelu",
        "gelu_tanh",
        "silu",
        "softplus",
        "elu",
        "selu",
        "leaky_relu",
        "relu",
    ],
)
def test_gradients_finite_differences(name):
    rng = np.random.default_rng(4)
    p = PARAMS.get(name, ())
    x, w, b = make(rng, (2, 3), 5, 4, np.float64)
    r = rng.standard_normal((2, 3, 4))

    def loss(x_, w_, b_):
        return float((r * fastnn.linear(x_, w_, b_, name, activation_params=p or None)).sum())

    pre = np.empty((2, 3, 4))
    fastnn.linear(x, w, b, name, activation_params=p or None, preact_out=pre)
    gi, gw, gb = fastnn.linear_backward(
        r, x, w, activation=name, activation_params=p or None, preact=pre
    )
    h = 1e-6
    for arr, grad in ((x, gi), (w, gw), (b, gb)):
        num = np.empty_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            lp = loss(x, w, b)
            arr[i] = old - h
            lm = loss(x, w, b)
            arr[i] = old
            num[i] = (lp - lm) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(64, 100, 64), (300, 257, 129)])
def test_accumulate_and_out_arrays(shape):
    rng = np.random.default_rng(5)
    m, k, n = shape
    x, w, b = make(rng, (m,), k, n, np.float32)
    out = np.empty((m, n), np.float32)
    pre = np.empty((m, n), np.float32)
    y = fastnn.linear(x, w, b, "tanh", out=out, preact_out=pre)
    assert np.shares_memory(y, out)
    go = rng.standard_normal((m, n)).astype(np.float32)
    gi0, gw0, gb0 = fastnn.linear_backward(go, x, w, activation="tanh", y=y)
    gi = np.empty_like(x)
    gw = rng.standard_normal(w.shape).astype(np.float32)
    gb = rng.standard_normal(n).astype(np.float32)
    gw_start, gb_start = gw.copy(), gb.copy()
    r = fastnn.linear_backward(
        go,
        x,
        w,
        activation="tanh",
        y=y,
        grad_input=gi,
        grad_weight=gw,
        grad_bias=gb,
        accumulate=True,
    )
    assert np.shares_memory(r[0], gi) and np.shares_memory(r[1], gw) and np.shares_memory(r[2], gb)
    t = tol(np.float32, m, k)
    np.testing.assert_allclose(gi, gi0, rtol=t, atol=t)
    np.testing.assert_allclose(gw, gw_start + gw0, rtol=t, atol=t)
    np.testing.assert_allclose(gb, gb_start + gb0, rtol=t, atol=t)
    # need_* flags
    r = fastnn.linear_backward(
        go, x, w, activation="tanh", y=y, need_grad_input=False, need_grad_bias=False
    )
    assert r[0] is None and r[2] is None
    np.testing.assert_allclose(r[1], gw0, rtol=t, atol=t)


def test_activation_params_forms():
    rng = np.random.default_rng(6)
    x, w, b = make(rng, (9,), 6, 5, np.float64)
    z = x @ w.T + b
    for params in ((0.3,), [0.3], {"negative_slope": 0.3}):
        y = fastnn.linear(x, w, b, "leaky_relu", activation_params=params)
        np.testing.assert_allclose(y, ref_f("leaky_relu", z, (0.3,))[0], rtol=1e-13)
    np.testing.assert_allclose(
        fastnn.linear(x, w, b, "leaky_relu"), ref_f("leaky_relu", z, (0.01,))[0], rtol=1e-13
    )
    np.testing.assert_allclose(
        fastnn.linear(x, w, b, "gelu", activation_params={"approximate": "tanh"}),
        ref_f("gelu_tanh", z)[0],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        fastnn.linear(x, w, b, "logistic"), ref_f("sigmoid", z)[0], rtol=1e-13
    )
    np.testing.assert_allclose(fastnn.linear(x, w, b, "swish"), ref_f("silu", z)[0], rtol=1e-13)
    with pytest.raises(ValueError, match="activation"):
        fastnn.linear(x, w, b, "nope")
    with pytest.raises(ValueError, match="activation_params"):
        fastnn.linear(x, w, b, "relu", activation_params={"alpha": 1.0})
    with pytest.raises(ValueError, match="activation_params"):
        fastnn.linear(x, w, b, "gelu", activation_params={"approximate": "cubic"})


def test_nan_and_inf_propagate():
    x = np.ones((3, 4), np.float32)
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    w = np.ones((5, 4), np.float32)
    for m in (3, 200):  # small kernel and BLAS
        xx = np.tile(x, (m // 3 + 1, 1))[:m]
        ww = np.tile(w, (1, 50)) if m == 200 else w
        xx = np.tile(xx, (1, 50)) if m == 200 else xx
        y = fastnn.linear(xx, ww, None, "relu")
        assert np.isnan(y[1]).all() and np.isposinf(y[2]).all() and np.isfinite(y[0]).all()


def _bad(call, exc, match, *watch):
    before = [a.copy() for a in watch]
    with pytest.raises(exc, match=match):
        call()
    for a, c in zip(watch, before):
        np.testing.assert_array_equal(a, c)


def test_bad_input_forward():
    rng = np.random.default_rng(7)
    x, w, b = make(rng, (8,), 6, 5, np.float32)
    out = np.full((8, 5), 7.0, np.float32)
    pre = np.full((8, 5), 7.0, np.float32)
    _bad(lambda: fastnn.linear(x, w[:, :5], b, out=out), ValueError, "weight", out)
    _bad(lambda: fastnn.linear(x, w.astype(np.float64), b, out=out), TypeError, "weight", out)
    _bad(lambda: fastnn.linear(x, w, b[:4], out=out), ValueError, "bias", out)
    _bad(lambda: fastnn.linear(x, w, b.astype(np.float64), out=out), TypeError, "bias", out)
    _bad(lambda: fastnn.linear(x.astype(np.int32), w, b, out=out), TypeError, "x", out)
    _bad(lambda: fastnn.linear(x, w[0], b, out=out), ValueError, "weight", out)
    _bad(lambda: fastnn.linear(x, w, b, out=np.empty((8, 5))), TypeError, "out")
    _bad(lambda: fastnn.linear(x, w, b, out=np.empty((8, 4), np.float32)), ValueError, "out")
    ro = np.zeros((8, 5), np.float32)
    ro.flags.writeable = False
    _bad(lambda: fastnn.linear(x, w, b, out=ro), ValueError, "out", ro)
    _bad(lambda: fastnn.linear(x, w, b, out=np.empty((5, 8), np.float32).T), ValueError, "out")
    # out aliasing an input, preact_out aliasing out
    xs = np.zeros((5, 5), np.float32)
    _bad(lambda: fastnn.linear(xs, w[:, :5], b, out=xs), ValueError, "out", xs)
    _bad(
        lambda: fastnn.linear(x, w, b, "gelu", out=out, preact_out=out),
        ValueError,
        "preact_out",
        out,
    )
    _bad(
        lambda: fastnn.linear(x, w, b, "gelu", out=out, preact_out=pre[:, :4]),
        ValueError,
        "preact_out",
        out,
    )


def test_bad_activation_params():
    # A parameter value that is not a number was a RuntimeError (failed C++ cast).
    rng = np.random.default_rng(9)
    x, w, b = make(rng, (4,), 3, 2, np.float64)
    out = np.full((4, 2), 7.0)
    for params in ({"negative_slope": "x"}, ("x",), (None,), {"negative_slope": [0.1]}):
        _bad(
            lambda p=params: fastnn.linear(x, w, b, "leaky_relu", activation_params=p, out=out),
            TypeError,
            "activation_params: 'leaky_relu' parameter 'negative_slope' must be a number",
            out,
        )
    go = np.ones((4, 2))
    with pytest.raises(TypeError, match="parameter 'beta' must be a number, got str"):
        fastnn.linear_backward(go, x, w, activation="softplus", activation_params=("2",), preact=go)


def test_bad_input_backward():
    rng = np.random.default_rng(8)
    x, w, b = make(rng, (8,), 6, 5, np.float32)
    go = rng.standard_normal((8, 5)).astype(np.float32)
    pre = rng.standard_normal((8, 5)).astype(np.float32)
    gi = np.full((8, 6), 3.0, np.float32)
    gw = np.full((5, 6), 3.0, np.float32)
    gb = np.full(5, 3.0, np.float32)
    kw = dict(grad_input=gi, grad_weight=gw, grad_bias=gb)
    lb = fastnn.linear_backward
    _bad(lambda: lb(go[:, :4], x, w, **kw), ValueError, "grad_out", gi, gw, gb)
    _bad(lambda: lb(go.astype(np.float64), x, w, **kw), TypeError, "grad_out", gi, gw, gb)
    _bad(lambda: lb(go, x, w[:, :5], **kw), ValueError, "weight", gi, gw, gb)
    _bad(lambda: lb(go, x, w, activation="gelu", **kw), TypeError, "preact", gi, gw, gb)
    _bad(lambda: lb(go, x, w, activation="gelu", y=pre, **kw), TypeError, "y", gi, gw, gb)
    _bad(lambda: lb(go, x, w, activation="relu", **kw), TypeError, "y", gi, gw, gb)
    _bad(
        lambda: lb(go, x, w, activation="gelu", preact=pre[:4], **kw),
        ValueError,
        "preact",
        gi,
        gw,
        gb,
    )
    _bad(
        lambda: lb(go, x, w, grad_input=gi, grad_weight=gw, grad_bias=gb[:4]),
        ValueError,
        "grad_bias",
        gi,
        gw,
        gb,
    )
    _bad(
        lambda: lb(go, x, w, grad_input=gi, grad_weight=gw.astype(np.float64), grad_bias=gb),
        TypeError,
        "grad_weight",
        gi,
        gw,
        gb,
    )
    ro = gw.copy()
    ro.flags.writeable = False
    _bad(
        lambda: lb(go, x, w, grad_input=gi, grad_weight=ro, grad_bias=gb),
        ValueError,
        "grad_weight",
        gi,
        gw,
        gb,
    )
    _bad(lambda: lb(go, x, w, accumulate=True), TypeError, "grad_weight")
    _bad(
        lambda: lb(go, x, w, grad_input=gi, grad_weight=gw, grad_bias=gw[0, :5]),
        ValueError,
        "grad_bias",
        gi,
        gw,
    )


# (96, 128, 256): 6.3 MFLOP products, split over fastnn's pool by columns (forward) and rows
# (weight and input gradients); (256, 512, 256): OpenBLAS's own threads.
@pytest.mark.parametrize("shape", [(64, 100, 64), (96, 128, 256), (256, 512, 256)])
def test_one_vs_two_threads(threads, shape):
    rng = np.random.default_rng(9)
    m, k, n = shape
    x, w, b = make(rng, (m,), k, n, np.float32)
    go = rng.standard_normal((m, n)).astype(np.float32)
    res = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        pre = np.empty((m, n), np.float32)
        y = fastnn.linear(x, w, b, "gelu", preact_out=pre)
        res.append((y, *fastnn.linear_backward(go, x, w, activation="gelu", preact=pre)))
    t = tol(np.float32, m, k, n)
    for a, c in zip(*res):
        np.testing.assert_allclose(a, c, rtol=t, atol=t)


def test_torch_forward_and_autograd():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(10)
    acts = {
        "relu": F.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "gelu": F.gelu,
        "silu": F.silu,
        "elu": F.elu,
        "selu": F.selu,
        "leaky_relu": F.leaky_relu,
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
        "softplus": F.softplus,
        None: lambda v: v,
    }
    for dtype in (np.float32, np.float64):
        x, w, b = make(rng, (4, 16), 100, 64, dtype)
        go = rng.standard_normal((4, 16, 64)).astype(dtype)
        for name, fn in acts.items():
            xt = torch.tensor(x, requires_grad=True)
            wt = torch.tensor(w, requires_grad=True)
            bt = torch.tensor(b, requires_grad=True)
            yt = fn(F.linear(xt, wt, bt))
            yt.backward(torch.tensor(go))
            pre = np.empty_like(go)
            y = fastnn.linear(x, w, b, name, preact_out=pre)
            gi, gw, gb = fastnn.linear_backward(go, x, w, activation=name, preact=pre)
            t = tol(dtype, 64 * 100)
            if name == "hardsigmoid" and dtype == np.float64:
                t = 1e-7  # torch's float64 hardsigmoid backward multiplies by a float32 1/6
            np.testing.assert_allclose(y, yt.detach().numpy(), rtol=t, atol=t, err_msg=str(name))
            for mine, theirs in ((gi, xt.grad), (gw, wt.grad), (gb, bt.grad)):
                np.testing.assert_allclose(mine, theirs.numpy(), rtol=t, atol=t, err_msg=str(name))
