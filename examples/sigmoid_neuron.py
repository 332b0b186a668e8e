"""A single sigmoid neuron fitted with plain SGD on the MSE (the textbook perceptron-style model)."""

import fastnn
import numpy as np
from fastnn import nn


def main(steps=500, verbose=True):
    fastnn.manual_seed(0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 2))
    y = (X[:, :1] + X[:, 1:] > 0).astype(np.float64)

    neuron = nn.Sequential(nn.Linear(2, 1, dtype=np.float64), nn.Sigmoid())
    optimizer = fastnn.optim.SGD(neuron.parameters(), lr=1.0)
    criterion = nn.MSELoss()
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = criterion(neuron(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and step % 100 == 0:
            print(f"step {step:4d}  mse {loss.item():.5f}")
    return losses


if __name__ == "__main__":
    main()
