"""Minimax (Lawson) fits for the float32 polynomials in simd_math.h / activation_functors.h:
expm1 on |r| <= ln2/2 (expm1_reduced_f4) and 2 atanh(s) / (2s) - 1 on w = s^2 in [0, 1/9]
(softplus). Prints the error and the float32 coefficients. Run: python tools/fit_float_polys.py"""

import mpmath as mp
import numpy as np

mp.mp.dps = 30


def lawson(xs, f, basis, w0, iters=200):
    # minimize max |(sum c_j basis_j(x)) - f(x)| * w0(x) via Lawson iterations
    A = np.array([[b(x) for b in basis] for x in xs])
    F = np.array([f(x) for x in xs])
    W0 = np.array([w0(x) for x in xs])
    w = np.ones(len(xs)) / len(xs)
    best = None
    for it in range(iters):
        sw = np.sqrt(w) * W0
        c, *_ = np.linalg.lstsq(A * sw[:, None], F * sw, rcond=None)
        err = (A @ c - F) * W0
        E = np.abs(err).max()
        if best is None or E < best[0]:
            best = (E, c)
        w = w * np.abs(err)
        w /= w.sum()
    return best


N = 3000
# exp: expm1(r) = r + r^2 * P(r), |r| <= ln2/2, relative to expm1(r)... use weight 1/exp(r) (error in exp)
h = np.log(2) / 2 * 1.0001
xs = np.cos(np.pi * (np.arange(N) + 0.5) / N) * h
xs = xs[np.abs(xs) > 1e-6]
for deg in [4, 5]:
    E, c = lawson(
        xs,
        lambda r: float((mp.expm1(r) - r) / r**2),
        [lambda r, j=j: r**j for j in range(deg + 1)],
        lambda r: r * r / np.exp(r),
    )
    print(
        "exp P deg",
        deg,
        "abs err of exp",
        E,
        "=",
        E / 2**-24,
        "units",
        [float(np.float32(v)).hex() for v in c],
    )
# atanh: 2 atanh(s) = 2s (1 + w Q(w)), w = s^2 in [0, 1/9]
ws = (np.cos(np.pi * (np.arange(N) + 0.5) / N) + 1) / 2 / 9
ws = ws[ws > 1e-9]
for deg in [3, 4, 5]:
    E, c = lawson(
        ws,
        lambda w: float((mp.atanh(mp.sqrt(w)) / mp.sqrt(w) - 1) / w),
        [lambda w, j=j: w**j for j in range(deg + 1)],
        lambda w: w / (1 + w / 3),
    )
    print(
        "atanh Q deg",
        deg,
        "rel err",
        E,
        "=",
        E / 2**-24,
        "units",
        [float(np.float32(v)).hex() for v in c],
    )
