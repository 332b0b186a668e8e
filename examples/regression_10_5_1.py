"""A 10 -> 5 -> 1 regression net trained with MSE and Adam (the classic PyTorch example, ported)."""

import fastnn
import numpy as np
from fastnn import nn


def main(steps=300, verbose=True):
    fastnn.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10)).astype(np.float32)
    true_w = rng.standard_normal((10, 1)).astype(np.float32)
    y = np.tanh(X @ true_w) + 0.05 * rng.standard_normal((200, 1)).astype(np.float32)

    model = nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1))
    criterion = nn.MSELoss()
    optimizer = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and step % 50 == 0:
            print(f"step {step:4d}  mse {loss.item():.5f}")
    return losses


if __name__ == "__main__":
    main()
