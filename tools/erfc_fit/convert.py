import mpmath as mp, pickle, sys

mp.mp.dps = 40
from numpy.polynomial import polynomial as NP
import numpy as np

n, m, c, p, qq = pickle.load(open(sys.argv[1], "rb"))
p = [mp.mpf(v) for v in p]
qq = [mp.mpf(v) for v in qq]
a, b = mp.mpf("0.5"), mp.mpf(28)
c = mp.mpf(c)
ua, ub = (a - c) / (a + c), (b - c) / (b + c)
k = 2 / (ub - ua)
A = k - k * ua - 1
B = -k * c - (k * ua + 1) * c


def pmul(x, y):
    r = [mp.mpf(0)] * (len(x) + len(y) - 1)
    for i, xi in enumerate(x):
        for j, yj in enumerate(y):
            r[i + j] += xi * yj
    return r


def padd(x, y):
    L = max(len(x), len(y))
    x = x + [mp.mpf(0)] * (L - len(x))
    y = y + [mp.mpf(0)] * (L - len(y))
    return [u + v for u, v in zip(x, y)]


N = [B, A]
D = [c, mp.mpf(1)]
D2 = pmul(D, D)
H = [[mp.mpf(1)], N]
for j in range(1, max(n, m)):
    H.append(padd(pmul([2 * B, 2 * A], H[j]), [-v for v in pmul(D2, H[j - 1])]))


def Dpow(e):
    r = [mp.mpf(1)]
    for _ in range(e):
        r = pmul(r, D)
    return r


deg = max(n, m)
Pt = [mp.mpf(0)]
Qt = [mp.mpf(0)]
for j in range(n + 1):
    Pt = padd(Pt, [p[j] * v for v in pmul(H[j], Dpow(deg - j))])
for j in range(m + 1):
    Qt = padd(Qt, [qq[j] * v for v in pmul(H[j], Dpow(deg - j))])
s = Qt[0]
Pt = [v / s for v in Pt]
Qt = [v / s for v in Qt]
for i, v in enumerate(Pt):
    print("P%d %s" % (i, mp.nstr(v, 20)))
for i, v in enumerate(Qt):
    print("Q%d %s" % (i, mp.nstr(v, 20)))
pickle.dump(
    ([str(v) for v in Pt], [str(v) for v in Qt]), open(sys.argv[1].replace("fit_", "tpoly_"), "wb")
)
# check in mp with double-rounded coeffs
Pd = [mp.mpf(float(v)) for v in Pt]
Qd = [mp.mpf(float(v)) for v in Qt]
E = 0
Et = None
for i in range(2000):
    t = a + (b - a) * mp.mpf(i) / 1999
    r = mp.polyval(Pd[::-1], t) / mp.polyval(Qd[::-1], t)
    e = abs(r / (mp.erfc(t) * mp.exp(t * t)) - 1)
    if e > E:
        E, Et = e, t
print("rounded-coef exact-arith max rel err %.3e at t=%s" % (float(E), mp.nstr(Et, 6)))
