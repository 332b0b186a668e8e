"""Property-based fuzzing of the public kernels (hypothesis).

Each call must either return the documented result or raise TypeError/ValueError: no crash, no
write outside `out` (guard cells around it), inputs unchanged. The default run tries a few dozen
examples per function; the dedicated run tries 10^4:

    FASTNN_FUZZ_EXAMPLES=10000 python -m pytest -q tests/test_fuzz.py
"""

import os

import fastnn
import numpy as np
import pytest

hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

EXAMPLES = int(os.environ.get("FASTNN_FUZZ_EXAMPLES", "40"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck)
)

DTYPES = st.sampled_from(
    [np.float32, np.float64, np.int32, np.int64, np.bool_, np.complex64, np.float16]
)
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-40, 88.0, -88.0]


@st.composite
def arrays(draw, min_dims=0, max_dims=3, max_side=9, dtype=None):
    dt = draw(DTYPES) if dtype is None else dtype
    shape = draw(
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)
    )
    if np.dtype(dt).kind == "f":
        elems = st.one_of(
            st.floats(-50, 50, width=np.dtype(dt).itemsize * 8), st.sampled_from(SPECIALS)
        )
        a = draw(hnp.arrays(dt, shape, elements=elems.map(lambda v: np.dtype(dt).type(v))))
    else:
        a = draw(hnp.arrays(dt, shape))
    layout = draw(st.sampled_from(["c", "f", "strided", "readonly"]))
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1:
        big = np.repeat(a, 2, axis=-1)
        a = big[..., ::2]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    return a


def guarded_out(draw, shape, dtype):
    """An `out` inside a larger buffer, so writes outside it are detected."""
    n = int(np.prod(shape))
    buf = np.full(n + 16, 12345.0, dtype=dtype)
    return buf, buf[8 : 8 + n].reshape(shape)


def check_call(fn, inputs, *args, **kwargs):
    copies = [np.array(a, copy=True) for a in inputs]
    try:
        res = fn(*args, **kwargs)
    except (TypeError, ValueError):
        res = None
    for a, c in zip(inputs, copies):
        np.testing.assert_array_equal(a, c)  # inputs never modified
    return res


ELEMENTWISE = [n for n in fastnn.activations if n not in ("logistic", "heaviside", "swish")]


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise(name, data):
    act = fastnn.activations[name]
    x = data.draw(arrays())
    res = check_call(act.forward, [x], x)
    if res is not None:
        assert res.shape == x.shape and res.dtype == x.dtype
    g = data.draw(arrays(max_dims=3))
    check_call(act.backward, [x, g], g, x)
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4 and data.draw(st.booleans()):
        buf, out = guarded_out(data.draw, x.shape, x.dtype)
        check_call(act.derivative, [x], x, out=out)
        assert (buf[:8] == 12345.0).all() and (buf[-8:] == 12345.0).all()


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax(fn, data):
    x = data.draw(arrays())
    axis = data.draw(st.integers(-4, 3))
    res = check_call(getattr(fastnn, fn), [x], x, axis)
    if res is not None and x.size:
        assert res.shape == x.shape
    y = data.draw(arrays())
    check_call(getattr(fastnn, fn + "_backward"), [x, y], x, y, axis)


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize(
    "loss",
    [
        "mse_loss",
        "l1_loss",
        "huber_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    ],
)
def test_pointwise_losses(loss, data):
    x = data.draw(arrays())
    t = data.draw(st.one_of(arrays(), st.just(np.array(x, copy=True))))
    red = data.draw(st.sampled_from(["mean", "sum", "none", "bogus"]))
    check_call(getattr(fastnn, loss), [x, t], x, t, reduction=red)
    check_call(getattr(fastnn, loss + "_backward"), [x, t], 1.0, x, t, reduction=red)


@SETTINGS
@given(data=st.data())
def test_cross_entropy(data):
    x = data.draw(arrays(min_dims=1, max_dims=2))
    n = x.shape[0] if x.ndim == 2 else 1
    labels = data.draw(
        hnp.arrays(
            data.draw(st.sampled_from([np.int64, np.int32, np.float64])),
            (n,) if x.ndim == 2 else (),
            elements=st.integers(-101, 12),
        )
    )
    check_call(
        fastnn.cross_entropy,
        [x, labels],
        x,
        labels,
        label_smoothing=data.draw(st.sampled_from([0.0, 0.1, -1.0])),
    )
    check_call(fastnn.cross_entropy_backward, [x, labels], 1.0, x, labels)


@SETTINGS
@given(data=st.data())
def test_linear(data):
    x = data.draw(arrays(min_dims=1, max_dims=3, max_side=6))
    w = data.draw(arrays(min_dims=1, max_dims=2, max_side=6))
    b = data.draw(st.one_of(st.none(), arrays(min_dims=0, max_dims=2, max_side=6)))
    act = data.draw(st.sampled_from([None, "relu", "gelu", "tanh", "nope"]))
    inputs = [x, w] + ([] if b is None else [b])
    res = check_call(fastnn.linear, inputs, x, w, b, act)
    if res is not None:
        g = np.ones_like(res)
        check_call(
            fastnn.linear_backward,
            inputs,
            g,
            x,
            w,
            activation=act if act == "relu" else None,
            y=res if act == "relu" else None,
        )


@SETTINGS
@given(data=st.data())
def test_optimizer_step_never_half_updates(data):
    n = data.draw(st.integers(1, 4))
    params = [
        np.random.default_rng(i).standard_normal(data.draw(st.integers(0, 20))) for i in range(n)
    ]
    grads = [np.ones_like(p) for p in params]
    if data.draw(st.booleans()):
        k = data.draw(st.integers(0, n - 1))
        grads[k] = data.draw(arrays(max_dims=1))  # possibly wrong shape/dtype/layout
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    before = [p.copy() for p in params]
    lr = data.draw(st.sampled_from([1e-3, 0.0, -1.0]))
    try:
        fastnn.adam_step(
            params,
            grads,
            ms,
            vs,
            step=1,
            lr=lr,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=0.0,
            amsgrad=False,
            maximize=False,
            decoupled=False,
        )
    except (TypeError, ValueError):
        for p, b in zip(params, before):  # nothing touched
            np.testing.assert_array_equal(p, b)
