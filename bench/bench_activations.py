"""Activation forward/backward against NumPy (and scipy/torch when installed), beside a roofline.

    python -m pytest bench/bench_activations.py --benchmark-only --benchmark-group-by=group

Rooflines use fastnn's own threads: `identity` (forward: read 4 B + write 4 B per element) and
`identity_backward` (backward: read 8 B + write 4 B), which are pure memory traffic through the
same driver, threads and thresholds as every other activation."""

import fastnn
import numpy as np
import pytest
from conftest import rand32
from scipy import special

SIZES = [1_000, 100_000, 16_000_000]
S2PI = np.float32(0.7978845608028654)


def np_forward(name, x, out):
    if name == "sigmoid":
        return special.expit(x, out=out)
    if name == "tanh":
        return np.tanh(x, out=out)
    if name == "relu":
        return np.maximum(x, 0, out=out)
    if name == "gelu":
        return np.multiply(0.5 * x, special.erfc(-x / np.float32(np.sqrt(2))), out=out)
    if name == "gelu_tanh":
        return np.multiply(
            0.5 * x, 1 + np.tanh(S2PI * (x + np.float32(0.044715) * x * x * x)), out=out
        )
    if name == "silu":
        return np.multiply(x, special.expit(x), out=out)
    if name == "softplus":
        return np.logaddexp(np.float32(0), x, out=out)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    raise KeyError(name)


def np_backward(name, g, x, out):
    if name == "sigmoid":
        s = special.expit(x)
        return np.multiply(g, s * (1 - s), out=out)
    if name == "tanh":
        t = np.tanh(x)
        return np.multiply(g, 1 - t * t, out=out)
    if name == "relu":
        return np.multiply(g, x > 0, out=out)
    if name == "gelu":
        cdf = 0.5 * special.erfc(-x / np.float32(np.sqrt(2)))
        pdf = np.exp(-0.5 * x * x) * np.float32(0.3989422804014327)
        return np.multiply(g, cdf + x * pdf, out=out)
    if name == "silu":
        s = special.expit(x)
        return np.multiply(g, s * (1 + x * (1 - s)), out=out)
    raise KeyError(name)


FORWARD = ["sigmoid", "tanh", "relu", "gelu", "gelu_tanh", "silu", "softplus", "elu"]
BACKWARD = ["sigmoid", "tanh", "relu", "gelu", "silu"]


def _fast(name):
    return fastnn.activations[name]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_fastnn(benchmark, name, n):
    benchmark.group = f"forward {name} n={n}"
    x, out = rand32(n), np.empty(n, np.float32)
    benchmark(_fast(name).forward, x, out=out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_numpy(benchmark, name, n):
    benchmark.group = f"forward {name} n={n}"
    x, out = rand32(n), np.empty(n, np.float32)
    benchmark(np_forward, name, x, out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_torch(benchmark, torch_mod, name, n):
    benchmark.group = f"forward {name} n={n}"
    F = torch_mod.nn.functional
    fns = {
        "sigmoid": torch_mod.sigmoid,
        "tanh": torch_mod.tanh,
        "relu": torch_mod.relu,
        "gelu": F.gelu,
        "gelu_tanh": lambda t, out=None: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "softplus": F.softplus,
        "elu": F.elu,
    }
    x = torch_mod.from_numpy(rand32(n))
    benchmark(fns[name], x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_roofline(benchmark, name, n):
    benchmark.group = f"forward {name} n={n}"
    x, out = rand32(n), np.empty(n, np.float32)
    benchmark(fastnn.identity, x, out=out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", BACKWARD)
def test_backward_fastnn(benchmark, name, n):
    benchmark.group = f"backward {name} n={n}"
    g, x, out = rand32(n, 1), rand32(n), np.empty(n, np.float32)
    benchmark(_fast(name).backward, g, x, out=out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", BACKWARD)
def test_backward_numpy(benchmark, name, n):
    benchmark.group = f"backward {name} n={n}"
    g, x, out = rand32(n, 1), rand32(n), np.empty(n, np.float32)
    benchmark(np_backward, name, g, x, out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", BACKWARD)
def test_backward_roofline(benchmark, name, n):
    benchmark.group = f"backward {name} n={n}"
    g, x, out = rand32(n, 1), rand32(n), np.empty(n, np.float32)
    benchmark(fastnn.identity_backward, g, x, out=out)


def np_softmax(x, out):
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


SOFTMAX_SHAPES = [(64, 10), (256, 1000), (4096, 1000)]


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_fastnn(benchmark, shape):
    benchmark.group = f"softmax {shape}"
    x = rand32(int(np.prod(shape))).reshape(shape)
    benchmark(fastnn.softmax, x, out=np.empty_like(x))


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_numpy(benchmark, shape):
    benchmark.group = f"softmax {shape}"
    x = rand32(int(np.prod(shape))).reshape(shape)
    benchmark(np_softmax, x, np.empty_like(x))


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_roofline(benchmark, shape):
    benchmark.group = f"softmax {shape}"
    x = rand32(int(np.prod(shape))).reshape(shape)
    benchmark(fastnn.identity, x, out=np.empty_like(x))
