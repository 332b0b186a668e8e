import mpmath as mp, numpy as np, sys, pickle

mp.mp.dps = 40
a, b = mp.mpf("0.5"), mp.mpf(28)


def make_map(c):
    c = mp.mpf(c)
    ua, ub = (a - c) / (a + c), (b - c) / (b + c)

    def tof(s):
        u = (s + 1) / 2 * (ub - ua) + ua
        return c * (1 + u) / (1 - u)

    return tof


def erfcx(t):
    return mp.erfc(t) * mp.exp(t * t)


def cheb(s, n):
    T = [mp.mpf(1), s]
    for k in range(2, n + 1):
        T.append(2 * s * T[-1] - T[-2])
    return T[: n + 1]


def fit(n, m, c, N=None, iters=6, lawson=15):
    N = N or 6 * (n + m) + 60
    tof = make_map(c)
    S = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N) for k in range(N)]
    F = [erfcx(tof(s)) for s in S]
    TP = [cheb(s, max(n, m)) for s in S]
    q = [mp.mpf(1)] * N
    w = [mp.mpf(1)] * N
    best = None
    for it in range(iters + lawson):
        A = mp.matrix(N, n + m + 1)
        r = mp.matrix(N, 1)
        for i in range(N):
            W = mp.sqrt(w[i]) / (abs(q[i]) * F[i])
            for j in range(n + 1):
                A[i, j] = TP[i][j] * W
            for j in range(1, m + 1):
                A[i, n + j] = -TP[i][j] * F[i] * W
            r[i] = F[i] * W
        x, res = mp.qr_solve(A, r)
        p = [x[j] for j in range(n + 1)]
        qq = [mp.mpf(1)] + [x[n + j] for j in range(1, m + 1)]
        q = [mp.fsum(qq[j] * TP[i][j] for j in range(m + 1)) for i in range(N)]
        err = [mp.fsum(p[j] * TP[i][j] for j in range(n + 1)) / q[i] / F[i] - 1 for i in range(N)]
        E = max(abs(e) for e in err)
        if best is None or E < best[0]:
            best = (E, p, qq)
        if it >= iters - 1:
            w = [w[i] * abs(err[i]) for i in range(N)]
            mx = max(w)
            w = [x / mx for x in w]
    return best, tof


if __name__ == "__main__":
    n, m, c = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    (E, p, qq), tof = fit(n, m, c)
    # dense check in mp at 3000 pts
    ss = [mp.mpf(-1) + 2 * mp.mpf(k) / 2999 for k in range(3000)]

    def R(s):
        T = cheb(s, max(n, m))
        return mp.fsum(p[j] * T[j] for j in range(n + 1)) / mp.fsum(
            qq[j] * T[j] for j in range(m + 1)
        )

    Ed = max(abs(R(s) / erfcx(tof(s)) - 1) for s in ss)
    print(n, m, c, "node err %.2e dense %.2e" % (float(E), float(Ed)), flush=True)
    pickle.dump(
        (n, m, c, [str(v) for v in p], [str(v) for v in qq]), open(f"fit_{n}_{m}_{c}.pkl", "wb")
    )
