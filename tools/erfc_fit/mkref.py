import numpy as np, mpmath as mp
from multiprocessing import Pool

rng = np.random.default_rng(12345)


def pts_erfc():
    parts = []
    parts.append(rng.uniform(-6, 27, 1_400_000))
    parts.append(np.linspace(-6, 27, 200_001))
    m = 10 ** rng.uniform(-310, 0, 300_000)
    parts.append(m * np.where(rng.random(m.size) < 0.5, -1, 1))
    parts.append(rng.uniform(-0.52, 0.52, 50_000) + 0)  # around the 0.5 switch
    parts.append(rng.uniform(0.48, 0.52, 25_000))
    parts.append(-rng.uniform(0.48, 0.52, 25_000))
    parts.append(rng.uniform(25.5, 27.5, 50_000))
    # neighbours of the switch
    s = []
    for v in [0.5, -0.5, 27.5, -27.5, 26.5]:
        a = v
        for k in range(50):
            s.append(a)
            a = np.nextafter(a, np.inf)
        a = v
        for k in range(50):
            s.append(a)
            a = np.nextafter(a, -np.inf)
    parts.append(np.array(s))
    x = np.concatenate(parts)
    return x


def ref_erfc(xs):
    mp.mp.dps = 40
    out = np.empty((len(xs), 2))
    for i, x in enumerate(xs):
        v = mp.erfc(mp.mpf(float(x)))
        hi = float(v)
        lo = float(v - hi) if mp.isfinite(v) else 0.0
        out[i] = hi, lo
    return out


def ref_gelu(xs):
    mp.mp.dps = 40
    out = np.empty((len(xs), 2))
    for i, x in enumerate(xs):
        X = mp.mpf(float(x))
        v = X * mp.erfc(-X / mp.sqrt(2)) / 2
        hi = float(v)
        lo = float(v - hi)
        out[i] = hi, lo
    return out


if __name__ == "__main__":
    x = pts_erfc()
    g = np.concatenate([rng.uniform(-38, 10, 400_000), np.linspace(-38, 10, 100_001)])
    with Pool(2) as p:
        r = np.concatenate(p.map(ref_erfc, np.array_split(x, 40)))
        rg = np.concatenate(p.map(ref_gelu, np.array_split(g, 20)))
    x.tofile("x_erfc.bin")
    g.tofile("x_gelu.bin")
    np.save("ref_erfc.npy", r)
    np.save("ref_gelu.npy", rg)
    print(len(x), len(g))
