"""A 100 -> 64 -> 10 classifier with cross-entropy and Adam, written as a tutorial Net class."""

import fastnn
import numpy as np
from fastnn import nn
from fastnn.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(100, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def main(epochs=10, verbose=True):
    fastnn.manual_seed(0)
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 100)).astype(np.float32) * 2
    y = rng.integers(0, 10, 2000)
    X = (centers[y] + rng.standard_normal((2000, 100))).astype(np.float32)

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = fastnn.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in fastnn.data.batches(X, y, batch_size=64, rng=rng):
            optimizer.zero_grad()
            loss = criterion(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(X))
        if verbose:
            print(f"epoch {epoch}  loss {losses[-1]:.4f}")
    with fastnn.no_grad():
        acc = (net(X).numpy().argmax(1) == y).mean()
    if verbose:
        print(f"train accuracy {acc:.3f}")
    return losses


if __name__ == "__main__":
    main()
