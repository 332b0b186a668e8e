"""fastnn.sklearn: drop-in MLPClassifier / MLPRegressor against scikit-learn's own."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------ sklearn's estimator checks
@parametrize_with_checks(
    [
        MLPClassifier(max_iter=100, random_state=0),
        MLPRegressor(max_iter=100, random_state=0),
        MLPClassifier(solver="lbfgs", max_iter=50, random_state=0),
        MLPRegressor(solver="sgd", max_iter=50, random_state=0),
    ],
    expected_failed_checks=lambda est: {},  # none expected
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------ identical iterates vs sklearn
def _small_problems():
    rng = np.random.RandomState(0)
    Xc, yc = datasets.make_classification(240, 10, n_informative=5, n_classes=3, random_state=0)
    Xb, yb = datasets.make_classification(240, 10, random_state=1)
    Xm, ym = datasets.make_multilabel_classification(240, 10, n_classes=4, random_state=0)
    Xr, yr = datasets.make_regression(240, 10, n_targets=2, noise=5, random_state=0)
    yr = yr / 100
    sw = rng.rand(240)
    return {
        "multiclass": (Xc, yc),
        "binary": (Xb, yb),
        "multilabel": (Xm, ym),
        "regression": (Xr, yr),
        "poisson": (Xr, np.abs(yr[:, 0])),
        "sw": sw,
    }


_P = _small_problems()

_CASES = [
    # one hidden layer of 100, batch 200: 1.6 MFLOP per batch, the features-split step (2 threads)
    ("multiclass", dict(solver="adam")),
    ("multiclass", dict(solver="adam", early_stopping=True, activation="tanh")),
    ("multiclass", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1)),
    (
        "multiclass",
        dict(
            solver="sgd",
            learning_rate="adaptive",
            nesterovs_momentum=False,
            tol=1e-2,
            n_iter_no_change=2,
        ),
    ),
    ("multiclass", dict(solver="sgd", momentum=0.0, activation="logistic")),
    ("multiclass", dict(solver="lbfgs")),
    ("multiclass", dict(solver="adam", sample_weight=True)),
    ("binary", dict(solver="adam", hidden_layer_sizes=(8, 7))),
    ("binary", dict(solver="lbfgs", sample_weight=True, activation="identity")),
    ("multilabel", dict(solver="adam", sample_weight=True, early_stopping=True)),
    ("multilabel", dict(solver="sgd", batch_size=32, shuffle=False)),
    ("regression", dict(solver="adam", sample_weight=True)),
    ("regression", dict(solver="sgd", learning_rate_init=0.01)),
    ("regression", dict(solver="lbfgs")),
    ("binary", dict(solver="sgd", momentum=0.5, sample_weight=True, alpha=1e-2)),
    ("regression", dict(solver="sgd", sample_weight=True, batch_size=50, shuffle=False)),
    ("multiclass", dict(solver="adam", activation="identity", batch_size=17)),
    # float32: 12 MFLOP per batch of 200, the one-region parallel step path (2 threads)
    ("multiclass", dict(solver="adam", hidden_layer_sizes=(96, 96), sample_weight=True)),
    ("regression", dict(solver="sgd", hidden_layer_sizes=(96, 96), learning_rate_init=0.01)),
    ("poisson", dict(solver="adam", loss="poisson")),
    ("poisson", dict(solver="adam", loss="poisson", sample_weight=True)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("problem,params", _CASES)
def test_same_iterates_as_sklearn(problem, params, dtype):
    X, y = _P[problem]
    X = X.astype(dtype)
    params = dict(params)
    sw = _P["sw"] if params.pop("sample_weight", False) else None
    if problem in ("regression", "poisson"):
        ours, ref = MLPRegressor, SkMLPRegressor
    else:
        ours, ref = MLPClassifier, SkMLPClassifier
    a = ref(random_state=0, max_iter=40, **params).fit(X, y, sample_weight=sw)
    b = ours(random_state=0, max_iter=40, **params).fit(X, y, sample_weight=sw)
    rtol = 1e-9 if dtype == np.float64 else 2e-4
    if params.get("solver") == "lbfgs" and dtype == np.float32:
        # sklearn's lbfgs silently continues in float64 after its first step; ours stays float32
        # (a different floating-point trajectory): compare the fitted quality only.
        assert all(c.dtype == np.float32 for c in b.coefs_)
        assert b.score(X, y) >= a.score(X, y) - 0.02
        return
    assert b.n_iter_ == a.n_iter_
    assert b.n_layers_ == a.n_layers_ and b.n_outputs_ == a.n_outputs_
    assert b.out_activation_ == a.out_activation_
    np.testing.assert_allclose(b.loss_, a.loss_, rtol=rtol * 10)
    if params.get("solver") != "lbfgs":
        assert b.t_ == a.t_
        np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=rtol)
        if params.get("early_stopping"):
            np.testing.assert_allclose(b.validation_scores_, a.validation_scores_, atol=1e-9)
            assert b.best_loss_ is None
        else:
            np.testing.assert_allclose(b.best_loss_, a.best_loss_, rtol=rtol)
    for cb, ca, ib, ia in zip(b.coefs_, a.coefs_, b.intercepts_, a.intercepts_):
        assert cb.shape == ca.shape and ib.shape == ia.shape
        if params.get("solver") != "lbfgs" or dtype == np.float64:
            assert cb.dtype == dtype
            np.testing.assert_allclose(cb, ca, rtol=rtol * 100, atol=rtol * 10)
            np.testing.assert_allclose(ib, ia, rtol=rtol * 100, atol=rtol * 10)
    if ours is MLPClassifier:
        np.testing.assert_array_equal(b.classes_, a.classes_)
        np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=rtol * 100)
        assert np.mean(b.predict(X) == a.predict(X)) > 0.98
    else:
        np.testing.assert_allclose(b.predict(X), a.predict(X), rtol=rtol * 100, atol=rtol * 100)


def test_partial_fit_matches_sklearn():
    X, y = _P["multiclass"]
    a = SkMLPClassifier(random_state=0, solver="sgd")
    b = MLPClassifier(random_state=0, solver="sgd")
    classes = np.unique(y)
    for i in range(3):
        a.partial_fit(X[i * 80 : (i + 1) * 80], y[i * 80 : (i + 1) * 80], classes=classes)
        b.partial_fit(X[i * 80 : (i + 1) * 80], y[i * 80 : (i + 1) * 80], classes=classes)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-9)
    Xr, yr = _P["regression"]
    a = SkMLPRegressor(random_state=0).partial_fit(Xr, yr).partial_fit(Xr, yr)
    b = MLPRegressor(random_state=0).partial_fit(Xr, yr).partial_fit(Xr, yr)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-9)


def test_warm_start_and_replaced_coefs():
    X, y = _P["multiclass"]
    a = SkMLPClassifier(random_state=0, max_iter=5, warm_start=True).fit(X, y).fit(X, y)
    b = MLPClassifier(random_state=0, max_iter=5, warm_start=True).fit(X, y).fit(X, y)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-9)
    # user-assigned coefficients are used by predict and by a warm-started fit
    b.coefs_ = [np.ascontiguousarray(c) for c in a.coefs_]
    b.intercepts_ = [i.copy() for i in a.intercepts_]
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-12)
    a.fit(X, y)
    b.fit(X, y)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-9)


# ---------------------------------------------------------------- model quality vs sklearn
def _quality(load, solver):
    X, y = load(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    kw = dict(hidden_layer_sizes=(32,), solver=solver, random_state=0, max_iter=150)
    return Xtr, Xte, ytr, yte, kw


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("name", ["digits", "iris", "breast_cancer"])
def test_classification_quality(name, solver):
    load = getattr(datasets, "load_" + name)
    Xtr, Xte, ytr, yte, kw = _quality(load, solver)
    if solver == "sgd":
        kw["learning_rate_init"] = 0.05
    ref = SkMLPClassifier(**kw).fit(Xtr, ytr).score(Xte, yte)
    ours = MLPClassifier(**kw).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= ref - 0.01, (ours, ref)
    assert ours > 0.85


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_regression_quality(solver):
    X, y = datasets.load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    kw = {
        "adam": dict(learning_rate_init=0.01, max_iter=500),
        "sgd": dict(learning_rate_init=0.001, max_iter=300),
        "lbfgs": dict(alpha=10.0, max_iter=200),
    }[solver]
    kw.update(hidden_layer_sizes=(16,), solver=solver, random_state=0)
    ref = SkMLPRegressor(**kw).fit(Xtr, ytr).score(Xte, yte)
    ours = MLPRegressor(**kw).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= ref - 0.01, (ours, ref)
    assert ours > 0.15  # a small MLP on diabetes (sklearn reaches 0.21-0.32 here)


# ------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    X, y = _P["multiclass"]
    clf = MLPClassifier(max_iter=5, random_state=0)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xn, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(Xn)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y + 10)
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier(warm_start=True, max_iter=3).fit(X, y).fit(X, y % 2)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.unique(y))
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=np.unique(y))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


@pytest.mark.parametrize(
    "params",
    [
        dict(activation="softsign"),
        dict(solver="rmsprop"),
        dict(alpha=-1.0),
        dict(hidden_layer_sizes=0),
        dict(learning_rate="cosine"),
        dict(learning_rate_init=0.0),
        dict(momentum=1.5),
        dict(batch_size=0),
        dict(validation_fraction=1.0),
        dict(beta_1=1.0),
        dict(epsilon=0.0),
        dict(max_iter=0),
        dict(n_iter_no_change=0),
        dict(max_fun=0),
        dict(shuffle="yes"),
    ],
)
def test_invalid_params_raise_sklearn_errors(params):
    X, y = _P["multiclass"]
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError) as ours:
        MLPClassifier(**params).fit(X, y)
    with pytest.raises(InvalidParameterError) as ref:
        SkMLPClassifier(**params).fit(X, y)
    if "activation" not in params:  # ours lists fastnn's extra activation names too
        assert str(ours.value) == str(ref.value)


def test_invalid_regressor_loss():
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = _P["regression"]
    with pytest.raises(InvalidParameterError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)


def test_hidden_layer_sizes_negative_in_list():
    X, y = _P["multiclass"]
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(3, -1)).fit(X, y)


# ------------------------------------------------------------------ extensions and dtypes
@pytest.mark.parametrize("act", ["gelu", "silu", "leaky_relu", "elu"])
def test_fastnn_activations(act):
    X, y = _P["binary"]
    clf = MLPClassifier(
        (16,), activation=act, random_state=0, max_iter=200, learning_rate_init=0.01
    ).fit(X, y)
    assert clf.score(X, y) > 0.95
    reg = MLPRegressor(
        hidden_layer_sizes=(16,), activation=act, solver="lbfgs", random_state=0, max_iter=60
    )
    Xr, yr = _P["regression"]
    assert reg.fit(Xr, yr).score(Xr, yr) > 0.9


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_preserved(solver):
    X, y = _P["multiclass"]
    clf = MLPClassifier((8,), solver=solver, random_state=0, max_iter=20).fit(
        X.astype(np.float32), y
    )
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32  # computed with the model's dtype


def test_params_live_in_one_buffer():
    X, y = _P["multiclass"]
    clf = MLPClassifier((7, 5), random_state=0, max_iter=3).fit(X, y)
    flat = clf._net.flat
    for c, i in zip(clf.coefs_, clf.intercepts_):
        assert np.shares_memory(c, flat) and np.shares_memory(i, flat)
    assert [c.shape for c in clf.coefs_] == [(10, 7), (7, 5), (5, 3)]


def test_verbose_output(capsys):
    X, y = _P["multiclass"]
    MLPClassifier((8,), random_state=0, max_iter=3, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 3, loss = " in out


def test_sparse_input():
    sp = pytest.importorskip("scipy.sparse")
    X, y = _P["multiclass"]
    a = MLPClassifier((8,), random_state=0, max_iter=10).fit(sp.csr_matrix(X), y)
    b = MLPClassifier((8,), random_state=0, max_iter=10).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(sp.csc_matrix(X)), b.predict_proba(X))


# ------------------------------------------------------ pickle, clone, grid search (fork)
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickle_roundtrip(solver):
    X, y = _P["multiclass"]
    clf = MLPClassifier((8,), solver=solver, random_state=0, max_iter=20).fit(X, y)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))
    if solver == "adam":  # optimizer state survives: continued training is identical
        clf.partial_fit(X, y)
        clf2.partial_fit(X, y)
        np.testing.assert_array_equal(clf2.predict_proba(X), clf.predict_proba(X))
    Xr, yr = _P["regression"]
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=20).fit(Xr, yr)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(Xr), reg.predict(Xr))


def test_clone_and_params():
    clf = MLPClassifier((5, 3), solver="sgd", alpha=0.1, random_state=3)
    c2 = clone(clf)
    assert c2.get_params() == clf.get_params()
    assert set(clf.get_params()) == set(SkMLPClassifier().get_params())
    assert set(MLPRegressor().get_params()) == set(SkMLPRegressor().get_params())
    c2.set_params(alpha=1.0)
    assert c2.alpha == 1.0 and clf.alpha == 0.1


def test_grid_search_n_jobs_2():
    X, y = datasets.load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier((16,), random_state=0, max_iter=100, learning_rate_init=0.01),
    )
    gs = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs.fit(X, y)
    assert gs.best_score_ > 0.85
    gs1 = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(
        gs.cv_results_["mean_test_score"], gs1.cv_results_["mean_test_score"]
    )


# ------------------------------------------------- the native epoch (_C.SkEpoch) and its guard
@pytest.mark.parametrize(
    "problem,native",
    [("multiclass", True), ("multilabel", True), ("regression", True), ("poisson", False)],
)
def test_stochastic_fit_runs_native_epochs(problem, native):
    X, y = _P[problem]
    est = MLPRegressor if problem in ("regression", "poisson") else MLPClassifier
    kw = {"loss": "poisson"} if problem == "poisson" else {}
    m = est(random_state=0, max_iter=3, **kw).fit(X, y)
    assert hasattr(m, "_epoch") == native
    clone_m = pickle.loads(pickle.dumps(m))  # the native runner is not pickled, only rebuilt
    assert not hasattr(clone_m, "_epoch")


def _sk_epoch_args(dtype=np.float64):
    from fastnn import _C

    rng = np.random.default_rng(0)
    units = [4, 5, 3]
    size = 4 * 5 + 5 * 3 + 5 + 3
    ep = _C.SkEpoch(units, "relu", "softmax", np.dtype(dtype), 8)
    flat = rng.standard_normal(size).astype(dtype)
    args = dict(
        flat=flat,
        grad=np.zeros(size, dtype),
        X=rng.standard_normal((10, 4)).astype(dtype),
        y=rng.integers(0, 3, 10),
        sample_weight=None,
        order=None,
        batch_size=4,
        solver="adam",
        lr=1e-3,
        alpha=1e-4,
        exp_avg=np.zeros(size, dtype),
        exp_avg_sq=np.zeros(size, dtype),
    )
    return ep, args


def test_sk_epoch_runs_every_batch():
    ep, a = _sk_epoch_args()
    before = a["flat"].copy()
    loss_sum, step, batches = ep.run(**a)
    assert (step, batches) == (3, 3) and np.isfinite(loss_sum)
    assert not np.array_equal(a["flat"], before)


@pytest.mark.parametrize(
    "bad,err",
    [
        (dict(y=np.array([0, 1, 2, 3, 0, 0, 0, 0, 0, 0])), "label 3"),
        (dict(y=np.zeros(10, np.int32)), "y has dtype"),
        (dict(order=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10])), "order"),
        (dict(X=np.zeros((10, 4), np.float32)), "X has dtype"),
        (dict(X=np.zeros((10, 5))), "X has"),
        (dict(sample_weight=np.ones(9)), "sample_weight"),
        (dict(exp_avg=np.zeros(3)), "exp_avg"),
        (dict(batch_size=0), "batch_size"),
        (dict(X=np.zeros((10, 8))[:, ::2]), "X must be C-contiguous"),
        (dict(grad=np.zeros(43)[::-1]), "grad must be C-contiguous"),
        (dict(flat=np.zeros(43)), "flat is read-only"),  # made read-only in the test
        (dict(solver="lbfgs"), "solver"),
    ],
)
def test_sk_epoch_bad_input_changes_nothing(bad, err):
    ep, a = _sk_epoch_args()
    if "flat" in bad:
        bad["flat"].flags.writeable = False
    a.update(bad)
    before = a["flat"].copy()
    with pytest.raises((TypeError, ValueError), match=err):
        ep.run(**a)
    np.testing.assert_array_equal(a["flat"], before)
    assert not a["exp_avg"].any()


def test_sk_epoch_hook_error_propagates_and_skips_update():
    ep, a = _sk_epoch_args()
    before = a["flat"].copy()

    def hook():
        raise RuntimeError("allreduce failed")

    with pytest.raises(RuntimeError, match="allreduce failed"):
        ep.run(**a, grad_hook=hook)
    np.testing.assert_array_equal(a["flat"], before)
