"""float64 NumPy references for the activations, written from the textbook formulas in stable
forms (these are what the kernels are measured against)."""

import numpy as np
from scipy import special

np.seterr(all="ignore")  # references evaluate inf * 0 and overflow on purpose

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


def _where(cond, a, b):
    with np.errstate(all="ignore"):
        return np.where(cond, a, b)


def gelu_tanh(x):
    z = SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    return x * special.expit(2 * z)


def gelu_tanh_d(x):
    z = SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    s = special.expit(2 * z)
    one_minus = special.expit(-2 * z)
    d = s + 2 * x * s * one_minus * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    return _where(np.abs(x) > 30, s, d)


def softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return _where(z > threshold, x, np.logaddexp(0.0, z) / beta)


FORWARD = {
    "identity": lambda x: x,
    "step": lambda x: _where(x > 0, 1.0, 0.0),
    "sigmoid": special.expit,
    "tanh": np.tanh,
    "relu": lambda x: _where(x < 0, 0.0, x),
    "leaky_relu": lambda x, s=0.01: _where(x > 0, x, x * s),
    "elu": lambda x, a=1.0: _where(x <= 0, a * np.expm1(np.minimum(x, 0)), x),
    "selu": lambda x: SELU_SCALE * _where(x <= 0, SELU_ALPHA * np.expm1(np.minimum(x, 0)), x),
    "gelu": lambda x: 0.5 * x * special.erfc(-x / np.sqrt(2)),
    "gelu_tanh": gelu_tanh,
    "silu": lambda x: x * special.expit(x),
    "softplus": softplus,
    "hardsigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hardswish": lambda x: _where(x <= -3, 0.0, _where(x >= 3, x, x * (x + 3) / 6)),
}

DERIVATIVE = {
    "identity": lambda x: np.ones_like(x),
    "step": lambda x: np.zeros_like(x),
    "sigmoid": lambda x: special.expit(x) * special.expit(-x),
    "tanh": lambda x: 1.0 / np.cosh(x) ** 2,
    "relu": lambda x: _where(x <= 0, 0.0, 1.0),
    "leaky_relu": lambda x, s=0.01: _where(x > 0, 1.0, s),
    "elu": lambda x, a=1.0: _where(x <= 0, a * np.exp(np.minimum(x, 0)), 1.0),
    "selu": lambda x: SELU_SCALE * _where(x <= 0, SELU_ALPHA * np.exp(np.minimum(x, 0)), 1.0),
    "gelu": lambda x: (
        0.5 * special.erfc(-x / np.sqrt(2)) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    ),
    "gelu_tanh": gelu_tanh_d,
    "silu": lambda x: special.expit(x) * (1 + x * special.expit(-x)),
    "softplus": lambda x, beta=1.0, threshold=20.0: _where(
        beta * x > threshold, 1.0, special.expit(beta * x)
    ),
    "hardsigmoid": lambda x: _where((x > -3) & (x < 3), 1 / 6, 0.0),
    "hardswish": lambda x: _where(x <= -3, 0.0, _where(x < 3, x / 3 + 0.5, 1.0)),
}


def ulp_distance(a, b):
    """|a - b| in units in the last place: the count of float32 (or float64) values between them.

    Floats are mapped to integers that are monotonic in value (negative floats reflected), so the
    distance is the integer difference; +0 and -0 are 0 apart. NaN vs NaN counts as 0, NaN vs
    a number as a huge distance."""
    a = np.asarray(a)
    b = np.asarray(b)
    itype = np.int32 if a.dtype == np.float32 else np.int64
    ia = a.view(itype).astype(np.int64)
    ib = b.view(itype).astype(np.int64)
    sign = np.int64(np.iinfo(itype).min)
    ia = np.where(ia < 0, sign - ia, ia)
    ib = np.where(ib < 0, sign - ib, ib)
    d = np.abs(ia - ib)
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    d = np.where(both_nan, 0, d)
    return np.where(one_nan, np.iinfo(np.int64).max, d)
