"""Activations against float64 NumPy references (tests/reference.py).

Tolerances: float32 results within 2 ulp of the float64 reference rounded to float32 (ulp distance
= number of float32 values between the two, see reference.ulp_distance); float64 results within
1e-14 relative. Every test runs at every SIMD level this CPU has (the simd_level fixture)."""

import fastnn
import numpy as np
import pytest
from reference import DERIVATIVE, FORWARD, ulp_distance

NAMES = list(FORWARD)
SMOOTH = ["sigmoid", "tanh", "elu", "selu", "silu", "softplus", "gelu", "gelu_tanh"]
SIZES = [0, 1, 15, 16, 17, 1023, 10**6 + 3]


def edge_values(dtype):
    fi = np.finfo(dtype)
    tiny_denormal = fi.smallest_subnormal
    vals = [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        88.0,
        -88.0,
        1e-30,
        -1e-30,
        tiny_denormal,
        -tiny_denormal,
        fi.max,
        -fi.max,
        fi.tiny,
        -fi.tiny,
        3.0,
        -3.0,
        20.0,
        30.0,
        -30.0,
        1.0,
        -1.0,
    ]
    return np.array(vals, dtype=dtype)


def sample(dtype, n, seed):
    """Fresh random inputs from several ranges plus the edge values."""
    rng = np.random.default_rng(seed)
    k = n // 5
    parts = [
        rng.standard_normal(k),
        rng.uniform(-20, 20, k),
        rng.uniform(-100, 100, k),
        rng.choice([-1, 1], k) * 10.0 ** rng.uniform(-30, 30, k),
        rng.uniform(-6, 6, n - 4 * k),
    ]
    x = np.concatenate(parts).astype(dtype)
    return np.concatenate([edge_values(dtype), x])


def fn(name, kind):
    act = fastnn.activations[name]
    return {"forward": act.forward, "derivative": act.derivative}[kind]


@pytest.fixture(scope="module")
def big32():
    # 10^6 fresh inputs, references computed once for all SIMD levels.
    x = sample(np.float32, 10**6, seed=np.random.SeedSequence().entropy % 2**32)
    x64 = x.astype(np.float64)
    return (
        x,
        {name: FORWARD[name](x64).astype(np.float32) for name in NAMES},
        {name: DERIVATIVE[name](x64) for name in NAMES},
    )


@pytest.mark.parametrize("name", NAMES)
def test_forward_float32_ulp(simd_level, big32, name):
    x, ref, _ = big32
    y = fn(name, "forward")(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    d = ulp_distance(y, ref[name])
    worst = int(d.max())
    bad = x[d.argmax()]
    assert worst <= 2, (
        f"{name}: {worst} ulp at x={bad!r} (got {y[d.argmax()]!r}, want {ref[name][d.argmax()]!r})"
    )


@pytest.mark.parametrize("name", NAMES)
def test_derivative_float32(simd_level, big32, name):
    x, _, dref = big32
    d = fn(name, "derivative")(x)
    want = dref[name]
    # 2 ulp of the float32-rounded reference, or 2e-7 absolute where f' crosses zero (there the
    # float64 reference itself cancels).
    ok = (ulp_distance(d, want.astype(np.float32)) <= 2) | (np.abs(d - want) <= 2e-7)
    ok |= np.isnan(d) & np.isnan(want)
    assert ok.all(), f"{name}: x={x[~ok][:5]}, got {d[~ok][:5]}, want {want[~ok][:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_float64_relative(simd_level, name):
    x = sample(np.float64, 200_000, seed=1234)
    if name == "gelu":
        x = x[
            ~(x < -5)
        ]  # scipy's erfc(-x/sqrt2) reference loses x^2 ulps there; see the mpmath test
    with np.errstate(all="ignore"):
        for kind, refs, rtol, atol in (
            ("forward", FORWARD, 1e-14, 1e-300),
            ("derivative", DERIVATIVE, 1e-14, 1e-15),
        ):
            got = fn(name, kind)(x)
            want = refs[name](x)
            scale = np.ones_like(x)
            if name == "gelu_tanh":
                # exp(2z) with z ~ 0.036 x^3: an ulp of z is |2z| ulps of the result, in any
                # double evaluation (the reference's too), so the bound scales with |2z|.
                scale = 1 + np.abs(0.0713548 * x**3)
            ok = (np.abs(got - want) <= rtol * scale * np.abs(want) + atol) | (got == want)
            ok |= np.isnan(got) & np.isnan(want)
            assert ok.all(), (
                f"{name} {kind}: x={x[~ok][:5]}, got {got[~ok][:5]}, want {want[~ok][:5]}"
            )


def test_gelu_float64_far_tail_against_mpmath(simd_level):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.concatenate(
        [np.linspace(-37.5, -5, 400), np.random.default_rng().uniform(-37.5, 10, 400)]
    )
    got = fastnn.gelu(x)
    want = np.array(
        [float(mpmath.mpf(v) * mpmath.erfc(-mpmath.mpf(v) / mpmath.sqrt(2)) / 2) for v in x]
    )
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sizes_out_and_in_place(simd_level, n, dtype):
    x = np.random.default_rng(n).uniform(-8, 8, n).astype(dtype)
    for name in ["sigmoid", "gelu", "relu", "softplus"]:
        act = fastnn.activations[name]
        want = act.forward(x.copy())
        out = np.empty_like(x)
        res = act.forward(x, out=out)
        assert res is out and (n == 0 or np.shares_memory(res, out))
        np.testing.assert_array_equal(out, want)
        buf = x.copy()
        res = act.forward(buf, out=buf)
        assert res is buf
        np.testing.assert_array_equal(buf, want)
        g = np.random.default_rng(1).standard_normal(n).astype(dtype)
        gb = act.backward(g, x)
        np.testing.assert_array_equal(
            gb,
            (g.astype(np.float64) * act.derivative(x.astype(np.float64))).astype(dtype)
            if dtype == np.float64
            else gb,
        )
        tol = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(gb, g * act.derivative(x), rtol=tol, atol=tol * 1e-3)
        gcopy = g.copy()
        act.backward(gcopy, x, out=gcopy)
        np.testing.assert_array_equal(gcopy, gb)


@pytest.mark.parametrize("name", NAMES)
def test_one_and_two_threads_bitwise_equal(threads, name):
    x = sample(np.float32, 10**6 + 3, seed=7)
    g = np.random.default_rng(3).standard_normal(x.size).astype(np.float32)
    act = fastnn.activations[name]
    results = []
    for t in (1, 2):
        fastnn.set_num_threads(t)
        results.append((act.forward(x), act.derivative(x), act.backward(g, x)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_based_backward(simd_level, name, dtype):
    rng = np.random.default_rng(5)
    x = rng.uniform(-6, 6, 1001).astype(dtype)
    g = rng.standard_normal(1001).astype(dtype)
    act = fastnn.activations[name]
    y = act.forward(x)
    got = act.backward(g, y=y)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    want = g64 * (1 - y64) * y64 if name == "sigmoid" else g64 * (1 - y64 * y64)
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert act.has_output_backward
    with pytest.raises(TypeError, match="not both"):
        act.backward(g, x, y=y)
    with pytest.raises(TypeError, match="y"):
        fastnn.relu_backward(g, y=y)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("leaky_relu", {"negative_slope": 0.2}),
        ("elu", {"alpha": 0.5}),
        ("softplus", {"beta": 2.0, "threshold": 5.0}),
    ],
)
def test_parameters(simd_level, name, kwargs):
    x = sample(np.float64, 10_000, seed=11)
    act = fastnn.activations[name]
    ref_kwargs = {
        "leaky_relu": {"s": 0.2},
        "elu": {"a": 0.5},
        "softplus": {"beta": 2.0, "threshold": 5.0},
    }[name]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(
            act.forward(x, **kwargs), FORWARD[name](x, **ref_kwargs), rtol=1e-14, atol=1e-300
        )
        np.testing.assert_allclose(
            act.derivative(x, **kwargs), DERIVATIVE[name](x, **ref_kwargs), rtol=1e-14, atol=1e-300
        )
    np.testing.assert_array_equal(act.forward(x, *kwargs.values()), act.forward(x, **kwargs))
    assert act.params == tuple(kwargs)


def test_torch_conventions_at_kinks_and_specials():
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, -3.0, 3.0])
    np.testing.assert_array_equal(fastnn.relu_derivative(x), [0, 0, 1, 1, 0, 0, 1])
    assert np.signbit(fastnn.relu(np.array([-0.0])))[0]  # torch keeps -0
    np.testing.assert_array_equal(fastnn.step(x), [0, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(fastnn.hardswish_derivative(x), [0.5, 0.5, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(
        fastnn.leaky_relu_derivative(x), [0.01, 0.01, 0.01, 1, 0.01, 0.01, 1]
    )
    assert np.isnan(fastnn.sigmoid(np.array([np.nan]))[0])
    assert fastnn.gelu(np.array([np.inf]))[0] == np.inf


def test_gelu_approximate_switch():
    x = np.linspace(-5, 5, 101)
    np.testing.assert_array_equal(
        fastnn.gelu(x, approximate="tanh"), fastnn.activations["gelu_tanh"].forward(x)
    )
    np.testing.assert_array_equal(fastnn.gelu(x), fastnn.activations["gelu"].forward(x))
    with pytest.raises(ValueError, match="approximate"):
        fastnn.gelu(x, approximate="fast")


def test_registry_and_aliases():
    for name, act in fastnn.activations.items():
        assert callable(act.forward) and callable(act.derivative) and callable(act.backward)
    assert fastnn.activations["logistic"] is fastnn.activations["sigmoid"]
    for name in ["sigmoid", "tanh", "relu", "silu", "softplus", "hardswish"]:
        assert getattr(fastnn, name) is fastnn.activations[name].forward
        assert getattr(fastnn, name + "_backward") is fastnn.activations[name].backward


def test_array_likes_and_zero_d():
    np.testing.assert_allclose(fastnn.sigmoid([0.0, 1.0]), [0.5, 1 / (1 + np.exp(-1))])
    assert fastnn.sigmoid([1, 2]).dtype == np.float64  # lists of ints become float64
    base = np.linspace(-3, 3, 20, dtype=np.float32)
    view = base[::2]  # non-contiguous: copied, result still right
    np.testing.assert_array_equal(fastnn.tanh(view), fastnn.tanh(view.copy()))
    z = fastnn.relu(np.array(-2.0))
    assert z.shape == () and z == 0
    e = fastnn.sigmoid(np.empty((0, 3), np.float32))
    assert e.shape == (0, 3) and e.dtype == np.float32
    x2 = np.random.default_rng(0).standard_normal((4, 5, 6)).astype(np.float32)
    assert fastnn.silu(x2).shape == (4, 5, 6)


@pytest.mark.parametrize(
    "bad",
    [
        np.arange(4),
        np.ones(4, bool),
        np.ones(4, complex),
        np.array([1.0, None, 2.0], dtype=object),
        np.ones(4, np.float16),
        np.ones(4).astype(">f8"),  # non-native byte order: was read as garbage
    ],
)
def test_bad_dtypes(bad):
    with pytest.raises(TypeError, match="x must be a float32 or float64 array"):
        fastnn.sigmoid(bad)
    with pytest.raises(TypeError, match="grad_out"):
        fastnn.sigmoid_backward(bad, np.ones(4))


def test_bad_out_and_nothing_written():
    x = np.linspace(-1, 1, 8)
    cases = [
        (np.zeros(7), ValueError, "out must have shape"),
        (np.zeros(8, np.float32), TypeError, "out must have dtype float64"),
        (np.zeros(8, ">f8"), TypeError, "out must have dtype float64, got >f8"),
        (np.zeros(16)[::2], ValueError, "out must be C-contiguous"),
        ([0.0] * 8, TypeError, "out must be a numpy.ndarray"),
    ]
    for out, exc, msg in cases:
        before = np.array(out, copy=True)
        with pytest.raises(exc, match=msg):
            fastnn.tanh(x, out=out)
        np.testing.assert_array_equal(np.asarray(out), before)
    ro = np.zeros(8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        fastnn.tanh(x, out=ro)
    assert not ro.any()
    buf = np.linspace(-1, 1, 9)
    with pytest.raises(ValueError, match="out partially overlaps"):
        fastnn.tanh(buf[:8], out=buf[1:])
    with pytest.raises(ValueError, match="x has shape"):
        fastnn.relu_backward(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="x has dtype float32 but grad_out has dtype float64"):
        fastnn.relu_backward(np.ones(3), np.ones(3, np.float32))
    with pytest.raises(TypeError):
        fastnn.relu_backward(np.ones(3))


def _ordered(v):
    """float32/float64 bits as integers ordered like the values (-0 and +0 both 0)."""
    bits = {np.float32: np.int32, np.float64: np.int64}[v.dtype.type]
    i = v.view(bits).astype(np.int64)
    return np.where(i >= 0, i, -(i & np.iinfo(bits).max))


def _assert_same_class(got, want, what):
    """NaN where want is NaN, the same infinity, finite within 2 ulp (float32) or 1e-14
    relative (float64), and zeros with want's sign."""
    nan = np.isnan(want)
    inf = np.isinf(want)
    fin = np.isfinite(want)
    ok = np.where(nan, np.isnan(got), True)
    ok &= np.where(inf, got == want, True)
    if got.dtype == np.float32:
        close = np.abs(_ordered(got) - _ordered(want)) <= 2
    else:
        close = np.abs(got - want) <= 1e-14 * np.abs(want)
    ok &= np.where(fin, np.isfinite(got) & close, True)
    ok &= np.where(want == 0, (got == 0) & (np.signbit(got) == np.signbit(want)), True)
    assert ok.all(), f"{what}: at {np.nonzero(~ok)[0][:6]} got {got[~ok][:6]}, want {want[~ok][:6]}"


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, -0.37, 0.0, 1e31, -1e38])
def test_elu_alpha_float32(simd_level, alpha):
    """elu's float32 forward and backward for other alphas: within 2 ulp of the float64 path
    (itself within 1e-14 of the NumPy reference: test_parameters), zeros with its sign,
    infinities and NaN alike; |alpha| > 1e30 included (double path)."""
    x = sample(np.float32, 200_000, seed=5)
    g = np.random.default_rng(6).standard_normal(x.size).astype(np.float32)
    act = fastnn.activations["elu"]
    with np.errstate(all="ignore"):
        want = act.forward(x.astype(np.float64), alpha=alpha).astype(np.float32)
        _assert_same_class(act.forward(x, alpha=alpha), want, f"elu(alpha={alpha})")
        want_b = act.backward(g.astype(np.float64), x.astype(np.float64), alpha=alpha)
        _assert_same_class(
            act.backward(g, x, alpha=alpha), want_b.astype(np.float32), f"elu'(alpha={alpha})"
        )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zeros(simd_level, name, dtype):
    """Signs of zero results as the float64 path (which keeps IEEE product signs, as torch):
    f(+-0), f'(+-0) and g f'(x) for g, x = +-0 and g = +-0 at nonzero x."""
    act = fastnn.activations[name]
    x = np.array([0.0, -0.0], dtype)
    for kind in ("forward", "derivative"):
        got = fn(name, kind)(x)
        want = fn(name, kind)(x.astype(np.float64)).astype(dtype)
        _assert_same_class(got, want, f"{name} {kind}")
    xs = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, -1.5, 3.0, -3.0, -10.0, -30.0, 30.0, -250.0]
    gs = [0.0, -0.0, 1.0, -1.0]
    xx, gg = (np.array(v, dtype).ravel() for v in np.meshgrid(xs, gs))
    with np.errstate(all="ignore"):
        got = act.backward(gg, xx)
        want = act.backward(gg.astype(np.float64), xx.astype(np.float64)).astype(dtype)
        if dtype == np.float64 and name in SMOOTH:
            want = gg * act.derivative(xx)  # IEEE product: the sign of a zero is sign(g) sign(f')
    # g = +-1 at x = +-0 and g = +-0 anywhere: exact zeros or values with the right sign
    _assert_same_class(got, want, f"{name} backward")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_infinite_huge_and_nan_grad(simd_level, name, dtype):
    """g = +-inf gives +-inf (sign of g f'(x)) where the float64 f'(x) is nonzero and NaN where
    it is 0 (inf * 0, as torch) or NaN; g = NaN propagates; g = +-1e38 does not overflow where
    g f'(x) is finite. float32 against the float64 path on float64 inputs, float64 against the
    IEEE product g * f'(x) (smooth activations: f' is the product's factor there)."""
    act = fastnn.activations[name]
    xs = [-1000.0, -250.0, -30.0, -5.0, -1.5, -1.0, -0.5, -1e-30, -0.0, 0.0, 1e-30, 0.5, 1.0]
    xs += [1.5, 5.0, 30.0, 250.0, 1000.0, np.inf, -np.inf, np.nan]
    gs = [np.inf, -np.inf, 1e38, -1e38, np.nan]
    xx, gg = (np.array(v, dtype).ravel() for v in np.meshgrid(xs, gs))
    with np.errstate(all="ignore"):
        got = act.backward(gg, xx)
        if dtype == np.float32:
            want = act.backward(gg.astype(np.float64), xx.astype(np.float64)).astype(np.float32)
        elif name in SMOOTH:
            want = gg * act.derivative(xx)
        else:
            return  # piecewise activations select g or 0 (torch's threshold_backward)
    _assert_same_class(got, want, f"{name} backward")


def test_tanh_float64_derivative_tail():
    # 1 - tanh^2 = 4 e / (1 + e)^2, e = exp(-2|x|): no cancellation in the tail.
    x = np.array([-300.0, -20.0, -13.0, 13.0, 20.0, 300.0, 372.0])
    e = np.exp(-2 * np.abs(x))
    np.testing.assert_allclose(
        fastnn.activations["tanh"].derivative(x), 4 * e / (1 + e) ** 2, rtol=1e-14
    )
