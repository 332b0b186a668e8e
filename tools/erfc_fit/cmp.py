import numpy as np, sys

x = np.fromfile("x_erfc.bin")
r = np.load("ref_erfc.npy")
y = np.fromfile("y_erfc.bin")
TINY = 2.2250738585072014e-308
ok = r[:, 0] >= TINY
rel = np.where(ok, ((y - r[:, 0]) - r[:, 1]) / np.where(ok, r[:, 0], 1), 0)
a = np.abs(rel)
i = np.argmax(a)
print(
    "erfc: N=%d (normal results %d) max|rel|=%.3e at x=%.17g (ref %.6e) ; rms=%.2e"
    % (len(x), ok.sum(), a[i], x[i], r[i, 0], np.sqrt(np.mean(rel[ok] ** 2)))
)
for lo, hi in [
    (-6, -0.5),
    (-0.5, 0),
    (0, 0.5),
    (0.5, 2),
    (2, 6),
    (6, 15),
    (15, 26.5),
    (26.5, 26.54),
]:
    s = ok & (x >= lo) & (x < hi)
    j = np.argmax(np.where(s, a, 0))
    print("  [%6g,%6g): max %.2e at %.17g  (%.2f ulp-ish)" % (lo, hi, a[j], x[j], a[j] / 2**-53))
sub = ~ok & (x < 28) & (x > 26)
d = np.abs(y[sub] - r[sub, 0]) / 4.9406564584124654e-324
print(
    "  subnormal-result range (x>~26.54): max abs err = %.1f * 2^-1074 (N=%d)"
    % (d.max() if d.size else 0, sub.sum())
)
g = np.fromfile("x_gelu.bin")
rg = np.load("ref_gelu.npy")
yg = np.fromfile("y_gelu.bin")
okg = np.abs(rg[:, 0]) >= TINY
relg = np.where(okg, ((yg - rg[:, 0]) - rg[:, 1]) / np.where(okg, rg[:, 0], 1), 0)
ag = np.abs(relg)
i = np.argmax(ag)
print("gelu: N=%d max|rel|=%.3e at x=%.17g" % (len(g), ag[i], g[i]))
for lo, hi in [
    (-38, -37.5),
    (-37.5, -30),
    (-30, -20),
    (-20, -10),
    (-10, -5),
    (-5, -1),
    (-1, -0.7072),
    (-0.7072, 0.7072),
    (0.7072, 10),
]:
    s = okg & (g >= lo) & (g < hi)
    j = np.argmax(np.where(s, ag, 0))
    print("  [%7g,%7g): max %.2e at %.17g  (normal N=%d)" % (lo, hi, ag[j], g[j], s.sum()))
