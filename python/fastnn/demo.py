"""The `python -m fastnn` demo: train an MLP on scikit-learn's digits (shipped with the package, no
download) with fastnn, then the same training written in plain NumPy, and compare."""

from __future__ import annotations

import sys
import time

import numpy as np

import fastnn
from fastnn import nn


def load_digits_split(seed=0):
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - the README's demo command installs it
        sys.exit("the demo needs scikit-learn: pip install '.[sklearn]'")
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    X, y = X[order].astype(np.float32), y[order].astype(np.int64)
    n_test = len(X) // 4
    Xtr, ytr, Xte, yte = X[n_test:], y[n_test:], X[:n_test], y[:n_test]
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    return (Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte


def progress(epoch, epochs, loss, width=30):
    done = int(width * epoch / epochs)
    bar = "#" * done + "." * (width - done)
    end = "\n" if epoch == epochs else ""
    print(f"\r  epoch {epoch:3d}/{epochs} [{bar}] loss {loss:.4f}", end=end, flush=True)


def train_fastnn(Xtr, ytr, hidden, epochs, batch, lr, seed):
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(Xtr.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 10))
    opt = fastnn.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    if hasattr(nn, "compile_step"):
        step = nn.compile_step(model, criterion, opt)  # forward+loss+backward+Adam: one native call
    else:

        def step(xb, yb):
            opt.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
            return loss.item()

    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in fastnn.data.batches(Xtr, ytr, batch, rng=rng):
            total += step(xb, yb) * len(xb)
        progress(epoch, epochs, total / len(Xtr))
    return model, time.perf_counter() - t


def train_numpy(Xtr, ytr, hidden, epochs, batch, lr, seed):
    """The same network and Adam, written directly in NumPy (the usual textbook version)."""
    rng = np.random.default_rng(seed)
    b1 = 1 / np.sqrt(Xtr.shape[1])
    b2 = 1 / np.sqrt(hidden)
    params = [
        rng.uniform(-b1, b1, (Xtr.shape[1], hidden)).astype(np.float32),
        rng.uniform(-b1, b1, hidden).astype(np.float32),
        rng.uniform(-b2, b2, (hidden, 10)).astype(np.float32),
        rng.uniform(-b2, b2, 10).astype(np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t0 = time.perf_counter()
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(Xtr))
        for s in range(0, len(Xtr), batch):
            idx = order[s : s + batch]
            x, y = Xtr[idx], ytr[idx]
            h = np.maximum(x @ params[0] + params[1], 0)
            z = h @ params[2] + params[3]
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            dz = p / len(y)
            dh = (dz @ params[2].T) * (h > 0)
            grads = [x.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
            step += 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mhat = m[i] / (1 - 0.9**step)
                vhat = v[i] / (1 - 0.999**step)
                params[i] -= lr * mhat / (np.sqrt(vhat) + 1e-8)
    return params, time.perf_counter() - t0


def main(epochs=30, hidden=256, batch=32, lr=1e-3, seed=0):
    Xtr, ytr, Xte, yte = load_digits_split(seed)
    print(
        f"\nTraining a 64-{hidden}-10 ReLU MLP on scikit-learn's digits ({len(Xtr)} train / "
        f"{len(Xte)} test), Adam lr={lr}, batch {batch}, {epochs} epochs"
    )
    model, t_fast = train_fastnn(Xtr, ytr, hidden, epochs, batch, lr, seed)
    with nn.no_grad():
        acc = float((model(Xte).numpy().argmax(1) == yte).mean())
    params, t_np = train_numpy(Xtr, ytr, hidden, epochs, batch, lr, seed)
    h = np.maximum(Xte @ params[0] + params[1], 0)
    acc_np = float(((h @ params[2] + params[3]).argmax(1) == yte).mean())
    print(f"  fastnn: test accuracy {acc:.4f}, training {t_fast:.3f} s")
    print(
        f"  numpy : test accuracy {acc_np:.4f}, training {t_np:.3f} s  "
        f"(fastnn {t_np / t_fast:.1f}x faster)"
    )
    return acc
