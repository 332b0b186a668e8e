import pickle, mpmath as mp

Pt, Qt = pickle.load(open("tpoly_9_10_2.pkl", "rb"))
E = pickle.load(open("erf_8.pkl", "rb"))
P = [float(mp.mpf(v)) for v in Pt]
Q = [float(mp.mpf(v)) for v in Qt]
Ec = [float(mp.mpf(v)) for v in E]
assert Q[0] == 1.0
L = []
w = L.append
w("// erfc_approx.h -- branch-free, vectorizable double-precision erfc(x).")
w("// Coefficients derived by weighted (Lawson-reweighted) linearized least-squares")
w("// fits against mpmath at 40 digits (see fitmp.py / fiterf.py / convert.py in")
w("// /work/erfc_fit); not taken from any library.")
w("//")
w("//  |x| <  0.5 : erfc(x) = 1 - x*E(x^2),   E = degree-8 minimax-like fit of erf(x)/x")
w("//               (fit rel err 4e-18 on x^2 in [0,0.25]).")
w("//  |x| >= 0.5 : erfc(|x|) = exp(-x^2) * P(t)/Q(t),  t=|x| clamped to 27.5,")
w("//               P deg 10 (p10 tiny, negative), Q deg 10, other coefficients positive,")
w("//               fit of erfcx(t) on [0.5, 28] (fit rel err 2.2e-17).")
w("//               exp(-x^2) = exp_core(-h)*(1-l), h=t*t, l=fma(t,t,-h) exact low part.")
w("//               x < 0: erfc(x) = 2 - erfc(|x|).")
w("//  Specials: NaN->NaN, +inf->0, -inf->2, +-0->1, tiny x -> 1 - x*1.128...")
w("//")
w(
    "// Inputs: x any double (NaN, +-inf included). Uses only + - * /, fma (write as a*b+c; we compile with -ffp-contract=fast), comparisons and ternary selects (no branches that depend on x, no table lookups, no loops with data-dependent trip counts, no calls to libm) so GCC can vectorize a loop calling it under `#pragma omp simd`."
)
w("// Requires: double exp_core(double) declared/defined by the includer before this header.")
w("static inline double erfc_core(double x) {")
for i, v in enumerate(Ec):
    w("    const double e%d = %r;" % (i, v))
for i, v in enumerate(P):
    w("    const double p%d = %r;" % (i, v))
for i, v in enumerate(Q[1:], 1):
    w("    const double q%d = %r;" % (i, v))
w("")
w("    const double ax = x < 0.0 ? -x : x;     // |x| (NaN stays NaN)")
w("")
w("    // Both branches are always computed and blended exactly. Vectorizes with")
w("    // -mavx512f (GCC 12, masked ops). With AVX2 only, GCC 12 still threads the")
w("    // selects into control flow, so also add -fno-trapping-math there.")
w("    const double m = ax < 0.5 ? 1.0 : 0.0;  // 1 -> small branch, 0 -> large branch")
w("")
w("    // ---- large branch: |x| >= 0.5")
w("    const double t = ax > 27.5 ? 27.5 : ax;  // erfc(27.5) == 0 in double; avoids inf/inf")
w("    const double h = t * t;")
w("    const double l = __builtin_fma(t, t, -h);  // exact: t*t = h + l")
w("    const double ex = exp_core(-h);")
w("    // ---- small branch: |x| < 0.5, erfc = 1 - erf(x), erf odd polynomial")
w("    // small-branch argument: x itself, or (when |x| >= 0.5) the tiny finite low part l;")
w("    // a non-constant finite stand-in keeps r_small finite and stops GCC from")
w("    // constant-folding / threading the unused branch into conditional code.")
w("    const double xs = ax < 0.5 ? x : l;")
w("    const double z = xs * xs;")
s = "e%d" % (len(Ec) - 1)
w("    double pe = %s;" % s)
for i in range(len(Ec) - 2, -1, -1):
    w("    pe = pe * z + e%d;" % i)
w("    const double r_small = 1.0 - xs * pe;  // single fma, correctly handles tiny x")
w("")
w("    double pn = p%d;" % (len(P) - 1))
for i in range(len(P) - 2, -1, -1):
    w("    pn = pn * t + p%d;" % i)
w("    double qd = q%d;" % (len(Q) - 1))
for i in range(len(Q) - 2, 0, -1):
    w("    qd = qd * t + q%d;" % i)
w("    qd = qd * t + 1.0;")
w("    const double eg = ex * (pn / qd);")
w("    const double r_pos = eg - eg * l;         // exp(-h-l) ~= exp(-h)*(1-l)")
w("    const double sg = x < 0.0 ? -1.0 : 1.0;")
w("    const double off = x < 0.0 ? 2.0 : 0.0;")
w("    const double r_large = sg * r_pos + off;  // x<0: 2 - r_pos (one rounding); else exact")
w("")
w("    // exact blend (m is 0 or 1 and both branch values are finite unless x is NaN)")
w("    return m * r_small + (1.0 - m) * r_large;")
w("}")
open("erfc_approx.h", "w").write("\n".join(L) + "\n")
