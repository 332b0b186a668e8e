"""Property-based fuzzing of the public functions (hypothesis).

Each call must either return the documented result or raise TypeError/ValueError: no crash, no
write outside `out` (guard cells around every array a call may write), inputs unchanged, and a
call that raises leaves every array as it was (an optimizer step or a clipping call is never
half-applied). Where the arguments are well formed the call must succeed and its result is
checked: ``out=`` (a separate array or an input itself) gives the values of a fresh result, a
fused ``*_forward_backward`` the values of forward then backward, optimizer steps and clipping
match float64 NumPy references, compile_step matches the module-by-module training step.

The default run tries a few dozen examples per test; the dedicated run (BENCHMARKS.md, "Fuzzing")
tries 10^4:

    FASTNN_FUZZ_EXAMPLES=10000 python -m pytest -q tests/test_fuzz.py --hypothesis-show-statistics
"""

import copy
import math
import os

import fastnn
import numpy as np
import pytest
from fastnn import nn, optim

hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_optim_kernels import ref_adagrad, ref_adam, ref_rmsprop, ref_sgd

EXAMPLES = int(os.environ.get("FASTNN_FUZZ_EXAMPLES", "40"))
# The default (CI) run draws a fixed sequence, so CI is reproducible; a dedicated run (more than
# 1000 examples) draws fresh random examples every time.
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 1000,
    suppress_health_check=list(HealthCheck),
)
# Fuzzed payloads overflow on purpose (1e30 in float16, inf - inf in references, ...).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Mostly the two float dtypes, so that many calls get past validation into the kernels.
DTYPES = st.sampled_from(
    [np.float32, np.float64] * 3 + [np.int32, np.int64, np.bool_, np.complex64, np.float16]
)
FLOATS = st.sampled_from([np.float32, np.float64])
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-40, 88.0, -88.0]
GUARD = 12345.0


@st.composite
def arrays(
    draw, min_dims=0, max_dims=3, max_side=9, dtype=None, shape=None, lo=-50, hi=50, specials=None
):
    dt = draw(DTYPES) if dtype is None else dtype
    if shape is None:
        shape = draw(
            hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)
        )
    if np.dtype(dt).kind == "f":
        width = np.dtype(dt).itemsize * 8
        elems = st.one_of(st.floats(lo, hi, width=width), st.sampled_from(specials or SPECIALS))
        a = draw(hnp.arrays(dt, shape, elements=elems.map(lambda v: np.dtype(dt).type(v))))
    else:
        a = draw(hnp.arrays(dt, shape))
    layout = draw(st.sampled_from(["c", "f", "strided", "readonly", "swapped"]))
    if layout == "f" and a.ndim:
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1:
        big = np.repeat(a, 2, axis=-1)
        a = big[..., ::2]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "swapped" and a.dtype.itemsize > 1:  # the same values, non-native byte order
        a = a.astype(a.dtype.newbyteorder())
    return a


def finite(data, shape, dtype, lo=-5.0, hi=5.0):
    """Well-formed values: a seeded NumPy draw (fast for any size)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return rng.uniform(lo, hi, shape).astype(dtype)


def guarded(shape, dtype):
    """A C-contiguous array inside a larger buffer, guard cells either side: (buffer, array)."""
    n = int(np.prod(shape))
    buf = np.full(n + 16, GUARD, dtype=dtype)
    return buf, buf[8 : 8 + n].reshape(shape)


def assert_guards(*bufs):
    for buf in bufs:
        assert (buf[:8] == GUARD).all() and (buf[-8:] == GUARD).all(), "write outside the array"


def snapshot(objs):
    """(array, copy) for each distinct ndarray among objs."""
    seen = {}
    for a in objs:
        if isinstance(a, np.ndarray) and id(a) not in seen:
            seen[id(a)] = (a, a.copy())
    return list(seen.values())


def assert_unchanged(snap, skip=()):
    for a, c in snap:
        if any(a is s for s in skip):
            continue
        if a.tobytes() != c.tobytes():  # bit for bit (NaN payloads, -0.0)
            np.testing.assert_array_equal(a, c)
            raise AssertionError("the bits of an array changed")


def outcome(fn, err):
    """Counts what calls did (--hypothesis-show-statistics lists it per test)."""
    name = getattr(fn, "__name__", type(fn).__name__)
    event(f"{name}: {'returned' if err is None else 'raised ' + type(err).__name__}")


def attempt(fn, *args, **kwargs):
    """(result, None), or (None, the TypeError/ValueError raised)."""
    try:
        res, err = fn(*args, **kwargs), None
    except (TypeError, ValueError) as e:
        res, err = None, e
    outcome(fn, err)
    return res, err


def check_call(fn, inputs, *args, **kwargs):
    copies = [np.array(a, copy=True) for a in inputs]
    res, _ = attempt(fn, *args, **kwargs)
    for a, c in zip(inputs, copies):
        np.testing.assert_array_equal(a, c)  # inputs never modified
    return res


def assert_close(got, want, dtype, scale=None):
    """Equal up to rounding (NaN where NaN); tolerance relative to the values' scale."""
    r = 1e-5 if np.dtype(dtype) == np.float32 else 1e-11
    want = np.asarray(want, dtype=np.float64)
    if scale is None:
        fin = np.abs(want[np.isfinite(want)])
        scale = max(1.0, float(fin.max()) if fin.size else 1.0)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=r, atol=r * scale)


OUT_KINDS = ["guarded", "inplace", "overlap", "readonly", "strided", "dtype", "shape", "list"]


def check_out(data, fn, args, kwargs, expected, pick=lambda r: r, forbid=()):
    """fn(*args, **kwargs, out=<a fuzzed out>): a valid out receives exactly `expected` (the
    result of the same call without out) and is the array returned; a bad one (read-only, not
    contiguous, wrong dtype/shape, not an ndarray, partially overlapping an input, being one of
    the arguments in `forbid`) raises TypeError/ValueError before anything is written. Never a
    write outside out or into another argument."""
    kind = data.draw(st.sampled_from(OUT_KINDS))
    args, kwargs = list(args), dict(kwargs)
    slots = [(args, i) for i in range(len(args))] + [(kwargs, k) for k in kwargs]
    same = [
        (c, k)
        for c, k in slots
        if isinstance(c[k], np.ndarray)
        and c[k].dtype == expected.dtype
        and c[k].shape == expected.shape
    ]
    if kind in ("inplace", "overlap") and not same:
        kind = "guarded"
    bufs, fails = [], None
    if kind == "guarded":
        buf, out = guarded(expected.shape, expected.dtype)
        bufs.append(buf)
    elif kind == "inplace":  # one of the arguments itself (made writeable and C-contiguous)
        c, k = same[data.draw(st.integers(0, len(same) - 1))]
        fails = ValueError if any(c[k] is f for f in forbid) and expected.size else None
        buf, out = guarded(expected.shape, expected.dtype)
        out[...] = c[k]
        c[k] = out
        bufs.append(buf)
    elif kind == "overlap":  # shifted by one element from an argument: a partial overlap
        c, k = same[data.draw(st.integers(0, len(same) - 1))]
        n = expected.size
        buf = np.full(n + 17, GUARD, dtype=expected.dtype)
        view = buf[8 : 8 + n].reshape(expected.shape)
        view[...] = c[k]
        c[k] = view
        out = buf[9 : 9 + n].reshape(expected.shape)
        bufs.append(buf)
        fails = ValueError if n >= 2 else None
    elif kind == "readonly":
        out = np.zeros(expected.shape, expected.dtype)
        out.flags.writeable = False
        fails = ValueError
    elif kind == "strided":
        out = np.zeros(expected.shape + (2,), expected.dtype)[..., 0]
        fails = None if out.flags.c_contiguous else ValueError
    elif kind == "dtype":
        other = DTYPES.filter(lambda d: np.dtype(d) != expected.dtype)
        out = np.zeros(expected.shape, data.draw(other))
        fails = TypeError
    elif kind == "shape":
        out = np.zeros((expected.size + 1,), expected.dtype)
        fails = ValueError
    else:
        out = np.zeros(expected.shape, expected.dtype).tolist()
        fails = TypeError
    snap = snapshot(list(args) + list(kwargs.values()) + [out])
    res, err = attempt(fn, *args, **kwargs, out=out)
    assert_guards(*bufs)
    if fails is not None:
        assert isinstance(err, fails), f"out={kind}: expected {fails.__name__}, got {err!r}"
        assert_unchanged(snap)
        return
    assert err is None, f"out={kind}: {err!r}"
    assert pick(res) is out
    np.testing.assert_array_equal(out, expected)
    assert_unchanged(snap, skip=[out])


# ---------------------------------------------------------------------------------------------
# activations, softmax


ELEMENTWISE = [n for n in fastnn.activations if n not in ("logistic", "heaviside", "swish")]
Y_BACKWARD = {"sigmoid": lambda g, y: g * y * (1 - y), "tanh": lambda g, y: g * (1 - y * y)}
PARAMS = st.one_of(st.floats(-3, 3), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, "x", None]))


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise(name, data):
    act = fastnn.activations[name]
    x = data.draw(arrays())
    params = ()
    if act.params and data.draw(st.booleans()):
        params = tuple(data.draw(st.lists(PARAMS, max_size=len(act.params) + 1)))
    res = check_call(act.forward, [x], x, *params)
    if res is not None:
        assert res.shape == x.shape and res.dtype == x.dtype
        check_out(data, act.forward, [x, *params], {}, res)
    g = data.draw(arrays(max_dims=3))
    res = check_call(act.backward, [x, g], g, x)
    if res is not None:
        check_out(data, act.backward, [g, x], {}, res)
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4 and data.draw(st.booleans()):
        buf, out = guarded(x.shape, x.dtype)
        check_call(act.derivative, [x], x, out=out)
        assert_guards(buf)
    if act.has_output_backward:  # the y= form: y is the forward's output
        y = data.draw(arrays())
        g = data.draw(st.one_of(arrays(), arrays(dtype=y.dtype, shape=y.shape)))
        both = data.draw(st.booleans())  # x and y together: TypeError
        res = check_call(act.backward, [g, y], g, *([y] if both else []), y=y)
        if res is not None:
            assert not both
            ok = all(a.dtype.kind == "f" and np.all(np.abs(a) <= 1e3) for a in (g, y))
            if ok:
                want = Y_BACKWARD[name](g.astype(np.float64), y.astype(np.float64))
                assert_close(res, want, res.dtype)
            check_out(data, act.backward, [g], {"y": y}, res)


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax(fn, data):
    x = data.draw(arrays())
    axis = data.draw(st.integers(-4, 3))
    res = check_call(getattr(fastnn, fn), [x], x, axis)
    if res is not None and x.size:
        assert res.shape == x.shape
    if res is not None:
        check_out(data, getattr(fastnn, fn), [x, axis], {}, res)
    y = data.draw(st.one_of(arrays(), arrays(dtype=x.dtype, shape=x.shape)))
    res = check_call(getattr(fastnn, fn + "_backward"), [x, y], x, y, axis)
    if res is not None:
        check_out(data, getattr(fastnn, fn + "_backward"), [x, y, axis], {}, res)


# ---------------------------------------------------------------------------------------------
# losses


def grad_outputs(x):
    """Upstream gradients: scalars, arrays (right or wrong shape), None, junk."""
    return st.one_of(
        st.sampled_from([1.0, 0.5, -2.0, np.float32(3.0), 7, np.nan, None, "x", 1j, [1.0]]),
        arrays(max_dims=2),
        arrays(dtype=x.dtype if x.dtype.kind == "f" else np.float64, shape=x.shape),
    )


def loss_triplet(fwd, bwd, fused, x, t, go, opts):
    """Forward, backward and fused forward+backward on the same inputs: none modifies an input
    and the fused call agrees with the two separate ones. Returns their results and the inputs'
    snapshot (for checks after further calls)."""
    inputs = [a for a in [x, t, go, *opts.values()] if isinstance(a, np.ndarray)]
    snap = snapshot(inputs)
    f = attempt(fwd, x, t, **opts)
    b = attempt(bwd, go, x, t, **opts)
    fb = attempt(fused, x, t, **opts, grad_output=go)
    assert_unchanged(snap)
    check_fused(f, b, fb, x)
    return f, b, fb, snap


def check_fused(fwd, bwd, fused, x):
    """forward_backward succeeds exactly when forward and backward both do, with their values."""
    (loss, err), (grad, gerr), (both, berr) = fwd, bwd, fused
    assert (berr is None) == (err is None and gerr is None), (err, gerr, berr)
    if berr is None:
        assert_close(both[0], loss, x.dtype)
        np.testing.assert_array_equal(both[1], grad)


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
    fwd, bwd = getattr(fastnn, loss), getattr(fastnn, loss + "_backward")
    fused = getattr(fastnn, loss + "_forward_backward")
    unit = loss == "binary_cross_entropy" and data.draw(st.booleans())  # inputs in [0, 1]
    bounds = {"lo": 0, "hi": 1, "specials": [0.0, -0.0, 1.0, 1e-40, 0.5]} if unit else {}
    x = data.draw(arrays(**bounds))
    t = data.draw(
        st.one_of(
            arrays(**bounds),
            st.just(np.array(x, copy=True)),
            st.just(x.tolist()),
        )
    )
    opts = {"reduction": data.draw(st.sampled_from(["mean", "sum", "none", "bogus"]))}
    if loss == "huber_loss":
        opts["delta"] = data.draw(st.sampled_from([1.0, 0.5, 1e-30, 1e30, 0.0, -1.0, np.nan]))
    if loss.startswith("binary"):
        weights = st.one_of(st.none(), st.just(1.5), arrays(max_dims=2, lo=0, hi=2))
        opts["weight"] = data.draw(weights)
        if loss.endswith("logits"):
            opts["pos_weight"] = data.draw(weights)
    go = data.draw(grad_outputs(x))
    f, b, fb, snap = loss_triplet(fwd, bwd, fused, x, t, go, opts)
    if b[0] is not None:
        check_out(data, bwd, [go, x, t], opts, b[0])
        check_out(data, fused, [x, t], {**opts, "grad_output": go}, b[0], pick=lambda r: r[1])
    assert_unchanged(snap)


@st.composite
def class_targets(draw, x):
    """Class indices of any dtype/shape/range, class probabilities, lists, junk."""
    n = x.shape[0] if x.ndim == 2 else 1
    per_sample = (n,) if x.ndim == 2 else ()
    kind = draw(st.sampled_from(["labels", "labels", "probs", "list", "junk"]))
    c = x.shape[-1] if x.ndim else 1
    if kind in ("labels", "list"):
        shape = draw(st.sampled_from([per_sample, per_sample, (n + 1,), (n, 1)]))
        dt = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.int16, np.bool_, np.float64]))
        if dt == np.bool_:
            elems = st.booleans()
        else:  # in range for most arrays; some may hold indices out of range or ignore_index
            lo = 0 if dt == np.uint8 else -101
            valid = st.integers(0, max(c - 1, 0))
            elems = draw(st.sampled_from([valid, valid, st.one_of(valid, st.integers(lo, 12))]))
        t = draw(hnp.arrays(dt, shape, elements=elems))
        return t.tolist() if kind == "list" else t
    if kind == "probs":
        return draw(
            st.one_of(
                arrays(
                    dtype=x.dtype if x.dtype.kind == "f" else np.float64, shape=x.shape, lo=0, hi=1
                ),
                arrays(shape=x.shape),
            )
        )
    return draw(st.sampled_from([None, "x", 1.5, [[0.5]], object()]))


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_losses(loss, data):
    """cross_entropy / nll_loss (+ _backward, _forward_backward): class-index targets of every
    integer dtype and range, probability targets, weight, ignore_index, label_smoothing, out=."""
    fwd, bwd = getattr(fastnn, loss), getattr(fastnn, loss + "_backward")
    fused = getattr(fastnn, loss + "_forward_backward")
    logits = hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=9)
    x = data.draw(
        st.one_of(
            # mostly well formed: (N, C) or (C,), C >= 1, float32/float64
            arrays(dtype=data.draw(FLOATS), shape=data.draw(logits.filter(lambda s: s[-1]))),
            arrays(min_dims=0, max_dims=3),
        )
    )
    t = data.draw(class_targets(x))
    c = x.shape[-1] if x.ndim else 1
    fdt = x.dtype if x.dtype.kind == "f" else np.float64
    opts = {
        "weight": data.draw(
            st.one_of(st.none(), arrays(dtype=fdt, shape=(c,), lo=0, hi=2), arrays(max_dims=2))
        ),
        "ignore_index": data.draw(st.one_of(st.just(-100), st.integers(-3, 12))),
        "reduction": data.draw(st.sampled_from(["mean", "sum", "none"] * 2 + ["bogus"])),
    }
    if loss == "cross_entropy":
        smoothing = [0.0, 0.1, 1.0] * 2 + [-0.5, 2.0, np.nan]
        opts["label_smoothing"] = data.draw(st.sampled_from(smoothing))
    go = data.draw(grad_outputs(x))
    f, b, fb, snap = loss_triplet(fwd, bwd, fused, x, t, go, opts)
    if f[0] is not None and opts["reduction"] == "none":
        assert f[0].shape == (x.shape[:1] if x.ndim == 2 else ())
    if b[0] is not None:
        assert b[0].shape == x.shape
        forbid = [t, opts["weight"]]  # read while out is written: in place on input only
        check_out(data, bwd, [go, x, t], opts, b[0], forbid=forbid)
        fused_opts = {**opts, "grad_output": go}
        check_out(data, fused, [x, t], fused_opts, b[0], pick=lambda r: r[1], forbid=forbid)
    assert_unchanged(snap)


# ---------------------------------------------------------------------------------------------
# linear


ACTS = [None, "relu", "sigmoid", "tanh", "step", "identity", "gelu", "leaky_relu", "softplus"]
FROM_Y = (None, "identity", "relu", "sigmoid", "tanh", "step")  # backward from the output


@st.composite
def activation_params(draw, act):
    """(activation_params, valid?)"""
    kind = draw(st.sampled_from(["none", "none", "dict", "tuple", "bad"]))
    if act is None or kind == "none":
        return None, True
    names = {"leaky_relu": ("negative_slope",), "softplus": ("beta", "threshold")}.get(act, ())
    if kind == "dict":
        return {k: draw(st.floats(0.1, 3)) for k in names}, True
    if kind == "tuple":
        return tuple(draw(st.floats(0.1, 3)) for _ in names), True
    bad = st.sampled_from(["x", None, [1.0], {1, 2}, object()])
    choices = [
        {k: draw(bad) for k in names} or {"nope": 1.0},  # values that are not numbers
        (draw(bad),) * (len(names) or 1),
        (1.0,) * (len(names) + 1),  # one too many
        draw(st.sampled_from(["x", {1, 2}, object(), 3.0])),  # not a dict or tuple
    ]
    return draw(st.sampled_from(choices)), False


def linear_problem(data):
    dt = data.draw(FLOATS)
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
    k, n = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    x = finite(data, lead + (k,), dt)
    w = finite(data, (n, k), dt)
    b = finite(data, (n,), dt) if data.draw(st.booleans()) else None
    return x, w, b


def shares(a, others):
    """Whether a shares memory with any of others (None entries ignored)."""
    return a is not None and any(o is not None and np.shares_memory(a, o) for o in others)


def output_variant(data, shape, dtype, aliases):
    """(out, buffers to guard, expected exception or None) for one output argument; an output
    aliasing another argument is judged by the caller, which knows what it may share memory
    with."""
    kinds = ["none", "guarded", "guarded", "readonly", "strided", "dtype", "shape"]
    aliases = [a for a in aliases if a is not None]
    kinds += ["alias"] * bool(aliases)
    kind = data.draw(st.sampled_from(kinds))
    if kind == "none":
        return None, [], None
    if kind == "guarded":
        buf, out = guarded(shape, dtype)
        out[...] = finite(data, shape, dtype)  # accumulate adds into these values
        return out, [buf], None
    if kind == "alias":  # an input or another output (the caller judges the sharing)
        a = data.draw(st.sampled_from(aliases))
        if a.dtype != dtype:
            return a, [], TypeError
        # a read-only one (e.g. an earlier "readonly" output) is refused even when empty
        return a, [], None if a.shape == shape and a.flags.writeable else ValueError
    if kind == "readonly":
        out = np.zeros(shape, dtype)
        out.flags.writeable = False
        return out, [], ValueError
    if kind == "strided":
        out = np.zeros(shape + (2,), dtype)[..., 0]
        return out, [], None if out.flags.c_contiguous else ValueError
    if kind == "dtype":
        return np.zeros(shape, np.float32 if dtype == np.float64 else np.float64), [], TypeError
    return np.zeros((int(np.prod(shape)) + 1,), dtype), [], ValueError


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
def test_linear_out(data):
    """linear(..., out=, preact_out=): valid outputs get the values of a fresh call; an output
    sharing memory with x, weight, bias or the other output, or otherwise bad, is refused before
    anything is written; bad activation_params raise TypeError/ValueError."""
    x, w, b = linear_problem(data)
    act = data.draw(st.sampled_from(ACTS))
    ap, ap_ok = data.draw(activation_params(act))
    inputs = [a for a in (x, w, b) if a is not None]
    snap = snapshot(inputs)
    ref, err = attempt(fastnn.linear, x, w, b, act, activation_params=ap)
    assert_unchanged(snap)
    if not ap_ok:
        assert err is not None
        return
    assert err is None, err
    pre_ref = fastnn.linear(x, w, b)
    shape = ref.shape
    # Outputs: also inside w's memory (a partial overlap) when the sizes allow.
    if w.size and ref.size and data.draw(st.booleans()):  # out overlaps weight's last element
        buf = np.full(w.size + ref.size + 16, GUARD, dtype=w.dtype)
        w2 = buf[8 : 8 + w.size].reshape(w.shape)
        w2[...] = w
        w = w2
        out = buf[7 + w.size : 7 + w.size + ref.size].reshape(shape)
        bufs, fails = [buf], ValueError
    else:
        out, bufs, fails = output_variant(data, shape, ref.dtype, inputs)
        if fails is None and shares(out, [x, w, b]):
            fails = ValueError
    pre, pbufs, pfails = None, [], None
    if data.draw(st.booleans()):
        pre, pbufs, pfails = output_variant(data, shape, ref.dtype, [x, w, b, out])
        if pfails is None and shares(pre, [x, w, b, out]):
            pfails = ValueError
    snap = snapshot([x, w, b, out, pre])
    res, err = attempt(fastnn.linear, x, w, b, act, activation_params=ap, out=out, preact_out=pre)
    assert_guards(*bufs, *pbufs)
    expected = fails or pfails
    if expected is not None:
        assert isinstance(err, expected), (expected, err)
        assert_unchanged(snap)
        return
    assert err is None, err
    assert_unchanged(snap, skip=[out, pre])
    if out is not None:
        assert res is out
    assert_close(res, ref, ref.dtype)
    if pre is not None:
        assert_close(pre, pre_ref, ref.dtype)


@SETTINGS
@given(data=st.data())
def test_linear_backward_out(data):
    """linear_backward with grad_input/grad_weight/grad_bias outputs (guarded, aliasing an input
    or each other, bad), need_grad_* and accumulate: the values of a fresh call (plus the
    previous contents when accumulating), or TypeError/ValueError with nothing written."""
    x, w, b = linear_problem(data)
    act = data.draw(st.sampled_from(ACTS))
    pre = np.empty(x.shape[:-1] + (w.shape[0],), x.dtype)
    y = fastnn.linear(x, w, b, act, preact_out=pre)
    g = finite(data, y.shape, y.dtype)
    saved = {"y": y} if act in FROM_Y and data.draw(st.booleans()) else {"preact": pre}
    need = {
        "need_grad_input": data.draw(st.booleans()),
        "need_grad_weight": data.draw(st.booleans()),
        "need_grad_bias": data.draw(st.booleans()),
    }
    ref = fastnn.linear_backward(g, x, w, activation=act, **saved, **need)
    accumulate = data.draw(st.booleans())
    names = ["grad_input", "grad_weight", "grad_bias"]
    shapes = [x.shape, w.shape, (w.shape[0],)]
    inputs = [x, w, g, *saved.values()]
    # What each needed output may not share memory with: x, weight, grad_out, the saved
    # tensor the activation's backward reads, the outputs before it.
    v = None if act in (None, "identity") else next(iter(saved.values()))
    forbidden = [x, w, g, v]
    outs, bufs, fails = {}, [], []
    for name, shape, flag in zip(names, shapes, need.values()):
        out, ob, f = output_variant(data, shape, x.dtype, inputs + list(outs.values()))
        outs[name] = out
        bufs += ob
        if flag:
            fails.append(f or (ValueError if shares(out, forbidden) else None))
            if accumulate and out is None and name != "grad_input":
                fails.append(TypeError)  # accumulate needs the arrays to add into
            if out is not None:
                forbidden.append(out)
    before = {k: (None if v is None else v.copy()) for k, v in outs.items()}
    snap = snapshot(inputs + list(outs.values()))
    res, err = attempt(
        fastnn.linear_backward,
        g,
        x,
        w,
        activation=act,
        **saved,
        **need,
        **outs,
        accumulate=accumulate,
    )
    assert_guards(*bufs)
    fails = [f for f in fails if f is not None]
    if fails:
        assert any(isinstance(err, f) for f in fails), (fails, err)
        assert_unchanged(snap)
        return
    assert err is None, err
    written = [outs[n] for n, flag in zip(names, need.values()) if flag]
    assert_unchanged(snap, skip=written)
    for name, flag, r, got in zip(names, need.values(), ref, res):
        if not flag:
            assert r is None and got is None
            continue
        if outs[name] is not None:
            assert got is outs[name]
        want = r.astype(np.float64)
        if accumulate and name != "grad_input":
            want = want + before[name]
        assert_close(got, want, x.dtype)


# ---------------------------------------------------------------------------------------------
# optimizer steps


OPTIMIZERS = {
    # name: (function, its state lists in positional order, reference)
    "sgd": (fastnn.sgd_step, ("momentum_buffers",)),
    "adagrad": (fastnn.adagrad_step, ("state_sums",)),
    "rmsprop": (fastnn.rmsprop_step, ("square_avgs", "grad_avgs", "momentum_buffers")),
    "adam": (fastnn.adam_step, ("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs")),
}
NONNEG_STATES = ("state_sums", "square_avgs", "exp_avg_sqs", "max_exp_avg_sqs")
FLAG_KEYS = ("nesterov", "maximize", "first_step", "amsgrad", "decoupled", "centered")
BAD_NUMBERS = [-1.0, 1.0, 2.0, np.nan, np.inf, -np.inf, -0.0, 1e300, 5e-324, "0.1", None, [0.1]]
BAD_NUMBERS += [np.float32(0.5), np.array([0.5, 0.5]), True]
BAD_FLAGS = [None, 0, 1, 2.5, "yes", np.bool_(True), [True], np.array([True, False]), object()]
BAD_STEPS = [0, -1, 2**31, 2**63 - 1, 2**63, 2**70, -(2**70), 1.0, 1.5, True, "1", None]
BAD_STEPS += [np.int64(5), np.uint64(2**64 - 1), np.array(3), np.array([1, 2]), [1.5], [2**64]]


def valid_hyper(data, name, n):
    def pick(*values):
        return data.draw(st.sampled_from(values))

    def per_param(s):
        return data.draw(st.one_of(s, st.lists(s, min_size=n, max_size=n)))

    if name == "sgd":
        h = {
            "lr": pick(0.0, 1e-3, 0.1),
            "momentum": pick(0.0, 0.9),
            "dampening": pick(0.0, 0.1),
            "weight_decay": pick(0.0, 1e-2),
            "maximize": pick(False, True),
            "first_step": per_param(st.booleans()),
        }
        h["nesterov"] = h["momentum"] > 0 and h["dampening"] == 0 and pick(False, True)
    elif name == "adagrad":
        h = {
            "step": per_param(st.integers(1, 1000)),
            "lr": pick(1e-3, 0.1),
            "lr_decay": pick(0.0, 1e-2),
            "weight_decay": pick(0.0, 1e-2),
            "eps": pick(1e-10, 1e-3),
            "maximize": pick(False, True),
        }
    elif name == "rmsprop":
        h = {
            "lr": pick(1e-3, 0.1),
            "alpha": pick(0.9, 0.99),
            "eps": pick(1e-8, 1e-3),
            "weight_decay": pick(0.0, 1e-2),
            "momentum": pick(0.0, 0.9),
            "centered": pick(False, True),
            "maximize": pick(False, True),
        }
    else:
        h = {
            "step": per_param(st.integers(1, 1000)),
            "lr": pick(1e-3, 0.1),
            "beta1": pick(0.0, 0.9),
            "beta2": pick(0.9, 0.999),
            "eps": pick(1e-8, 1e-3),
            "weight_decay": pick(0.0, 1e-2),
            "amsgrad": pick(False, True),
            "maximize": pick(False, True),
            "decoupled": pick(False, True),
        }
    return h


def used_states(name, h):
    """The state lists the call reads and writes (the others are ignored)."""
    if name == "sgd":
        return ("momentum_buffers",) if float(h["momentum"]) != 0 else ()
    if name == "rmsprop":
        return (
            ("square_avgs",)
            + ("grad_avgs",) * bool(h["centered"])
            + ("momentum_buffers",) * (float(h["momentum"]) > 0)
        )
    if name == "adam":
        return ("exp_avgs", "exp_avg_sqs") + ("max_exp_avg_sqs",) * bool(h["amsgrad"])
    return ("state_sums",)


def reference_step(name, h, i, p, g, states):
    """float64 reference for tensor i: (new param, new states in list order)."""

    def per(v):
        return v[i] if isinstance(v, list) else v

    if name == "sgd":
        t = 1 if per(h["first_step"]) else 2
        keys = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
        return ref_sgd(p, g, states[0], t, *(h[k] for k in keys))
    if name == "adagrad":
        keys = ("lr", "lr_decay", "weight_decay", "eps", "maximize")
        return ref_adagrad(p, g, states[0], per(h["step"]), *(h[k] for k in keys))
    if name == "rmsprop":
        keys = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
        return ref_rmsprop(p, g, *states, *(h[k] for k in keys))
    keys = ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize", "decoupled")
    return ref_adam(p, g, *states, per(h["step"]), *(h[k] for k in keys))


def corrupt(data, lists, h, bufs):
    """One fuzzing change to a well-formed call; returns False for a payload change (NaN/inf
    values: the call must still succeed)."""
    kind = data.draw(
        st.sampled_from(["payload", "hyper", "hyper", "entry", "entry", "entry", "list"])
    )
    names = list(lists)
    if kind == "hyper":
        key = data.draw(st.sampled_from(list(h)))
        bad = BAD_STEPS if key == "step" else BAD_FLAGS if key in FLAG_KEYS else BAD_NUMBERS
        h[key] = data.draw(st.sampled_from(bad))
        return True
    name = data.draw(st.sampled_from(names))
    lst = lists[name]
    if not isinstance(lst, list):
        return True  # already replaced by something that is not a list
    if kind == "list" or not lst:
        lists[name] = data.draw(
            st.sampled_from(
                [tuple(lst), lst[:-1], lst + [np.zeros(1)], np.zeros(3), None, iter(lst), {}]
            )
        )
        return True
    i = data.draw(st.integers(0, len(lst) - 1))
    arrs = [a for v in lists.values() if isinstance(v, list) for a in v]
    arrs = [a for a in arrs if isinstance(a, np.ndarray)]
    if not arrs:  # every entry was already replaced by something else
        return kind != "payload"
    if kind == "payload":
        a = data.draw(st.sampled_from(arrs))
        if a.size and a.flags.writeable and a.dtype.kind == "f":
            a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(st.sampled_from(SPECIALS))
        return False
    how = data.draw(st.sampled_from(["fuzz", "alias", "overlap", "none", "pylist", "scalar"]))
    if how == "fuzz":
        lst[i] = data.draw(arrays(max_dims=3, max_side=5))
    elif how == "alias":
        lst[i] = data.draw(st.sampled_from(arrs))
    elif how == "overlap":  # another array's memory shifted by one element
        a = data.draw(st.sampled_from(arrs))
        owner = next((bf for bf in bufs if np.shares_memory(bf, a)), None)
        if owner is not None and a.size:
            start = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
            start //= a.itemsize
            lst[i] = owner[start + 1 : start + 1 + a.size].reshape(a.shape)
            # Its last element is a guard cell, legitimately written if `a` leaves the call.
            bufs[:] = [bf for bf in bufs if bf is not owner]
    elif how == "none":
        lst[i] = None
    elif how == "pylist":
        lst[i] = np.asarray(lst[i]).tolist() if isinstance(lst[i], np.ndarray) else [1.0]
    else:
        lst[i] = 1.0
    return True


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step(name, data):
    """sgd_step / adagrad_step / rmsprop_step / adam_step (amsgrad, AdamW: decoupled): a
    well-formed call matches the float64 reference; fuzzed lists, entries (wrong dtype/shape/
    layout, read-only, aliasing, partial overlap), hyperparameters and steps raise
    TypeError/ValueError leaving every parameter and state unchanged (never half-updated);
    NaN/inf payloads are computed, not refused. Nothing is written outside the arrays."""
    fn, state_names = OPTIMIZERS[name]
    n = data.draw(st.integers(0, 4))
    dts = [data.draw(FLOATS) for _ in range(n)]
    shapes = [data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)) for _ in range(n)]
    bufs = []

    def tensors(lo, hi):
        out = []
        for dt, shape in zip(dts, shapes):
            buf, a = guarded(shape, dt)
            a[...] = finite(data, shape, dt, lo, hi)
            bufs.append(buf)
            out.append(a)
        return out

    lists = {"params": tensors(-5, 5), "grads": tensors(-5, 5)}
    for s in state_names:
        lists[s] = tensors(0, 25) if s in NONNEG_STATES else tensors(-5, 5)
    if name == "rmsprop":  # grad_avg**2 <= square_avg: a well-defined centered variance
        for ga, v in zip(lists["grad_avgs"], lists["square_avgs"]):
            ga *= 0.1 * np.sqrt(v)
    h = valid_hyper(data, name, n)
    changes = [corrupt(data, lists, h, bufs) for _ in range(data.draw(st.integers(0, 3)))]
    well_formed = not changes
    must_succeed = not any(changes)
    originals = (
        [(a, a.astype(np.float64)) for a in lists["params"] + lists["grads"]] if well_formed else []
    )
    objs = [a for v in lists.values() if isinstance(v, (list, tuple)) for a in v]
    snap = snapshot(objs)
    states = [lists[s] for s in state_names]
    state0 = [[a.astype(np.float64) for a in lst] for lst in states] if well_formed else []
    _, err = attempt(fn, lists["params"], lists["grads"], *states, **h)
    assert_guards(*bufs)
    if err is not None:
        assert not must_succeed, f"a well-formed call raised {err!r}"
        assert_unchanged(snap)  # never half-updated
        return
    written = list(lists["params"]) + [a for s in used_states(name, h) for a in lists[s]]
    untouched = [a for a, _ in snap if not any(np.may_share_memory(a, w) for w in written)]
    assert_unchanged([(a, c) for a, c in snap if any(a is u for u in untouched)])
    if not well_formed:
        return
    for i in range(n):
        p0, g0 = originals[i][1], originals[n + i][1]
        want = reference_step(name, h, i, p0, g0, [s[i] for s in state0])
        got = [lists["params"][i]] + [lst[i] for lst in states]
        for a, r in zip(got, want):
            assert_close(a, r, a.dtype)


# ---------------------------------------------------------------------------------------------
# gradient clipping


def clip_entries(data, bufs):
    """What clip_grad_*_ takes: Parameters (with or without a grad) and arrays, as a list, a
    tuple, a generator or a single one; plus fuzzed arrays, duplicates and junk."""
    draw = data.draw
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["param", "param", "array", "nograd", "fuzz", "dup", "junk"]))
        dt = draw(FLOATS)
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=6))
        if kind in ("param", "array"):
            buf, g = guarded(shape, dt)
            payload = draw(st.booleans())  # NaN/inf/huge values or plain ones
            g[...] = (
                draw(arrays(dtype=dt, shape=shape, lo=-5, hi=5))
                if payload
                else finite(data, shape, dt)
            )
            bufs.append(buf)
            if kind == "array":
                entries.append(g)
                continue
            p = fastnn.Parameter(finite(data, shape, dt))
            if draw(st.booleans()):  # any array of the right dtype/shape is a valid grad
                other = draw(arrays(dtype=dt, shape=shape))
                g = other if other.dtype == dt else g  # (not byte-swapped: refused by p.grad)
            p.grad = g
            entries.append(p)
        elif kind == "nograd":
            entries.append(fastnn.Parameter(finite(data, shape, dt)))
        elif kind == "fuzz":
            entries.append(draw(arrays(max_dims=2)))
        elif kind == "dup" and entries:
            entries.append(draw(st.sampled_from(entries)))
        else:
            entries.append(draw(st.sampled_from([None, 1.5, "x", [1.0, 2.0]])))
    return entries


def clip_grads(entries):
    return [e.grad if isinstance(e, fastnn.Parameter) else e for e in entries]


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("fn", ["clip_grad_norm_", "clip_grad_value_"])
def test_clip_grad(fn, data):
    """clip_grad_norm_ / clip_grad_value_ on Parameters and arrays: the float64 reference
    (torch.nn.utils semantics) when every gradient is a writeable float32/float64 array, else
    TypeError/ValueError with no gradient touched; parameters' data never modified."""
    bufs = []
    entries = clip_entries(data, bufs)
    container = data.draw(st.sampled_from(["list", "tuple", "gen", "single", "junk"]))
    if container == "tuple":
        arg = tuple(entries)
    elif container == "gen":
        arg = iter(entries)
    elif container == "single" and len(entries) == 1:
        arg = entries[0]
    elif container == "junk":
        arg, entries = data.draw(st.sampled_from([None, 3, 2.5])), []
    else:
        arg = entries
    datas = snapshot([e.data for e in entries if isinstance(e, fastnn.Parameter)])
    grads = [g for g in clip_grads(entries) if g is not None]
    snap = snapshot(grads)
    # Well-formed: Parameters and writeable float32/float64 arrays, each gradient its own memory.
    ok_entries = container != "junk" and all(
        isinstance(e, fastnn.Parameter)
        or isinstance(e, np.ndarray)
        and e.dtype in (np.float32, np.float64)
        for e in entries
    )
    ok_entries = ok_entries and all(g.flags.writeable for g in grads)
    distinct = not any(np.may_share_memory(a, b) for i, a in enumerate(grads) for b in grads[:i])
    if fn == "clip_grad_norm_":
        max_norm = data.draw(
            st.sampled_from([1.0, 0.5, 1e-3, 100.0, 0.0] * 2 + [-1.0, np.nan, np.inf, "x", None])
        )
        norm_type = data.draw(
            st.sampled_from([2.0, 1.0, np.inf, 3.0, 0.5] * 2 + [0, -1.0, -np.inf, np.nan, "fro"])
        )
        raise_nonfinite = data.draw(st.booleans())
        valid = isinstance(max_norm, float) and norm_type in (1.0, 2.0, np.inf, 3.0, 0.5)
        try:
            res, err = attempt(
                fastnn.clip_grad_norm_, arg, max_norm, norm_type, error_if_nonfinite=raise_nonfinite
            )
        except RuntimeError as e:  # documented for a non-finite total with error_if_nonfinite
            assert raise_nonfinite and "non-finite" in str(e)
            res, err, valid = None, e, False
    else:
        clip_value = data.draw(st.sampled_from([1.0, 0.5, 0.0, 100.0, -1.0, np.nan, np.inf]))
        clip_value = data.draw(st.sampled_from([clip_value, clip_value, "x", None]))
        valid = isinstance(clip_value, float)
        res, err = attempt(fastnn.clip_grad_value_, arg, clip_value)
    assert_guards(*bufs)
    assert_unchanged(datas)
    if err is not None:
        assert_unchanged(snap)  # no gradient touched
        assert not (ok_entries and distinct and valid), f"a well-formed call raised {err!r}"
        return
    assert ok_entries, "a non-float or read-only gradient was accepted"
    if not distinct:
        return
    orig = [c.astype(np.float64) for _, c in snap]
    if fn == "clip_grad_value_":
        v = float(clip_value)
        for (g, _), o in zip(snap, orig):
            want = np.full_like(o, np.nan) if math.isnan(v) else np.clip(o, -v, v)
            np.testing.assert_array_equal(g, want.astype(g.dtype))
        return
    if not valid:
        return
    flat = np.concatenate([o.ravel() for o in orig] + [np.zeros(0)])
    total = np.linalg.norm(flat, ord=norm_type) if flat.size else 0.0
    np.testing.assert_allclose(res, total, rtol=1e-9)
    coef = float(max_norm) / (total + 1e-6)
    coef = coef if (math.isnan(coef) or coef < 1.0) else 1.0
    for (g, c), o in zip(snap, orig):
        want = c if coef == 1.0 else (c * c.dtype.type(coef))
        assert_close(g, want, g.dtype)


# ---------------------------------------------------------------------------------------------
# compile_step


def build_step(data):
    dt = data.draw(FLOATS)
    loss = data.draw(st.sampled_from(["ce", "mse"]))
    reduction = data.draw(st.sampled_from(["mean", "sum"]))
    flatten = data.draw(st.booleans())
    fastnn.manual_seed(data.draw(st.integers(0, 100)))
    layers = [nn.Flatten()] if flatten else []
    model = nn.Sequential(*layers, nn.Linear(6, 4, dtype=dt), nn.Tanh(), nn.Linear(4, 3, dtype=dt))
    if loss == "ce":
        ignore_index = data.draw(st.sampled_from([-100, 1]))
        smoothing = data.draw(st.sampled_from([0.0, 0.1]))
        crit = nn.CrossEntropyLoss(
            ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing
        )
    else:
        crit = nn.MSELoss(reduction=reduction)
    kind = data.draw(st.sampled_from(["sgd", "sgd_nesterov", "adam", "adam_ams", "adamw"]))
    make_opt = {
        "sgd": lambda ps: optim.SGD(ps, lr=0.05),
        "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
        "adam": lambda ps: optim.Adam(ps, lr=1e-2),
        "adam_ams": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2, amsgrad=True),
        "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    }[kind]
    twin = copy.deepcopy(model)
    opt = make_opt(list(model.parameters()))
    return dt, loss, flatten, model, crit, opt, twin, make_opt(list(twin.parameters()))


def state_snapshot(model, opt):
    ps = [(p, p.data.copy(), p.grad) for p in model.parameters()]
    st_ = {id(p): {k: copy.deepcopy(v) for k, v in s.items()} for p, s in opt.state.items()}
    return ps, st_


def assert_state_unchanged(model, opt, snap):
    ps, st_ = snap
    for p, d, g in ps:
        np.testing.assert_array_equal(p.data, d)
        assert p.grad is g
    assert {id(p) for p in opt.state} == set(st_)
    for p, s in opt.state.items():
        assert set(s) == set(st_[id(p)])
        for k, v in s.items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(st_[id(p)][k]))


@SETTINGS
@given(data=st.data())
def test_compile_step(data):
    """fastnn.nn.compile_step's step(x, y) with fuzzed x and y: well-formed batches give the
    module-by-module step's loss and parameters; a wrong dtype, shape, layout, out-of-range or
    non-integer label raises TypeError/ValueError leaving parameters, gradients and optimizer
    state unchanged."""
    dt, loss, flatten, model, crit, opt, twin, twin_opt = build_step(data)
    step = nn.compile_step(model, crit, opt)
    m = data.draw(st.integers(1, 5))
    x_kind = data.draw(st.sampled_from(["ok", "ok", "ok", "dtype", "features", "empty", "junk"]))
    x = finite(data, (m, 2, 3) if flatten and data.draw(st.booleans()) else (m, 6), dt)
    layout = data.draw(st.sampled_from(["c", "f", "strided", "list"]))
    if layout == "f":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    elif layout == "list" and dt == np.float64:
        x = x.tolist()
    if x_kind == "dtype":
        x = np.asarray(x).astype(data.draw(DTYPES.filter(lambda d: np.dtype(d) != dt)))
    elif x_kind == "features":
        x = finite(data, (m, data.draw(st.sampled_from([0, 5, 7, 36]))), dt)
    elif x_kind == "empty":
        x = finite(data, data.draw(st.sampled_from([(0, 6), (6,), ()])), dt)
    elif x_kind == "junk":
        x = data.draw(st.sampled_from([None, "x", object(), [[1.0]]]))
    y_kind = data.draw(st.sampled_from(["ok", "ok", "ok", "range", "dtype", "shape", "fuzz"]))
    if loss == "ce":
        labels = st.sampled_from([0, 1, 2, crit.ignore_index])
        y = data.draw(hnp.arrays(np.int64, (m,), elements=labels))
        y = y.astype(data.draw(st.sampled_from([np.int64, np.int32])))
        if y_kind == "range":  # out of [0, 3) and not ignore_index
            bad = st.sampled_from([-1, 3, -101, 2**30]).filter(lambda v: v != crit.ignore_index)
            y[data.draw(st.integers(0, m - 1))] = data.draw(bad)
        elif y_kind == "dtype":
            bad = [np.float32, np.float64, np.int16, np.uint8, np.uint64, np.bool_, np.int8]
            y = y.astype(data.draw(st.sampled_from(bad)))
    else:
        y = finite(data, (m, 3), dt)
        if y_kind in ("range", "dtype"):
            y = y.astype(data.draw(DTYPES.filter(lambda d: np.dtype(d) != dt)))
    if y_kind == "shape":
        shapes = (
            [(m + 1,), (m, 1), (), (2 * m,)] if loss == "ce" else [(m, 2), (m + 1, 3), (3 * m,)]
        )
        y = np.zeros(data.draw(st.sampled_from(shapes)), y.dtype)
    elif y_kind == "fuzz":
        y = data.draw(st.one_of(arrays(max_dims=2), st.sampled_from([None, "x", [0], 1.0])))
    x_ok, y_ok = x_kind == "ok", y_kind == "ok"
    inputs = [a for a in (x, y) if isinstance(a, np.ndarray)]
    snap_in = snapshot(inputs)
    snap = state_snapshot(model, opt)
    res, err = attempt(step, x, y)
    assert_unchanged(snap_in)
    if err is not None:
        assert not (x_ok and y_ok), f"a well-formed batch raised {err!r}"
        assert_state_unchanged(model, opt, snap)
        return
    assert (x_ok or x_kind == "fuzz") and (y_ok or y_kind == "fuzz"), "a bad batch was accepted"
    assert isinstance(res, float)
    if not (x_ok and y_ok):
        return
    out = twin(np.asarray(x, dtype=dt))
    ref = crit(out, y)
    twin_opt.zero_grad()
    ref.backward()
    twin_opt.step()
    assert_close(res, float(ref.data), dt)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert_close(p.data, q.data, dt)
        assert_close(p.grad, q.grad, dt)
