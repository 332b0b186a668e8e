"""Fit G(t) = Phi(-t) exp(t^2/2) = 0.5 erfcx(t/sqrt2) on [0, T] by a rational P/Q (Q(0)=1) for the
float32 GELU (activation_functors.h Gelu::tail_f). Relative-error Lawson-weighted linearized least
squares (Sanathanan-Koerner) against scipy erfcx. Usage: python fit_phi_tail.py 5 6 14.5"""

import sys

import numpy as np
from scipy import special

np.set_printoptions(precision=17)
n, m, T = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
N = 4000
k = np.arange(N)
t = (np.cos(np.pi * (k + 0.5) / N) + 1) / 2 * T
t = np.sort(t)
F = 0.5 * special.erfcx(t / np.sqrt(2))


def fit(t, F, n, m, iters=60):
    w = np.ones_like(t)
    q = np.ones_like(t)
    best = None
    sc = T / 2  # scale variable to [0,2] for conditioning
    u = t / sc
    for it in range(iters):
        A = np.concatenate(
            [u[:, None] ** np.arange(n + 1), -(F[:, None]) * u[:, None] ** np.arange(1, m + 1)], 1
        )
        W = np.sqrt(w) / (np.abs(q) * F)
        sol, *_ = np.linalg.lstsq(A * W[:, None], F * W, rcond=None)
        p = sol[: n + 1]
        qq = np.concatenate([[1.0], sol[n + 1 :]])
        q = np.polyval(qq[::-1], u)
        err = np.polyval(p[::-1], u) / q / F - 1
        E = np.abs(err).max()
        if best is None or E < best[0]:
            best = (E, p / sc ** np.arange(n + 1), qq / sc ** np.arange(m + 1))
        if it > 5:
            w = w * np.abs(err)
            w /= w.max()
    return best


E, p, q = fit(t, F, n, m)
print("fit rel err", E)
# round to float32 and evaluate in float32 Horner (with fma emulated in float64 then rounded)
pf = p.astype(np.float32)
qf = q.astype(np.float32)


def horner32(c, x):
    r = np.full_like(x, c[-1])
    for cc in c[-2::-1]:
        r = (r.astype(np.float64) * x.astype(np.float64) + np.float64(cc)).astype(np.float32)
    return r


tt = np.linspace(0, T, 2000001).astype(np.float32)
Ft = 0.5 * special.erfcx(tt.astype(np.float64) / np.sqrt(2))
exact_coef = np.polyval(pf.astype(np.float64)[::-1], tt.astype(np.float64)) / np.polyval(
    qf.astype(np.float64)[::-1], tt.astype(np.float64)
)
print(
    "rel err float32 coefs (exact eval)", np.abs(exact_coef / Ft - 1).max() / 2**-24, "ulp(2^-24)"
)
Pv = horner32(pf, tt)
Qv = horner32(qf, tt)
G = (Pv / Qv).astype(np.float32)
print("rel err float32 eval", np.abs(G.astype(np.float64) / Ft - 1).max() / 2**-24, "x 2^-24")
print("signs p", np.sign(pf), "q", np.sign(qf))
print("P =", ", ".join(f"{float(c).hex()}" for c in pf))
print("Q =", ", ".join(f"{float(c).hex()}" for c in qf))
print("P =", ", ".join(repr(float(c)) for c in pf))
print("Q =", ", ".join(repr(float(c)) for c in qf))
rel = G.astype(np.float64) / Ft - 1
relP = Pv / np.polyval(pf.astype(np.float64)[::-1], tt.astype(np.float64)) - 1
relQ = Qv / np.polyval(qf.astype(np.float64)[::-1], tt.astype(np.float64)) - 1
for lo in [0, 0.5, 1, 2, 4, 8, 12]:
    s = (tt >= lo) & (tt < lo * 2 + 0.5)
    print(
        f"t in [{lo},{lo * 2 + 0.5}): G {np.abs(rel[s]).max() / 2**-24:.2f}  P {np.abs(relP[s]).max() / 2**-24:.2f}  Q {np.abs(relQ[s]).max() / 2**-24:.2f}"
    )
