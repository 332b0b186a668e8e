import mpmath as mp, sys, pickle

mp.mp.dps = 40
Z = mp.mpf(sys.argv[2]) if len(sys.argv) > 2 else mp.mpf("0.25")


def f(z):
    x = mp.sqrt(z)
    return mp.erf(x) / x if z != 0 else 2 / mp.sqrt(mp.pi)


def fit(d, N=200, lawson=30):
    zs = [(1 + mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N)) / 2 * Z for k in range(N)]
    F = [f(z) for z in zs]
    w = [mp.mpf(1)] * N
    best = None
    for it in range(lawson):
        A = mp.matrix(N, d + 1)
        r = mp.matrix(N, 1)
        for i in range(N):
            W = mp.sqrt(w[i]) / F[i]
            for j in range(d + 1):
                A[i, j] = zs[i] ** j * W
            r[i] = F[i] * W
        x, _ = mp.qr_solve(A, r)
        c = [x[j] for j in range(d + 1)]
        err = [mp.polyval(c[::-1], zs[i]) / F[i] - 1 for i in range(N)]
        E = max(abs(e) for e in err)
        if best is None or E < best[0]:
            best = (E, c)
        w = [w[i] * abs(err[i]) for i in range(N)]
        mx = max(w)
        w = [v / mx for v in w]
    return best


d = int(sys.argv[1])
E, c = fit(d)
cd = [mp.mpf(float(v)) for v in c]
Ed = max(
    abs(mp.polyval(cd[::-1], z) / f(z) - 1) for z in [Z * mp.mpf(i) / 3000 for i in range(3001)]
)
print(d, "fit %.2e rounded %.2e" % (float(E), float(Ed)), [float(v) for v in c], flush=True)
pickle.dump([str(v) for v in c], open(f"erf_{d}.pkl", "wb"))
