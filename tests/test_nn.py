"""fastnn.nn: modules, autograd and training against float64 finite differences and torch."""

import fastnn
import numpy as np
import pytest
from fastnn import nn
from fastnn.nn import functional as F

ACTS = [
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.SiLU,
    nn.Softplus,
    nn.Hardswish,
    nn.Hardsigmoid,
]


def mlp(act=nn.ReLU, sizes=(5, 7, 3), dtype=np.float64, seed=0):
    fastnn.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def numeric_grads(model, loss_fn, eps=1e-6):
    out = {}
    for name, p in model.named_parameters():
        g = np.zeros_like(p.data)
        for i in np.ndindex(p.data.shape):
            old = p.data[i]
            p.data[i] = old + eps
            with nn.no_grad():
                lp = loss_fn().item()
            p.data[i] = old - eps
            with nn.no_grad():
                lm = loss_fn().item()
            p.data[i] = old
            g[i] = (lp - lm) / (2 * eps)
        out[name] = g
    return out


@pytest.mark.parametrize("act", ACTS)
def test_mlp_gradients_match_finite_differences(act):
    rng = np.random.default_rng(1)
    model = mlp(act)
    x = rng.standard_normal((4, 5))
    y = rng.integers(0, 3, 4)
    crit = nn.CrossEntropyLoss()

    def loss_fn():
        return crit(model(x), y)

    model.zero_grad()
    loss_fn().backward()
    num = numeric_grads(model, loss_fn)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, num[name], rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("loss", ["mse", "l1", "huber", "bce", "bce_logits", "nll"])
def test_loss_modules_gradients(loss):
    rng = np.random.default_rng(2)
    model = mlp(nn.Tanh, sizes=(3, 4, 2))
    x = rng.standard_normal((6, 3))
    if loss in ("bce",):
        head, crit, y = nn.Sigmoid(), nn.BCELoss(), rng.uniform(0, 1, (6, 2))
    elif loss == "bce_logits":
        head, crit, y = nn.Identity(), nn.BCEWithLogitsLoss(), rng.uniform(0, 1, (6, 2))
    elif loss == "nll":
        head, crit, y = nn.LogSoftmax(dim=1), nn.NLLLoss(), rng.integers(0, 2, 6)
    else:
        head = nn.Identity()
        crit = {"mse": nn.MSELoss(), "l1": nn.L1Loss(), "huber": nn.HuberLoss(delta=0.5)}[loss]
        y = rng.standard_normal((6, 2))

    def loss_fn():
        return crit(head(model(x)), y)

    model.zero_grad()
    loss_fn().backward()
    num = numeric_grads(model, loss_fn)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, num[name], rtol=1e-5, atol=1e-7, err_msg=name)


class TutorialNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 8, dtype=np.float64)
        self.fc2 = nn.Linear(8, 8, dtype=np.float64)
        self.out = nn.Linear(8, 2, dtype=np.float64)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h = h + F.tanh(self.fc2(h)) * 0.5  # a residual connection
        return self.out(self.drop(h))


def test_custom_module_and_state_dict():
    fastnn.manual_seed(3)
    net = TutorialNet()
    assert [k for k, _ in net.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "out.weight",
        "out.bias",
    ]
    assert len(list(net.children())) == 4
    x = np.random.default_rng(0).standard_normal((5, 10))
    y = np.array([0, 1, 1, 0, 1])
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    sd = {k: v.copy() for k, v in net.state_dict().items()}
    fastnn.manual_seed(4)
    other = TutorialNet()
    other.load_state_dict(sd)
    with nn.no_grad():
        np.testing.assert_array_equal(other(x).numpy(), net(x).numpy())
    with pytest.raises(KeyError, match="missing"):
        other.load_state_dict({"fc1.weight": sd["fc1.weight"]})
    bad = dict(sd, **{"fc1.bias": np.zeros(3)})
    before = other.fc1.weight.data.copy()
    with pytest.raises(ValueError, match="fc1.bias"):
        other.load_state_dict(bad)
    np.testing.assert_array_equal(other.fc1.weight.data, before)  # nothing copied


def test_no_grad_records_nothing():
    model = mlp()
    x = np.ones((2, 5))
    with nn.no_grad():
        out = model(x)
    assert out.grad_fn is None and not out.requires_grad
    assert model(x).grad_fn is not None


def test_dropout_seeded_and_eval():
    x = np.ones((100, 10), np.float32)
    d1 = nn.Dropout(0.3, generator=fastnn.random.Generator(5))
    d2 = nn.Dropout(0.3, generator=fastnn.random.Generator(5))
    a, b = d1(x).numpy(), d2(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert 0.2 < (a == 0).mean() < 0.4
    d1.eval()
    np.testing.assert_array_equal(d1(x).numpy(), x)


def test_linear_default_init_bounds():
    fastnn.manual_seed(0)
    lin = nn.Linear(100, 50)
    assert lin.weight.data.dtype == np.float32 and lin.weight.shape == (50, 100)
    assert np.abs(lin.weight.data).max() <= 0.1 and np.abs(lin.weight.data).max() > 0.09
    assert np.abs(lin.bias.data).max() <= 0.1


def test_training_reduces_loss_and_is_reproducible():
    def run():
        fastnn.manual_seed(0)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((256, 10)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
        model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
        opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
        crit = nn.CrossEntropyLoss()
        losses = []
        for _ in range(50):
            opt.zero_grad()
            loss = crit(model(X), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.data.copy() for p in model.parameters()]

    l1, p1 = run()
    l2, p2 = run()
    assert l1[-1] < 0.5 * l1[0]
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(
        torch.nn.Linear(6, 9), torch.nn.GELU(), torch.nn.Linear(9, 4)
    ).double()
    fnet = nn.Sequential(nn.Linear(6, 9), nn.GELU(), nn.Linear(9, 4)).double()
    fnet.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, 6))
    y = np.array([0, 1, 2, 3, 0, 1, 2])
    tl = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
    tl.backward()
    fl = F.cross_entropy(fnet(x), y)
    fl.backward()
    assert abs(fl.item() - tl.item()) < 1e-12
    for (name, p), (tname, tp) in zip(fnet.named_parameters(), tnet.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_bad_input_names_argument():
    model = mlp()
    with pytest.raises(ValueError):
        model(np.ones((2, 4)))  # 4 features, the layer wants 5
