"""The NumPy-tutorial 2-layer sigmoid network trained by plain gradient descent, with fastnn's
kernels doing the work: linear layers with the sigmoid fused, the fused backward, and sgd_step."""

import fastnn
import numpy as np


def main(steps=2000, lr=0.5, verbose=True):
    rng = np.random.default_rng(0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)  # XOR
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    W1, b1 = rng.uniform(-1, 1, (8, 2)), np.zeros(8)
    W2, b2 = rng.uniform(-1, 1, (1, 8)), np.zeros(1)
    params = [W1, b1, W2, b2]
    losses = []
    for step in range(steps):
        h = fastnn.linear(X, W1, b1, "sigmoid")
        out = fastnn.linear(h, W2, b2, "sigmoid")
        loss, g_out = fastnn.mse_loss_forward_backward(out, y)
        gh, gW2, gb2 = fastnn.linear_backward(g_out, h, W2, activation="sigmoid", y=out)
        _, gW1, gb1 = fastnn.linear_backward(
            gh, X, W1, activation="sigmoid", y=h, need_grad_input=False
        )
        fastnn.sgd_step(params, [gW1, gb1, gW2, gb2], lr=lr)
        losses.append(float(loss))
        if verbose and step % 400 == 0:
            print(f"step {step:5d}  mse {float(loss):.5f}")
    return losses


if __name__ == "__main__":
    main()
