"""fastnn.Parameter and the fastnn.optim classes: torch.optim's interface, state_dict round trips,
skipping, mixed dtypes, validation, and (when torch is importable) torch.optim itself."""

import copy
import pickle

import fastnn
import numpy as np
import pytest
from fastnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop

# ---------------------------------------------------------------------------------------------
# Parameter


def test_parameter_zero_copy_and_array_protocol():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = fastnn.Parameter(a)
    assert p.data is a and p.requires_grad and p.grad is None
    assert p.shape == (2, 3) and p.dtype == np.float32 and p.ndim == 2 and p.size == 6
    assert np.sum(p) == 15 and np.asarray(p) is a
    assert np.array(p, copy=True) is not a
    assert np.asarray(p, dtype=np.float64).dtype == np.float64
    assert "Parameter(" in repr(p) and "float32" in repr(p)
    assert fastnn.Parameter([1, 2]).dtype == np.float64
    nc = np.ones((4, 4))[:, ::2]
    assert fastnn.Parameter(nc).data.flags.c_contiguous
    with pytest.raises(TypeError):
        fastnn.Parameter(np.array(["a"]))


def test_parameter_grad_checked():
    p = fastnn.Parameter(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        p.grad = np.zeros(4, dtype=np.float32)
    with pytest.raises(TypeError, match="dtype"):
        p.grad = np.zeros(3)
    p.grad = [1, 2, 3]
    assert p.grad.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# helpers

ALGOS = {
    "sgd": (SGD, dict(lr=0.05)),
    "sgd_mom": (SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    "adagrad": (
        Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    ),
    "rmsprop": (RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    "rmsprop_plain": (RMSprop, dict(lr=0.01)),
    "adam": (Adam, dict(lr=0.01, weight_decay=0.01)),
    "adam_ams": (Adam, dict(lr=0.01, amsgrad=True, maximize=True)),
    "adamw": (AdamW, dict(lr=0.01)),
    "adamw_ams": (AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
}

SHAPES = [(7, 3), (3,), (1,), (0,), (2, 2, 5)]


def make_params(dtype=np.float32, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [fastnn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def set_grads(params, step, seed=1):
    rng = np.random.default_rng(seed * 7919 + step)
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(p.dtype)


def run(opt, params, steps, start=1):
    for t in range(start, start + steps):
        set_grads(params, t)
        opt.step()


# ---------------------------------------------------------------------------------------------
# against torch.optim


@pytest.mark.parametrize("name", list(ALGOS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(name, dtype):
    torch = pytest.importorskip("torch")
    cls, kw = ALGOS[name]
    tcls = getattr(torch.optim, cls.__name__)
    ps = make_params(dtype)
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt = cls(ps, **kw)
    topt = tcls(tps, **kw)
    for t in range(1, 31):
        set_grads(ps, t)
        for p, tp in zip(ps, tps):
            tp.grad = torch.from_numpy(p.grad.copy())
        opt.step()
        topt.step()
    r = 2e-5 if dtype == np.float32 else 1e-12
    for p, tp in zip(ps, tps):
        ref = tp.detach().numpy()
        np.testing.assert_allclose(p.data, ref, rtol=r, atol=r * (np.abs(ref).max(initial=1)))


def test_matches_torch_param_skipping_and_lr_change():
    torch = pytest.importorskip("torch")
    ps = make_params(np.float64)
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt = Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
    topt = torch.optim.Adam([{"params": tps[:2]}, {"params": tps[2:], "lr": 0.1}], lr=0.01)
    for t in range(1, 11):
        set_grads(ps, t)
        if t % 3 == 0:
            ps[0].grad = None  # skipped: its step count falls behind
        for p, tp in zip(ps, tps):
            tp.grad = None if p.grad is None else torch.from_numpy(p.grad.copy())
        if t == 5:
            opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 0.02
        opt.step()
        topt.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert opt.state[ps[0]]["step"] == int(topt.state[tps[0]]["step"].item()) == 7


# ---------------------------------------------------------------------------------------------
# behaviour


@pytest.mark.parametrize("name", list(ALGOS))
def test_in_place_and_skip_none(name):
    cls, kw = ALGOS[name]
    ps = make_params()
    datas = [p.data for p in ps]
    opt = cls(ps, **kw)
    set_grads(ps, 1)
    ps[1].grad = None
    before = ps[1].data.copy()
    opt.step()
    for p, d in zip(ps, datas):
        assert p.data is d and (d.size == 0 or np.shares_memory(p.data, d))
    np.testing.assert_array_equal(ps[1].data, before)
    if name != "adagrad":  # torch's Adagrad creates state for every parameter up front
        assert ps[1] not in opt.state or not opt.state[ps[1]]


def test_mixed_dtypes_in_one_group():
    p32 = make_params(np.float32, seed=3)
    p64 = make_params(np.float64, seed=3)
    mixed = [a if i % 2 else b for i, (a, b) in enumerate(zip(p32, p64))]
    ref = [fastnn.Parameter(p.data.astype(np.float64)) for p in mixed]
    opt = Adam(mixed, lr=0.01)
    ropt = Adam(ref, lr=0.01)
    for t in range(1, 11):
        set_grads(mixed, t)
        for p, r in zip(mixed, ref):
            r.grad = p.grad.astype(np.float64)
        opt.step()
        ropt.step()
    for p, r in zip(mixed, ref):
        assert p.dtype in (np.float32, np.float64)
        assert opt.state[p]["exp_avg"].dtype == p.dtype
        np.testing.assert_allclose(p.data, r.data, rtol=1e-5, atol=1e-6)


def test_zero_grad():
    ps = make_params()
    opt = SGD(ps, lr=0.1)
    set_grads(ps, 1)
    g = ps[0].grad
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad is g and not g.any()
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    opt.step()  # nothing to do


def test_closure_and_returns_loss():
    ps = make_params()
    opt = SGD(ps, lr=0.1)

    def closure():
        set_grads(ps, 1)
        return 3.5

    assert opt.step(closure) == 3.5


def test_constructor_validation():
    ps = make_params()
    with pytest.raises(ValueError, match="Invalid learning rate"):
        Adam(ps, lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        Adam(ps, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        AdamW(ps, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="Invalid epsilon"):
        Adam(ps, eps=-1e-8)
    with pytest.raises(ValueError, match="Invalid weight_decay"):
        AdamW(ps, weight_decay=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid momentum"):
        SGD(ps, lr=0.1, momentum=-1)
    with pytest.raises(ValueError, match="Invalid alpha"):
        RMSprop(ps, alpha=-1)
    with pytest.raises(ValueError, match="Invalid lr_decay"):
        Adagrad(ps, lr_decay=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="Parameter"):
        Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        Adam([{"params": ps[:2]}, {"params": ps[1:]}])
    assert AdamW(ps).defaults["weight_decay"] == 1e-2
    assert Adam(ps).defaults["weight_decay"] == 0


def test_bad_group_or_grad_touches_nothing():
    ps = make_params()
    opt = Adam([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.01)
    run(opt, ps, 2)
    snap = [p.data.copy() for p in ps]
    state = copy.deepcopy(opt.state_dict())
    opt.param_groups[1]["lr"] = -1.0
    set_grads(ps, 3)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        opt.step()
    opt.param_groups[1]["lr"] = 0.01
    ps[-1]._grad = np.zeros(3, dtype=np.float32)  # bypasses the setter: wrong shape
    with pytest.raises(ValueError, match="gradient of shape"):
        opt.step()
    for p, s in zip(ps, snap):
        np.testing.assert_array_equal(p.data, s)
    after = opt.state_dict()
    for k, st in state["state"].items():
        assert after["state"][k]["step"] == st["step"]
        np.testing.assert_array_equal(after["state"][k]["exp_avg"], st["exp_avg"])


def test_add_param_group_and_per_group_hyperparameters():
    ps = make_params()
    opt = SGD(ps[:2], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": ps[2:], "lr": 0.0})
    assert opt.param_groups[1]["momentum"] == 0.9
    snap = [p.data.copy() for p in ps[2:]]
    run(opt, ps, 3)
    for p, s in zip(ps[2:], snap):
        np.testing.assert_array_equal(p.data, s)  # lr = 0
    assert not np.array_equal(ps[0].data, make_params()[0].data)


# ---------------------------------------------------------------------------------------------
# state_dict


@pytest.mark.parametrize("name", list(ALGOS))
def test_state_dict_round_trip_bitwise(name):
    cls, kw = ALGOS[name]
    a = make_params()
    opt_a = cls([{"params": a[:2]}, {"params": a[2:], "lr": 0.003}], **kw)
    run(opt_a, a, 10)
    sd = pickle.loads(pickle.dumps(opt_a.state_dict()))
    assert sorted(sd) == ["param_groups", "state"]
    assert sd["param_groups"][1]["params"] == list(range(2, len(a)))
    b = [fastnn.Parameter(p.data.copy()) for p in a]
    opt_b = cls([{"params": b[:2]}, {"params": b[2:]}], **kw)
    opt_b.load_state_dict(sd)
    assert opt_b.param_groups[1]["lr"] == 0.003
    run(opt_a, a, 10, start=11)
    run(opt_b, b, 10, start=11)
    for p, q in zip(a, b):
        assert p.data.tobytes() == q.data.tobytes()


def test_state_dict_is_a_copy_and_load_validates():
    ps = make_params()
    opt = Adam(ps, lr=0.01)
    run(opt, ps, 2)
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"][...] = 99
    assert not (opt.state[ps[0]]["exp_avg"] == 99).any()
    other = Adam(make_params()[:2], lr=0.01)
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(opt.state_dict())
    two = Adam([{"params": ps[:1]}, {"params": ps[1:]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two.load_state_dict(opt.state_dict())


def test_state_dict_matches_torch_structure():
    torch = pytest.importorskip("torch")
    ps = make_params(np.float64)
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt, topt = AdamW(ps, amsgrad=True), torch.optim.AdamW(tps, amsgrad=True)
    set_grads(ps, 1)
    for p, tp in zip(ps, tps):
        tp.grad = torch.from_numpy(p.grad.copy())
    opt.step()
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd["state"]) == set(tsd["state"])
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert set(sd["param_groups"][0]) >= set(tsd["param_groups"][0]) - {"lr"}
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]


# ---------------------------------------------------------------------------------------------
# clip re-export


def test_clip_exports():
    from fastnn.optim import clip_grad_norm_, clip_grad_value_

    assert fastnn.clip_grad_norm_ is clip_grad_norm_
    assert fastnn.clip_grad_value_ is clip_grad_value_


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    ps = make_params(np.float64, shapes=[(7, 3), (3,), (1,), (2, 2, 5)])
    set_grads(ps, 1)
    tps = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for p, tp in zip(ps, tps):
        tp.grad = torch.from_numpy(p.grad.copy())
    for nt in (2.0, 1.0, float("inf"), 3.0):
        total = fastnn.clip_grad_norm_(ps, 0.5, norm_type=nt)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type=nt)
        assert total == pytest.approx(float(ttotal), rel=1e-12)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
