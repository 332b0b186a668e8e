"""Loss functions: forward, backward and fused forward+backward against float64 NumPy references,
central finite differences and (when importable) torch.nn.functional; thread determinism; bad
inputs."""

import fastnn
import numpy as np
import pytest

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]
POINTWISE = [
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]
RNG = np.random.default_rng(20261125)


def tol(dtype):
    return 2e-6 if dtype == np.float32 else 1e-12


# ------------------------------------------------------------------ float64 references


def ref_pointwise(name, x, y, w=None, pw=None, delta=1.0):
    """Per-element loss and d loss / d x, in float64."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        r = x - y
        if name == "mse_loss":
            l, d = r * r, 2 * r
        elif name == "l1_loss":
            l, d = np.abs(r), np.sign(r)
        elif name == "huber_loss":
            z = np.abs(r)
            l = np.where(z < delta, 0.5 * r * r, delta * (z - 0.5 * delta))
            d = np.clip(r, -delta, delta)
        elif name == "binary_cross_entropy":
            l = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))
            d = (x - y) / np.maximum((1 - x) * x, float(np.float32(1e-12)))
        else:
            pw = 1.0 if pw is None else np.asarray(pw, np.float64)
            lw = (pw - 1) * y + 1
            l = (1 - y) * x + lw * np.logaddexp(0.0, -x)
            e = np.exp(-np.abs(x))
            s = np.where(x >= 0, 1.0, e) / (1 + e)
            d = lw * s - pw * y
        if w is not None:
            l = l * w
            d = d * w
    return l, d


def ref_class(x, target, w=None, ignore_index=-100, eps=0.0, logits=True):
    """Per-row loss, d row-loss / d x, and the mean's denominator, in float64."""
    x = np.asarray(x, np.float64)
    n, c = x.shape
    if logits:
        m = x.max(1, keepdims=True)
        lse = m + np.log(np.exp(x - m).sum(1, keepdims=True))
        logp = x - lse
    else:
        logp = x
    wv = np.ones(c) if w is None else np.asarray(w, np.float64)
    if target.dtype.kind == "f":
        q = (target.astype(np.float64) * (1 - eps) + eps / c) * wv
        denom = float(n)
    else:
        valid = target != ignore_index
        tt = np.where(valid, target, 0).astype(np.int64)
        q = np.tile(wv * (eps / c), (n, 1))
        q[np.arange(n), tt] += (1 - eps) * wv[tt]
        q[~valid] = 0
        denom = wv[tt][valid].sum()
    loss = -(q * logp).sum(1)
    grad = q.sum(1, keepdims=True) * np.exp(logp) - q if logits else -q
    return loss, grad, denom


def reduce_ref(l, d, reduction, g, denom):
    """The reduced loss and the gradient for upstream gradient g."""
    with np.errstate(all="ignore"):
        if reduction == "none":
            gb = g.reshape(g.shape + (1,) * (d.ndim - g.ndim))
            return l, d * gb
        s = l.sum()
        if reduction == "sum":
            return s, d * g
        return s / denom, np.where(d == 0, 0.0, d * (g / denom))  # ignored rows: 0, like torch


def check(got, ref, dtype, scale=None):
    got = np.asarray(got)
    ref = np.asarray(ref, np.float64)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        ref_t = ref.astype(dtype).astype(np.float64)
    if scale is None:
        scale = np.abs(ref[np.isfinite(ref)]).max(initial=0.0)
    np.testing.assert_allclose(
        got.astype(np.float64),
        ref_t,
        rtol=tol(dtype),
        atol=tol(dtype) * scale + 1e-300,
        equal_nan=True,
    )


# ------------------------------------------------------------------ pointwise losses


def pointwise_data(name, n, dtype, edge=False):
    if name == "binary_cross_entropy":
        x = RNG.random(n)
        y = RNG.random(n)
        if n >= 8:  # probabilities exactly 0 and 1, and hard targets
            x[:4] = [0.0, 1.0, 0.0, 1.0]
            y[:4] = [0.0, 1.0, 1.0, 0.0]
            y[4:8] = [0.0, 1.0, 0.0, 1.0]
    else:
        x = RNG.standard_normal(n) * 3
        y = RNG.standard_normal(n) * 3
        if name == "binary_cross_entropy_with_logits":
            y = RNG.random(n)
            if n >= 6:
                x[:6] = [1e4, -1e4, 30.0, -30.0, 0.0, -0.0]
        if edge and n >= 9:
            x[:9] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-30, 5.0]
            y[:9] = [0.5, 1.0, 0.5, -0.0, 0.0, 2.0, 0.3, 0.0, np.nan]
    return x.astype(dtype), y.astype(dtype)


def call_pointwise(name, suffix, *args, w=None, pw=None, delta=1.0, **kw):
    fn = getattr(fastnn, name + suffix)
    if name == "huber_loss":
        kw["delta"] = delta
    if name.startswith("binary") and w is not None:
        kw["weight"] = w
    if name == "binary_cross_entropy_with_logits" and pw is not None:
        kw["pos_weight"] = pw
    return fn(*args, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise(simd_level, name, reduction, dtype):
    for n in [0, 1, 15, 16, 17, 1023, 4097, 10**5 + 3]:
        x, y = pointwise_data(name, n, dtype)
        w = pw = None
        if name.startswith("binary") and n % 2 == 1:
            w = (RNG.random(n) + 0.5).astype(dtype)
        if name == "binary_cross_entropy_with_logits" and n % 2 == 1:
            pw = (RNG.random(n) * 3).astype(dtype)
        delta = 0.7
        l, d = ref_pointwise(name, x, y, w, pw, delta)
        g = RNG.standard_normal(n).astype(dtype) if reduction == "none" else dtype(0.75)
        rl, rg = reduce_ref(l, d, reduction, np.asarray(g, np.float64), n)
        kw = {"w": w, "pw": pw, "delta": delta, "reduction": reduction}
        loss = call_pointwise(name, "", x, y, **kw)
        grad = call_pointwise(name, "_backward", g, x, y, **kw)
        loss2, grad2 = call_pointwise(name, "_forward_backward", x, y, grad_output=g, **kw)
        scale = np.abs(l).sum() if reduction != "none" else None
        if reduction == "mean" and n:
            scale /= n
        check(loss, rl, dtype, scale)
        check(grad, rg, dtype)
        check(loss2, rl, dtype, scale)
        np.testing.assert_array_equal(grad2, grad)
        if reduction == "none":
            assert loss.shape == x.shape
        else:
            assert np.ndim(loss) == 0 and isinstance(loss, dtype)
        if n == 0 and reduction == "mean":
            assert np.isnan(loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_pointwise_edge_values(simd_level, name, dtype):
    x, y = pointwise_data(name, 40, dtype, edge=True)
    l, d = ref_pointwise(name, x, y)
    g = RNG.standard_normal(40).astype(dtype)
    with np.errstate(all="ignore"):
        check(getattr(fastnn, name)(x, y, reduction="none"), l, dtype)
        check(getattr(fastnn, name + "_backward")(g, x, y, reduction="none"), d * g, dtype)
    assert np.isnan(getattr(fastnn, name)(x, y, reduction="sum"))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_finite_differences(name):
    n = 13
    if name == "binary_cross_entropy":
        x = RNG.uniform(0.05, 0.95, n)
        y = RNG.random(n)
    else:
        x = RNG.standard_normal(n) * 2
        y = x + RNG.choice([-1, 1], n) * RNG.uniform(0.2, 3, n)  # away from kinks
    w = RNG.random(n) + 0.5 if name.startswith("binary") else None
    pw = RNG.random(n) * 3 if name == "binary_cross_entropy_with_logits" else None
    g = RNG.standard_normal(n)
    kw = {"w": w, "pw": pw, "delta": 1.3}

    def f(xv):
        return np.sum(g * call_pointwise(name, "", xv, y, reduction="none", **kw))

    h = 1e-6
    fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(n)])
    grad = call_pointwise(name, "_backward", g, x, y, reduction="none", **kw)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
    gs = call_pointwise(name, "_backward", 2.5, x, y, reduction="mean", **kw)
    np.testing.assert_allclose(gs, ref_pointwise(name, x, y, w, pw, 1.3)[1] * 2.5 / n, rtol=1e-13)


def test_bce_broadcast_weights():
    x = RNG.standard_normal((6, 4))
    y = RNG.random((6, 4))
    w = RNG.random(4) + 0.5
    pw = RNG.random(4) * 3
    l, d = ref_pointwise("binary_cross_entropy_with_logits", x, y, w, pw)
    loss, grad = fastnn.binary_cross_entropy_with_logits_forward_backward(
        x, y, w, reduction="sum", pos_weight=pw
    )
    np.testing.assert_allclose(loss, l.sum(), rtol=1e-13)
    np.testing.assert_allclose(grad, d, rtol=1e-13)
    p = RNG.uniform(0.01, 0.99, (6, 4))
    l, d = ref_pointwise("binary_cross_entropy", p, y, w)
    np.testing.assert_allclose(fastnn.binary_cross_entropy(p, y, w, "none"), l, rtol=1e-13)


# ------------------------------------------------------------------ class losses


def class_data(n, c, dtype, kind, huge=False):
    x = (RNG.standard_normal((n, c)) * 3).astype(dtype)
    if huge and n and c > 1:
        x[0, 0] = 1e4
        x[-1, :] = -1e4
        x[-1, -1] = 1e4
        x[n // 2, : c // 2] = 1e4
    if kind == "probs":
        t = RNG.random((n, c))
        t = (t / t.sum(1, keepdims=True)).astype(dtype)
    else:
        t = RNG.integers(0, c, n)
        if kind == "ignore" and n:
            t[::3] = -100 if n % 2 else 2  # default and a valid-class ignore_index
    return x, t


CLASS_CASES = [(0, 5), (1, 1), (7, 5), (64, 10), (300, 37), (9, 5000)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["labels", "ignore", "probs", "nll"])
def test_class_losses(simd_level, kind, reduction, dtype):
    for n, c in CLASS_CASES:
        x, t = class_data(n, c, dtype, "labels" if kind == "nll" else kind, huge=True)
        ii = 2 if (kind == "ignore" and n % 2 == 0) else -100
        for weighted, eps in [(False, 0.0), (True, 0.0), (False, 0.1), (True, 0.25)]:
            if kind == "nll" and eps:
                continue
            w = (RNG.random(c) + 0.5).astype(dtype) if weighted else None
            logits = kind != "nll"
            l, d, denom = ref_class(x, t, w, ii, eps, logits)
            g = RNG.standard_normal(n).astype(dtype) if reduction == "none" else dtype(1.5)
            rl, rg = reduce_ref(l, d, reduction, np.asarray(g, np.float64), denom)
            if logits:
                kw = {
                    "weight": w,
                    "ignore_index": ii,
                    "reduction": reduction,
                    "label_smoothing": eps,
                }
                name = "cross_entropy"
            else:
                kw = {"weight": w, "ignore_index": ii, "reduction": reduction}
                name = "nll_loss"
            loss = getattr(fastnn, name)(x, t, **kw)
            grad = getattr(fastnn, name + "_backward")(g, x, t, **kw)
            loss2, grad2 = getattr(fastnn, name + "_forward_backward")(x, t, grad_output=g, **kw)
            scale = np.abs(l).sum() / (denom if reduction == "mean" and denom else 1)
            check(loss, rl, dtype, None if reduction == "none" else scale)
            check(grad, rg, dtype)
            check(loss2, rl, dtype, None if reduction == "none" else scale)
            np.testing.assert_array_equal(grad2, grad)
            if n == 0 and reduction == "mean":
                assert np.isnan(loss)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_unbatched_and_label_dtypes(dtype):
    x = RNG.standard_normal(6).astype(dtype)
    for r in REDUCTIONS:
        a = fastnn.cross_entropy(x, 4, reduction=r)
        b = fastnn.cross_entropy(x[None], np.array([4]), reduction=r)
        assert np.shape(a) == ()
        np.testing.assert_array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
        g = np.asarray(2.0, dtype)
        np.testing.assert_array_equal(
            fastnn.cross_entropy_backward(g, x, 4, reduction=r),
            fastnn.cross_entropy_backward(
                g.reshape(1) if r == "none" else g, x[None], np.array([4]), reduction=r
            )[0],
        )
    p = np.full(6, 1 / 6, dtype)
    np.testing.assert_allclose(
        fastnn.cross_entropy(x, p), ref_class(x[None], p[None])[0][0], rtol=tol(dtype)
    )
    xb = RNG.standard_normal((5, 7)).astype(dtype)
    t = np.array([0, 6, 3, 2, 1])
    ref = fastnn.cross_entropy(xb, t)
    for dt in [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.uint64]:
        assert fastnn.cross_entropy(xb, t.astype(dt)) == ref
        assert fastnn.nll_loss(xb, t.astype(dt)) == fastnn.nll_loss(xb, t)
    assert fastnn.cross_entropy(xb, list(t)) == ref


def test_class_finite_differences():
    n, c = 6, 5
    x = RNG.standard_normal((n, c))
    t = np.array([0, 4, -100, 2, 2, 1])
    p = RNG.random((n, c))
    p /= p.sum(1, keepdims=True)
    w = RNG.random(c) + 0.5
    g = RNG.standard_normal(n)
    h = 1e-6
    for fn, tgt, kw in [
        ("cross_entropy", t, {"weight": w, "label_smoothing": 0.2}),
        ("cross_entropy", p, {"weight": w, "label_smoothing": 0.1}),
        ("nll_loss", t, {"weight": w}),
    ]:
        for r, gg in [("none", g), ("mean", 0.7), ("sum", -1.2)]:

            def f(xv, gg=gg, fn=fn, tgt=tgt, r=r, kw=kw):
                return np.sum(np.asarray(gg) * getattr(fastnn, fn)(xv, tgt, reduction=r, **kw))

            fd = np.array(
                [
                    (f(x + h * e) - f(x - h * e)) / (2 * h)
                    for e in np.eye(n * c).reshape(n * c, n, c)
                ]
            ).reshape(n, c)
            grad = getattr(fastnn, fn + "_backward")(gg, x, tgt, reduction=r, **kw)
            np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_cross_entropy_extremes():
    # Huge logits stay finite; NaN / inf logits give NaN rows like torch; all ignored -> nan.
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e38, 0, 0]], np.float32)
    l = fastnn.cross_entropy(x, np.array([1, 2, 0]), reduction="none")
    np.testing.assert_allclose(l, [2e4, np.log(3), 0.0], rtol=1e-7)
    grad = fastnn.cross_entropy_backward(1.0, x, np.array([1, 2, 0]), reduction="sum")
    np.testing.assert_allclose(grad, [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3], [0, 0, 0]], atol=1e-7)
    xn = np.array([[np.nan, 0.0], [np.inf, 0.0], [1.0, 2.0]])
    l = fastnn.cross_entropy(xn, np.array([0, 1, 1]), reduction="none")
    assert np.isnan(l[0]) and np.isnan(l[1]) and np.isfinite(l[2])
    assert np.isnan(fastnn.cross_entropy(x, np.full(3, -100)))
    assert fastnn.cross_entropy(x, np.full(3, -100), reduction="sum") == 0
    np.testing.assert_array_equal(
        fastnn.cross_entropy_backward(1.0, x, np.full(3, -100), reduction="sum"), 0
    )


# ------------------------------------------------------------------ determinism, out=


def test_threads_bitwise(threads):
    n = 3 * 10**5 + 7
    x = RNG.standard_normal(n)
    y = RNG.random(n)
    xc, tc = class_data(2000, 100, np.float32, "ignore")
    pc = class_data(2000, 100, np.float64, "probs")[1]
    results = []
    for nt in (1, 2):
        fastnn.set_num_threads(nt)
        r = [
            fastnn.mse_loss_forward_backward(x, y),
            fastnn.mse_loss(x.astype(np.float32), y.astype(np.float32)),
            fastnn.binary_cross_entropy_with_logits_forward_backward(x, y, reduction="sum"),
            fastnn.binary_cross_entropy(y, y[::-1].copy()),
            fastnn.cross_entropy_forward_backward(xc, tc, label_smoothing=0.1),
            fastnn.cross_entropy_forward_backward(xc.astype(np.float64), pc, reduction="sum"),
            fastnn.nll_loss_forward_backward(xc, tc),
        ]
        results.append(
            [
                np.asarray(a).tobytes()
                for item in r
                for a in (item if isinstance(item, tuple) else (item,))
            ]
        )
    assert results[0] == results[1]


def test_out_in_place():
    x = RNG.standard_normal((8, 5))
    t = RNG.integers(0, 5, 8)
    out = np.empty_like(x)
    _loss, grad = fastnn.cross_entropy_forward_backward(x, t, out=out)
    assert np.shares_memory(grad, out)
    np.testing.assert_array_equal(out, fastnn.cross_entropy_backward(1.0, x, t))
    y = RNG.standard_normal((8, 5))
    g = fastnn.mse_loss_backward(1.0, x, y, out=x)  # in place over the input
    assert np.shares_memory(g, x)


# ------------------------------------------------------------------ bad inputs


def test_bad_inputs():
    x = RNG.standard_normal((4, 5))
    t = np.array([0, 1, 2, 4])
    out = np.full_like(x, 7.0)
    with pytest.raises(
        ValueError, match="target contains class index 7 out of range for 5 classes"
    ):
        fastnn.cross_entropy_forward_backward(x, np.array([0, 7, 1, 1]), out=out)
    with pytest.raises(ValueError, match="out of range"):
        fastnn.nll_loss_backward(1.0, x, np.array([0, -1, 1, 1]), out=out)
    assert (out == 7.0).all()
    with pytest.raises(ValueError, match="reduction"):
        fastnn.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        fastnn.mse_loss(x, x, reduction="Mean")
    with pytest.raises(ValueError, match="target"):
        fastnn.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="target"):
        fastnn.cross_entropy(x, t.astype(np.float64))  # float class indices
    with pytest.raises(TypeError, match="target"):
        fastnn.cross_entropy(x, np.zeros((4, 5), np.int64))  # integer probabilities
    with pytest.raises(TypeError, match="target"):
        fastnn.cross_entropy(x, np.zeros((4, 5), np.float32))  # dtype mismatch
    with pytest.raises(TypeError, match="input"):
        fastnn.cross_entropy(t, t)
    with pytest.raises(ValueError, match="input"):
        fastnn.cross_entropy(np.zeros((2, 3, 4)), np.zeros(2, int))
    with pytest.raises(ValueError, match="weight"):
        fastnn.cross_entropy(x, t, weight=np.ones(4))
    with pytest.raises(TypeError, match="weight"):
        fastnn.cross_entropy(x, t, weight=np.ones(5, np.float32))
    with pytest.raises(ValueError, match="label_smoothing"):
        fastnn.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index"):
        fastnn.cross_entropy(x, np.full((4, 5), 0.2), ignore_index=1)
    with pytest.raises(ValueError, match="grad_output"):
        fastnn.cross_entropy_backward(np.ones(4), x, t)  # mean needs a scalar
    with pytest.raises(ValueError, match="grad_output"):
        fastnn.cross_entropy_backward(np.ones(3), x, t, reduction="none")
    with pytest.raises(ValueError, match="grad_output"):
        fastnn.mse_loss_backward(np.ones(3), x, x, reduction="none")
    # pointwise
    with pytest.raises(ValueError, match="target has shape"):
        fastnn.mse_loss(x, x[:, :4])
    with pytest.raises(TypeError, match="target"):
        fastnn.l1_loss(x, x.astype(np.float32))
    with pytest.raises(TypeError, match="input"):
        fastnn.mse_loss(x.astype(np.int32), x)
    with pytest.raises(ValueError, match="delta"):
        fastnn.huber_loss(x, x, delta=0.0)
    p = RNG.random((4, 5))
    bad = p.copy()
    bad[1, 2] = 1.5
    with pytest.raises(ValueError, match="input should be between 0 and 1"):
        fastnn.binary_cross_entropy_backward(1.0, bad, p, out=out)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="input should be between 0 and 1"):
        fastnn.binary_cross_entropy(bad, p)
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        fastnn.binary_cross_entropy_forward_backward(p, bad, out=out)
    with pytest.raises(ValueError, match="weight"):
        fastnn.binary_cross_entropy_with_logits(x, p, weight=np.ones(3))
    with pytest.raises(ValueError, match="pos_weight"):
        fastnn.binary_cross_entropy_with_logits(x, p, pos_weight=np.ones(4))
    assert (out == 7.0).all()
    # out=
    with pytest.raises(ValueError, match="out"):
        ro = np.empty_like(x)
        ro.flags.writeable = False
        fastnn.mse_loss_backward(1.0, x, p, out=ro)
    with pytest.raises(TypeError, match="out"):
        fastnn.cross_entropy_backward(1.0, x, t, out=np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="out"):
        fastnn.cross_entropy_backward(1.0, x, t, out=np.empty((5, 4)))
    with pytest.raises(ValueError, match="out"):
        fastnn.cross_entropy_backward(1.0, x, t, out=np.empty((4, 10))[:, ::2])
    buf = np.zeros(40)
    with pytest.raises(ValueError, match="overlap"):
        fastnn.mse_loss_backward(1.0, buf[:20].reshape(4, 5), p, out=buf[5:25].reshape(4, 5))


def test_class_loss_out_is_not_target_or_weight():
    # A row's gradient is written while the target probabilities and the class weights are still
    # read: out=target used to return [-0.5, 0.5] here instead of [0, 0] (found by test_fuzz).
    x, probs = np.zeros(2, np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="out shares memory with target"):
        fastnn.cross_entropy_backward(1.0, x, probs, reduction="sum", out=probs)
    assert not probs.any()
    x3, w = np.linspace(-1, 1, 3), np.ones(3)
    with pytest.raises(ValueError, match="out shares memory with weight"):
        fastnn.cross_entropy_forward_backward(x3, np.array(1), weight=w, out=w)
    with pytest.raises(ValueError, match="out shares memory with weight"):
        fastnn.nll_loss_backward(1.0, x3, np.array(1), weight=w, out=w)
    assert (w == 1.0).all()
    # In place on the input itself stays allowed, and exact.
    x = RNG.standard_normal((4, 5))
    probs = RNG.random((4, 5))
    for t in (np.array([0, 1, 2, 4]), probs):
        ref = fastnn.cross_entropy_backward(1.0, x, t, label_smoothing=0.1)
        xi = x.copy()
        assert fastnn.cross_entropy_backward(1.0, xi, t, label_smoothing=0.1, out=xi) is xi
        np.testing.assert_array_equal(xi, ref)


# ------------------------------------------------------------------ torch


def torch_grad(fn, x, *args, reduction, g, **kw):
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    conv = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    out = fn(xt, *conv, reduction=reduction, **kw)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_against_torch(reduction, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, c = 33, 7
    x = RNG.standard_normal((n, c)).astype(dtype)
    y = RNG.standard_normal((n, c)).astype(dtype)
    p = RNG.random((n, c)).astype(dtype)
    p[0, :3] = [0.0, 1.0, 0.0]
    q = RNG.random((n, c)).astype(dtype)
    q[0, :3] = [1.0, 0.0, 0.0]
    w = (RNG.random(c) + 0.5).astype(dtype)
    pw = (RNG.random(c) * 3).astype(dtype)
    t = RNG.integers(0, c, n)
    t[::4] = -100
    probs = q / q.sum(1, keepdims=True)
    g_el = RNG.standard_normal((n, c)).astype(dtype)
    g_row = RNG.standard_normal(n).astype(dtype)
    gs = np.asarray(0.6, dtype)
    cases = [
        ("mse_loss", F.mse_loss, x, (y,), {}, {}),
        ("l1_loss", F.l1_loss, x, (y,), {}, {}),
        ("huber_loss", F.huber_loss, x, (y,), {"delta": 0.8}, {"delta": 0.8}),
        ("binary_cross_entropy", F.binary_cross_entropy, p, (q,), {"weight": w}, {"weight": w}),
        (
            "binary_cross_entropy_with_logits",
            F.binary_cross_entropy_with_logits,
            x * 100,
            (q,),
            {"weight": w, "pos_weight": pw},
            {"weight": w, "pos_weight": pw},
        ),
        (
            "cross_entropy",
            F.cross_entropy,
            x * 1000,
            (t,),
            {"weight": w, "label_smoothing": 0.15},
            {"weight": w, "label_smoothing": 0.15},
        ),
        (
            "cross_entropy",
            F.cross_entropy,
            x,
            (probs,),
            {"label_smoothing": 0.1},
            {"label_smoothing": 0.1},
        ),
        ("cross_entropy", F.cross_entropy, x, (t,), {}, {}),
        ("nll_loss", F.nll_loss, x, (t,), {"weight": w}, {"weight": w}),
    ]
    for name, tfn, xi, args, kw, tkw in cases:
        per_row = name in ("cross_entropy", "nll_loss")
        g = (g_row if per_row else g_el) if reduction == "none" else gs
        tl, tg = torch_grad(tfn, xi, *args, reduction=reduction, g=g, **tkw)
        loss = getattr(fastnn, name)(xi, *args, reduction=reduction, **kw)
        grad = getattr(fastnn, name + "_backward")(g, xi, *args, reduction=reduction, **kw)
        rt = 2e-5 if dtype == np.float32 else 1e-10
        sc = np.abs(tl).max() if np.size(tl) else 1
        np.testing.assert_allclose(loss, tl, rtol=rt, atol=rt * sc, err_msg=name)
        np.testing.assert_allclose(grad, tg, rtol=rt, atol=rt * np.abs(tg).max(), err_msg=name)
