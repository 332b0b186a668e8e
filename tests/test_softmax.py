"""softmax / log_softmax against float64 NumPy references, every axis, forward and backward."""

import fastnn
import numpy as np
import pytest
from scipy import special


def ref_softmax(x, axis):
    return special.softmax(x.astype(np.float64), axis=axis)


def ref_log_softmax(x, axis):
    return special.log_softmax(x.astype(np.float64), axis=axis)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-7), (np.float64, 1e-14)])
@pytest.mark.parametrize(
    "shape,axis",
    [
        ((7, 10), -1),
        ((7, 10), 0),
        ((3, 5, 17), 1),
        ((33,), 0),
        ((2, 3, 4), 2),
        ((64, 1000), -1),
        ((4, 1), -1),
        ((37, 10), -1),  # row tiles of 16 (softmax_tile) and a partial one
        ((40, 32), -1),  # the longest rows tiled
        ((19, 33), -1),  # the shortest rows on the row path
    ],
)
def test_forward_backward(simd_level, dtype, tol, shape, axis):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    y = fastnn.softmax(x, axis=axis)
    np.testing.assert_allclose(y, ref_softmax(x, axis), rtol=tol * 4, atol=tol * 1e-3)
    ly = fastnn.log_softmax(x, axis)
    np.testing.assert_allclose(ly, ref_log_softmax(x, axis), rtol=tol * 4, atol=tol * 4)
    g = rng.standard_normal(shape).astype(dtype)
    y64, g64 = ref_softmax(x, axis), g.astype(np.float64)
    want = y64 * (g64 - (g64 * y64).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(
        fastnn.softmax_backward(g, y, axis),
        want,
        rtol=1e-4 if dtype == np.float32 else 1e-10,
        atol=tol * 10,
    )
    want_log = g64 - y64 * g64.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(
        fastnn.log_softmax_backward(g, ly, axis),
        want_log,
        rtol=1e-4 if dtype == np.float32 else 1e-10,
        atol=tol * 10,
    )


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6))
    g = rng.standard_normal((3, 6))
    for fwd, bwd in (
        (fastnn.softmax, fastnn.softmax_backward),
        (fastnn.log_softmax, fastnn.log_softmax_backward),
    ):
        analytic = bwd(g, fwd(x))
        num = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            num[i] = ((fwd(xp) - fwd(xm)) * g).sum() / (2 * h)
        np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-8)


def test_extreme_values_and_specials():
    x = np.array(
        [[1e4, -1e4, 0.0], [-np.inf, 0.0, 1.0], [np.nan, 1.0, 2.0], [5.0, 5.0, 5.0]], np.float32
    )
    y = fastnn.softmax(x)
    np.testing.assert_allclose(y[0], [1, 0, 0])
    np.testing.assert_allclose(y[1], ref_softmax(x[1:2], -1)[0], rtol=1e-6)
    assert np.isnan(y[2]).all()  # NaN in a row poisons the row, as torch
    np.testing.assert_allclose(y[3], [1 / 3] * 3, rtol=1e-7)
    ly = fastnn.log_softmax(x)
    np.testing.assert_allclose(ly[0], [0, -2e4, -1e4], rtol=1e-7)
    assert ly[1, 0] == -np.inf
    assert np.isnan(fastnn.log_softmax(np.array([[np.inf, 0.0]]))).all()  # as torch: NaN row


def test_in_place_empty_and_zero_d(simd_level):
    x = np.random.default_rng(2).standard_normal((5, 9)).astype(np.float32)
    want = fastnn.softmax(x)
    res = fastnn.softmax(x, out=x)
    assert res is x
    np.testing.assert_array_equal(x, want)
    assert fastnn.softmax(np.empty((0, 4))).shape == (0, 4)
    assert fastnn.softmax(np.empty((4, 0))).shape == (4, 0)
    assert fastnn.softmax(np.array(3.0)) == 1.0


def test_threads_bitwise(threads):
    x = np.random.default_rng(3).standard_normal((5000, 37)).astype(np.float32)
    res = []
    for t in (1, 2):
        fastnn.set_num_threads(t)
        res.append((fastnn.softmax(x), fastnn.log_softmax(x, axis=0)))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


def test_bad_input():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        fastnn.softmax(x, axis=2)
    with pytest.raises(TypeError, match="x must be a float32 or float64"):
        fastnn.softmax(np.ones((2, 3), int))
    with pytest.raises(ValueError, match="y has shape"):
        fastnn.softmax_backward(x, np.ones((3, 2)))
    with pytest.raises(ValueError, match="out must have shape"):
        fastnn.log_softmax(x, out=np.ones(6))
