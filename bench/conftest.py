import numpy as np
import pytest

try:
    import torch

    torch.set_num_threads(2)
except ImportError:  # torch columns are skipped
    torch = None


@pytest.fixture(scope="session")
def torch_mod():
    if torch is None:
        pytest.skip("torch not installed")
    return torch


def rand32(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)
