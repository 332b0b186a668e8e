"""fastnn.optim.lr_scheduler against torch.optim.lr_scheduler (when importable) and closed forms."""

import math
import pickle

import fastnn
import numpy as np
import pytest
from fastnn.optim import SGD, lr_scheduler

SCHEDULERS = {
    "step": ("StepLR", dict(step_size=3, gamma=0.5)),
    "multistep": ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    "exponential": ("ExponentialLR", dict(gamma=0.9)),
    "cosine": ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    "linear": ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4)),
}


def make_opt(lrs=(0.1, 0.02)):
    groups = [{"params": [fastnn.Parameter(np.zeros(2))], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def lrs_over(sched, opt, n):
    out = [sched.get_last_lr()]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls_name, kw = SCHEDULERS[name]
    opt = make_opt()
    sched = getattr(lr_scheduler, cls_name)(opt, **kw)
    tparams = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in (0.1, 0.02)]
    topt = torch.optim.SGD(tparams, lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, cls_name)(topt, **kw)
    ours = lrs_over(sched, opt, 25)
    theirs = lrs_over(tsched, topt, 25)
    assert ours == theirs  # bit-for-bit: same float operations in the same order
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]


def test_closed_forms():
    opt = make_opt((1.0,))
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    got = [lr[0] for lr in lrs_over(s, opt, 6)]
    assert got == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    opt = make_opt((1.0,))
    s = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    got = [lr[0] for lr in lrs_over(s, opt, 10)]
    ref = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    opt = make_opt((1.0,))
    s = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4)
    got = [lr[0] for lr in lrs_over(s, opt, 6)]
    np.testing.assert_allclose(got, [0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 1.0], rtol=1e-12)
    opt = make_opt((2.0,))
    s = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [lr[0] for lr in lrs_over(s, opt, 3)] == [2.0, 1.0, 0.5, 0.25]


def test_reduce_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    kw = dict(mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    opt = make_opt()
    s = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ours = []
    for m in metrics:
        s.step(m)
        ours.append(s.get_last_lr())
    assert ours[0] == [0.1, 0.02] and ours[-1][0] < 0.1
    torch = pytest.importorskip("torch")
    tparams = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in (0.1, 0.02)]
    topt = torch.optim.SGD(tparams, lr=0.1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    theirs = []
    for m in metrics:
        ts.step(m)
        theirs.append(ts.get_last_lr())
    assert ours == theirs


def test_reduce_on_plateau_validation_and_state():
    opt = make_opt()
    with pytest.raises(ValueError, match="Factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    s = lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0)
    s.step(1.0)
    s.step(0.5)
    sd = pickle.loads(pickle.dumps(s.state_dict()))
    s2 = lr_scheduler.ReduceLROnPlateau(make_opt(), mode="max", patience=0)
    s2.load_state_dict(sd)
    assert s2.best == 1.0 and s2.last_epoch == 2


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_resume(name):
    cls_name, kw = SCHEDULERS[name]
    cls = getattr(lr_scheduler, cls_name)
    opt = make_opt()
    s = cls(opt, **kw)
    lrs_over(s, opt, 4)
    sd = pickle.loads(pickle.dumps(s.state_dict()))
    osd = opt.state_dict()
    assert "optimizer" not in sd
    opt2 = make_opt()
    s2 = cls(opt2, **kw)
    opt2.load_state_dict(osd)
    s2.load_state_dict(sd)
    assert lrs_over(s, opt, 6)[1:] == lrs_over(s2, opt2, 6)[1:]


def test_initial_lr_and_last_epoch_errors():
    opt = make_opt()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    s = lr_scheduler.StepLR(opt, step_size=2)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and s.last_epoch == 0


def test_step_with_epoch_uses_closed_form():
    opt = make_opt((1.0,))
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    with pytest.warns(UserWarning):
        s.step(5)
    assert s.get_last_lr() == [0.25]
