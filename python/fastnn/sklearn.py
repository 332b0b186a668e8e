"""scikit-learn compatible multi-layer perceptrons trained by fastnn's native kernels.

``fastnn.sklearn.MLPClassifier`` and ``fastnn.sklearn.MLPRegressor`` are drop-in replacements for
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` (scikit-learn >= 1.3, written against
1.9): same constructor parameters, defaults and validation (scikit-learn's own
``_parameter_constraints``), same fitted attributes (``coefs_[i]`` has shape (fan_in, fan_out)),
same loss (log-loss / half squared error / half Poisson deviance, plus
``0.5 * alpha * sum(W**2) / sum(sample_weight)`` per batch), same Glorot initialisation and random
number stream, same learning-rate schedules, convergence and early-stopping rules. With the same
``random_state`` the iterates equal scikit-learn's up to floating-point rounding.

What differs is the engine: every batch runs a handful of native calls (``fastnn.linear`` with the
bias and hidden activation fused, one fused loss forward+backward, ``fastnn.linear_backward`` per
layer, one multi-tensor ``fastnn.adam_step`` / ``fastnn.sgd_step``) on one contiguous parameter
buffer; ``coefs_[i]`` are transposed views into it. 'lbfgs' hands scipy's L-BFGS-B a function
that evaluates loss and gradient with the same kernels on views of scipy's parameter vector.

Differences from scikit-learn, all deliberate:

* dtype: float32 ``X`` trains in float32 end to end (scikit-learn does too for 'sgd'/'adam'; its
  'lbfgs' silently continues in float64 after the first step; here 'lbfgs' stays in float32 for
  the loss/gradient and only scipy's optimizer state is float64).
* the log-loss is computed from the logits (log-softmax / softplus) instead of clipping
  probabilities at ``eps``: identical except for samples with probability below machine epsilon.
* sparse ``X`` is accepted (as in scikit-learn) and densified.
* ``activation`` also accepts any name from :data:`fastnn.activations` ('gelu', 'silu', ...).

scikit-learn is imported lazily: install it with the ``fastnn[sklearn]`` extra.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _C
from .activations import activations as _act_registry

try:  # scikit-learn is an optional dependency of fastnn
    import scipy.optimize
    import scipy.sparse as _sp
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as _SkMLPClassifier
    from sklearn.neural_network import MLPRegressor as _SkMLPRegressor
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d, gen_batches
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "fastnn.sklearn needs scikit-learn >= 1.3: pip install 'fastnn[sklearn]'"
    ) from exc

try:
    from sklearn.base import _fit_context
except ImportError:  # pragma: no cover

    def _fit_context(prefer_skip_nested_validation):
        def deco(fit):
            def wrapper(est, *args, **kwargs):
                est._validate_params()
                return fit(est, *args, **kwargs)

            return wrapper

        return deco


try:
    from sklearn.utils.metaestimators import available_if
except ImportError:  # pragma: no cover
    available_if = None

__all__ = ["MLPClassifier", "MLPRegressor"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_SK_ACTIVATIONS = {"identity", "logistic", "tanh", "relu"}
# sklearn name -> fastnn native activation name (None = identity, skip the epilogue)
_NATIVE_NAME = {"identity": None, "logistic": "sigmoid"}
# Output activations trained by the native epoch (_C.SkEpoch); "exp" (Poisson) runs in Python.
_NATIVE_OUTPUTS = ("softmax", "logistic", "identity")


def _native(name):
    return getattr(_C, name)


_linear = _native("linear")
_linear_backward = _native("linear_backward")
_uses_output = _native("_linear_backward_uses_output")
_ce_fb = _native("cross_entropy_forward_backward")
_bce_fb = _native("binary_cross_entropy_with_logits_forward_backward")
_mse_fb = _native("mse_loss_forward_backward")
_adam_step = _native("adam_step")
_sgd_step = _native("sgd_step")


def _extend_constraints(base):
    c = dict(base)
    c["activation"] = [StrOptions(_SK_ACTIVATIONS | set(_act_registry))]
    return c


def _lbfgs_iprint_options(iprint):
    try:
        from sklearn.utils.fixes import _get_additional_lbfgs_options_dict

        return _get_additional_lbfgs_options_dict("iprint", iprint)
    except ImportError:  # pragma: no cover
        return {"iprint": iprint}


class _Network:
    """Parameters of an MLP in one contiguous buffer, plus the native forward/backward.

    Layout of ``flat``: all weight matrices first (layer i stored (fan_out, fan_in), torch's
    layout, C order), then all biases. ``W[i]``/``b[i]`` are views; ``coefs_[i] = W[i].T``.
    """

    def __init__(self, layer_units, dtype, flat=None):
        self.layer_units = list(layer_units)
        self.dtype = np.dtype(dtype)
        shapes = [(o, i) for i, o in zip(self.layer_units[:-1], self.layer_units[1:])]
        self.n_weights = sum(o * i for o, i in shapes)
        self.size = self.n_weights + sum(self.layer_units[1:])
        self.shapes = shapes
        self.flat = np.zeros(self.size, self.dtype) if flat is None else flat
        self.W, self.b = self.views(self.flat)

    def views(self, flat):
        W, b, pos = [], [], 0
        for o, i in self.shapes:
            W.append(flat[pos : pos + o * i].reshape(o, i))
            pos += o * i
        for o, _ in self.shapes:
            b.append(flat[pos : pos + o])
            pos += o
        return W, b


class _BaseMLP(BaseEstimator):
    """Shared implementation (mirrors sklearn's BaseMultilayerPerceptron semantics)."""

    # ------------------------------------------------------------------ helpers
    def _hidden_native(self):
        name = self.activation
        return _NATIVE_NAME.get(name, name)

    def _hidden_needs_preact(self):
        nat = self._hidden_native()
        return nat is not None and not _uses_output(nat)

    def _sync_network(self):
        """Make self._net hold the current coefs_/intercepts_ (after unpickling, or if the user
        replaced them), without copying when they are still views of the buffer."""
        net = getattr(self, "_net", None)
        ok = net is not None and len(self.coefs_) == len(net.W)
        if ok:
            for c, W, ic, b in zip(self.coefs_, net.W, self.intercepts_, net.b):
                if not (
                    isinstance(c, np.ndarray)
                    and c.shape == W.T.shape
                    and c.dtype == net.dtype
                    and c.__array_interface__["data"][0] == W.__array_interface__["data"][0]
                    and c.strides == W.T.strides
                    and isinstance(ic, np.ndarray)
                    and ic.dtype == net.dtype
                    and ic.__array_interface__["data"][0] == b.__array_interface__["data"][0]
                ):
                    ok = False
                    break
        if ok:
            return net
        units = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        dtype = np.result_type(*self.coefs_, *self.intercepts_)
        if dtype not in (np.float32, np.float64):
            dtype = np.float64
        net = _Network(units, dtype)
        for W, b, c, ic in zip(net.W, net.b, self.coefs_, self.intercepts_):
            W[...] = np.asarray(c).T
            b[...] = ic
        self._set_network(net)
        return net

    def _set_network(self, net):
        self._net = net
        self.coefs_ = [W.T for W in net.W]
        self.intercepts_ = list(net.b)

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_net", None)  # views do not survive pickling; rebuilt from coefs_
        state.pop("_work", None)
        state.pop("_epoch", None)
        return state

    def __setstate__(self, state):
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:  # pragma: no cover
            self.__dict__.update(state)
        if hasattr(self, "coefs_"):
            self._sync_network()

    # ---------------------------------------------------------------- forward
    def _forward_fast(self, X):
        """Output-layer activations for X (already validated), native kernels throughout."""
        net = self._sync_network()
        X = np.ascontiguousarray(X, dtype=net.dtype)
        hidden = self._hidden_native()
        a = X
        last = len(net.W) - 1
        for i, (W, b) in enumerate(zip(net.W, net.b)):
            a = _linear(a, W, b, hidden if i < last else None)
        return self._output_activation(a)

    def _output_activation(self, z):
        out = self.out_activation_
        if out == "softmax":
            return _C.softmax(z, out=z)
        if out == "logistic":
            return _C.sigmoid(z, out=z)
        if out == "exp":
            return np.exp(z, out=z)
        return z

    def _validate_X_predict(self, X):
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if _sp.issparse(X):
            X = X.toarray()
        return X

    # ------------------------------------------------------------ loss + grad
    def _make_work(self, net, rows):
        """Per-fit scratch buffers sized for `rows` samples per batch."""
        units = net.layer_units
        dt = net.dtype
        acts = [None] + [np.empty((rows, u), dt) for u in units[1:]]
        pre = None
        if self._hidden_needs_preact():
            pre = [None] + [np.empty((rows, u), dt) for u in units[1:-1]] + [None]
        gin = [None] + [np.empty((rows, u), dt) for u in units[1:-1]]
        dz = np.empty((rows, units[-1]), dt)
        return {"rows": rows, "acts": acts, "pre": pre, "gin": gin, "dz": dz}

    def _loss_grad(self, net, W, b, grad_W, grad_b, work, X, Y, yidx, sw):
        """Forward + backward on one batch. Writes the data gradient (without the L2 term) into
        grad_W / grad_b and returns (data loss, sw_sum)."""
        m = X.shape[0]
        hidden = self._hidden_native()
        L = len(W)
        acts, pre, gin = work["acts"], work["pre"], work["gin"]
        a = X
        outs = [X]
        for i in range(L):
            y = acts[i + 1][:m]
            if i < L - 1:
                p = pre[i + 1][:m] if pre is not None else None
                _linear(a, W[i], b[i], hidden, out=y, preact_out=p)
            else:
                _linear(a, W[i], b[i], None, out=y)
            outs.append(y)
            a = y
        z = outs[-1]
        dz = work["dz"][:m]
        k = z.shape[1]
        if sw is None:
            sw_sum = float(m)
        else:
            sw_sum = float(sw.sum())
        out = self.out_activation_
        if out == "softmax":
            if sw is None:
                loss, _ = _ce_fb(z, yidx, reduction="mean", out=dz)
                loss = float(loss)
            else:
                lv, _ = _ce_fb(z, yidx, reduction="none", grad_output=sw / sw_sum, out=dz)
                loss = float(np.dot(lv, sw)) / sw_sum
        elif out == "logistic":
            if sw is None:
                loss, _ = _bce_fb(z, Y, reduction="sum", grad_output=1.0 / m, out=dz)
                loss = float(loss) / m
            else:
                g = np.repeat((sw / sw_sum)[:, None], k, axis=1)
                lv, _ = _bce_fb(z, Y, reduction="none", grad_output=g, out=dz)
                loss = float(np.dot(sw, lv.sum(axis=1))) / sw_sum
        elif out == "identity":
            if sw is None:
                loss, _ = _mse_fb(z, Y, reduction="sum", grad_output=0.5 / m, out=dz)
                loss = 0.5 * float(loss) / (m * k)
            else:
                g = np.repeat((0.5 * sw / sw_sum)[:, None], k, axis=1)
                lv, _ = _mse_fb(z, Y, reduction="none", grad_output=g, out=dz)
                loss = 0.5 * float(np.dot(sw, lv.sum(axis=1))) / (sw_sum * k)
        else:  # 'exp': half Poisson deviance (no native kernel; vectorised NumPy)
            from scipy.special import xlogy

            p = np.exp(z)
            dev = xlogy(Y, Y / p) - Y + p
            if sw is None:
                loss = float(dev.sum()) / m
                np.subtract(p, Y, out=dz)
                dz *= 1.0 / m
            else:
                loss = float(np.dot(sw, dev.sum(axis=1))) / sw_sum
                np.subtract(p, Y, out=dz)
                dz *= (sw / sw_sum)[:, None]
        # backward, output layer first
        g = dz
        for i in range(L - 1, -1, -1):
            act = None if i == L - 1 else hidden
            kw = {}
            if act is not None:
                if pre is not None:
                    kw["preact"] = pre[i + 1][:m]
                else:
                    kw["y"] = outs[i + 1]
            gi = gin[i][:m] if i > 0 else None
            _linear_backward(
                g,
                outs[i],
                W[i],
                activation=act,
                need_grad_input=i > 0,
                grad_input=gi,
                grad_weight=grad_W[i],
                grad_bias=grad_b[i],
                **kw,
            )
            g = gi
        return loss, sw_sum

    # -------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if _sp.issparse(X):
            X = X.toarray()
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features] + hidden_layer_sizes + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)

        sync = self._fit_sync()
        if sync is not None:
            sync.check_same("number of samples", int(n_samples))
            sync.check_same("number of features", int(n_features))
            if is_classifier(self):
                sync.check_same("classes", [str(c) for c in self.classes_])
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        net = self._sync_network()
        if sync is not None:
            sync.broadcast(net.flat)
        dt = net.dtype
        X = np.ascontiguousarray(X, dtype=dt)
        Y = np.ascontiguousarray(y, dtype=dt)
        yidx = Y.argmax(axis=1).astype(np.int64) if self.out_activation_ == "softmax" else None
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=dt)

        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(net, X, Y, yidx, sample_weight, incremental)
        else:
            self._fit_lbfgs(net, X, Y, yidx, sample_weight)
            net = self._net

        if not np.isfinite(self._net.flat).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _fit_sync(self):
        """Collectives for a data-parallel fit (fastnn.distributed.fit), or None."""
        comm = getattr(self, "_comm", None)
        if comm is None or comm.Get_size() == 1:
            return None
        from .distributed import _FitSync

        return _FitSync(comm)

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        net = _Network(layer_units, dtype)
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        for i, (W, b) in enumerate(zip(net.W, net.b)):
            fan_in, fan_out = layer_units[i], layer_units[i + 1]
            bound = np.sqrt(factor / (fan_in + fan_out))
            # same random stream as sklearn: coef (fan_in, fan_out) then intercept
            W[...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = self._random_state.uniform(-bound, bound, fan_out)
        self._set_network(net)
        self._optimizer_state = None
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # ----------------------------------------------------------------- lbfgs
    def _fit_lbfgs(self, net, X, Y, yidx, sw):
        work = self._make_work(net, X.shape[0])
        alpha = float(self.alpha)
        nw = net.n_weights
        dt = net.dtype
        x_views = {}

        sync = self._fit_sync()

        def fun(x):
            if dt == np.float64 and x.dtype == np.float64 and x.flags.c_contiguous:
                key = x.__array_interface__["data"][0]
                if key not in x_views:
                    x_views.clear()
                    x_views[key] = net.views(x)
                W, b = x_views[key]
                params = x
            else:
                np.copyto(net.flat, x, casting="unsafe")
                W, b, params = net.W, net.b, net.flat
            grad = np.empty(net.size, dt)
            gW, gb = net.views(grad)
            loss, sw_sum = self._loss_grad(net, W, b, gW, gb, work, X, Y, yidx, sw)
            if sync is not None:  # means over every rank's data
                grad *= sw_sum
                sync.sum_into(grad)
                loss, sw_sum = sync.sum(loss * sw_sum, sw_sum)
                loss /= sw_sum
                grad /= sw_sum
            w = params[:nw]
            loss += 0.5 * alpha * float(np.dot(w, w)) / sw_sum
            if alpha:
                grad[:nw] += (alpha / sw_sum) * w
            return loss, grad

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        opt_res = scipy.optimize.minimize(
            fun,
            net.flat.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **_lbfgs_iprint_options(iprint),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = float(opt_res.fun)
        np.copyto(net.flat, opt_res.x, casting="unsafe")
        self._set_network(net)

    # ------------------------------------------------------------ stochastic
    def _new_optimizer_state(self, net):
        st = {"solver": self.solver, "t": 0, "lr": float(self.learning_rate_init)}
        if self.solver == "adam":
            st["m"] = np.zeros(net.size, net.dtype)
            st["v"] = np.zeros(net.size, net.dtype)
        elif self.momentum != 0:
            # torch-form buffer: sklearn velocity = -lr * buf
            st["buf"] = np.zeros(net.size, net.dtype)
            st["buf_lr"] = st["lr"]
        return st

    def _optimizer_update(self, st, net, grad, n_w, wd):
        """One step over the whole buffer: weights (with the L2 term as weight decay) and biases."""
        p, g = net.flat, grad
        parts = [(p[:n_w], g[:n_w], wd, slice(0, n_w)), (p[n_w:], g[n_w:], 0.0, slice(n_w, None))]
        st["t"] += 1
        if st["solver"] == "adam":
            t = st["t"]
            b1, b2 = float(self.beta_1), float(self.beta_2)
            # sklearn: p -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps); torch divides sqrt(v) by
            # sqrt(1-b2^t) before adding eps, so eps_torch = eps / sqrt(1-b2^t).
            eps_t = float(self.epsilon) / np.sqrt(1.0 - b2**t)
            for pp, gg, w, sl in parts:
                _adam_step(
                    [pp],
                    [gg],
                    [st["m"][sl]],
                    [st["v"][sl]],
                    step=t,
                    lr=st["lr"],
                    beta1=b1,
                    beta2=b2,
                    eps=eps_t,
                    weight_decay=w,
                )
        else:
            mom = float(self.momentum)
            lr = st["lr"]
            if mom != 0:
                if st["buf_lr"] != lr:  # keep sklearn's velocity when the learning rate changes
                    st["buf"] *= st["buf_lr"] / lr
                    st["buf_lr"] = lr
                for pp, gg, w, sl in parts:
                    _sgd_step(
                        [pp],
                        [gg],
                        [st["buf"][sl]],
                        lr=lr,
                        momentum=mom,
                        weight_decay=w,
                        nesterov=bool(self.nesterovs_momentum),
                    )
            else:
                for pp, gg, w, sl in parts:
                    _sgd_step([pp], [gg], lr=lr, weight_decay=w)

    def _iteration_ends(self, st, time_step):
        if st["solver"] == "sgd" and self.learning_rate == "invscaling":
            st["lr"] = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def _trigger_stopping(self, st, msg, verbose):
        if st["solver"] == "adam" or self.learning_rate != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if st["lr"] <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        st["lr"] /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % st["lr"])
        return False

    def _native_epoch(self, net, batch_size):
        """The native epoch runner for this network and batch size (cached between fits)."""
        hidden = self._hidden_native() or "identity"
        key = (tuple(net.layer_units), hidden, self.out_activation_, net.dtype, batch_size)
        cached = getattr(self, "_epoch", None)
        if cached is None or cached[0] != key:
            cached = (
                key,
                _C.SkEpoch(
                    list(net.layer_units), hidden, self.out_activation_, net.dtype, batch_size
                ),
            )
            self._epoch = cached
        return cached[1]

    def _run_native_epoch(
        self, epoch, st, net, grad, X, targets, sw, order, batch_size, alpha, hook
    ):
        """One epoch in one native call; returns the sum of batch losses times batch rows."""
        adam = st["solver"] == "adam"
        mom = 0.0 if adam else float(self.momentum)
        if mom != 0 and st["buf_lr"] != st["lr"]:
            st["buf"] *= st["buf_lr"] / st["lr"]  # keep sklearn's velocity when lr changes
            st["buf_lr"] = st["lr"]
        loss_sum, step, batches = epoch.run(
            net.flat,
            grad,
            X,
            targets,
            sw,
            None if order is None else np.ascontiguousarray(order, dtype=np.int64),
            batch_size=batch_size,
            solver=st["solver"],
            lr=st["lr"],
            alpha=alpha,
            beta1=float(self.beta_1),
            beta2=float(self.beta_2),
            eps=float(self.epsilon),
            momentum=mom,
            nesterov=bool(self.nesterovs_momentum),
            exp_avg=st.get("m"),
            exp_avg_sq=st.get("v"),
            momentum_buffer=st.get("buf"),
            step=st["t"],
            grad_hook=hook,
        )
        st["t"] = step if adam else st["t"] + batches
        return loss_sum

    def _python_epoch(
        self, net, X_train, Y_train, idx_train, sw_train, batch_size, grad, alpha, hook
    ):
        """Per-batch Python loop (outputs without a native epoch: the Poisson loss)."""
        work = getattr(self, "_work", None)
        if (
            work is None
            or work["rows"] != batch_size
            or work["dz"].dtype != net.dtype
            or [a.shape[1] for a in work["acts"][1:]] != net.layer_units[1:]
        ):
            work = self._make_work(net, batch_size)
            self._work = work
        xb = np.empty((batch_size, X_train.shape[1]), net.dtype)
        yb = np.empty((batch_size, Y_train.shape[1]), net.dtype)
        ib = np.empty(batch_size, np.int64) if idx_train is not None else None
        swb = np.empty(batch_size, net.dtype) if sw_train is not None else None
        gW, gb = net.views(grad)
        nw = net.n_weights
        wflat = net.flat[:nw]
        W, b = net.W, net.b
        n_samples = X_train.shape[0]

        def run_epoch(st, sample_idx):
            accumulated_loss = 0.0
            for batch_slice in gen_batches(n_samples, batch_size):
                m = batch_slice.stop - batch_slice.start
                if self.shuffle:
                    bi = sample_idx[batch_slice]
                    Xb = np.take(X_train, bi, axis=0, out=xb[:m])
                    Yb = np.take(Y_train, bi, axis=0, out=yb[:m])
                    Ib = np.take(idx_train, bi, out=ib[:m]) if ib is not None else None
                    Sb = np.take(sw_train, bi, out=swb[:m]) if swb is not None else None
                else:
                    Xb, Yb = X_train[batch_slice], Y_train[batch_slice]
                    Ib = idx_train[batch_slice] if idx_train is not None else None
                    Sb = sw_train[batch_slice] if sw_train is not None else None
                # the L2 term uses the weights before this step's update
                l2 = float(np.dot(wflat, wflat)) if alpha else 0.0
                loss, sw_sum = self._loss_grad(net, W, b, gW, gb, work, Xb, Yb, Ib, Sb)
                loss += 0.5 * alpha * l2 / sw_sum
                accumulated_loss += loss * m
                if hook is not None:
                    hook()
                self._optimizer_update(st, net, grad, nw, alpha / sw_sum)
            return accumulated_loss

        return run_epoch

    def _fit_stochastic(self, net, X, Y, yidx, sample_weight, incremental):
        st = getattr(self, "_optimizer_state", None)
        if not incremental or st is None or st.get("m", st.get("buf", net.flat)).size != net.size:
            st = self._new_optimizer_state(net)
            self._optimizer_state = st

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            should_stratify = is_classifier(self) and self.n_outputs_ == 1
            stratify = Y if should_stratify else None
            arrays = [X, Y] + ([yidx] if yidx is not None else [])
            if sample_weight is not None:
                arrays.append(sample_weight)
            parts = train_test_split(
                *arrays,
                random_state=self._random_state,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X_train, X_val, Y_train, Y_val = parts[:4]
            rest = parts[4:]
            idx_train = None
            if yidx is not None:
                idx_train, rest = rest[0], rest[2:]
            sw_train = sw_val = None
            if sample_weight is not None:
                sw_train, sw_val = rest[0], rest[1]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(Y_val.astype(bool))
            else:
                y_val = Y_val
            X_train = np.ascontiguousarray(X_train)
            Y_train = np.ascontiguousarray(Y_train)
            best = net.flat.copy()
        else:
            X_train, Y_train, idx_train, sw_train = X, Y, yidx, sample_weight
            X_val = y_val = sw_val = None
            best = None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        sync = self._fit_sync()
        # Data-parallel: the L2 term is split over the ranks, whose averaged gradients then
        # weigh it as one process training on the global batch would.
        alpha = float(self.alpha) / (1 if sync is None else sync.world)
        native = self.out_activation_ in _NATIVE_OUTPUTS
        grad = np.empty(net.size, net.dtype)
        hook = None if sync is None else sync.averager(grad)
        if native:
            epoch = self._native_epoch(net, batch_size)
            targets = np.ascontiguousarray(idx_train if idx_train is not None else Y_train)
            sw_c = None if sw_train is None else np.ascontiguousarray(sw_train)
            X_c = np.ascontiguousarray(X_train)
        else:
            run_epoch = self._python_epoch(
                net, X_train, Y_train, idx_train, sw_train, batch_size, grad, alpha, hook
            )

        try:
            self.n_iter_ = 0
            for it in range(self.max_iter):
                if self.shuffle:
                    # sklearn.utils.shuffle(sample_idx, random_state=...), without its overhead:
                    # the same random stream and the same permutation
                    perm = np.arange(n_samples)
                    self._random_state.shuffle(perm)
                    sample_idx = sample_idx[perm]
                if native:
                    accumulated_loss = self._run_native_epoch(
                        epoch,
                        st,
                        net,
                        grad,
                        X_c,
                        targets,
                        sw_c,
                        sample_idx if self.shuffle else None,
                        batch_size,
                        alpha,
                        hook,
                    )
                else:
                    accumulated_loss = run_epoch(st, sample_idx)

                self.n_iter_ += 1
                seen = n_samples
                if sync is not None:  # every rank takes the same decisions from here on
                    accumulated_loss, seen = sync.sum(accumulated_loss, n_samples)
                    seen = int(seen)
                self.loss_ = accumulated_loss / seen
                self.t_ += seen
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))

                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val, best, sync)
                self._iteration_ends(st, self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs." % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs." % (self.tol, self.n_iter_no_change)
                        )
                    if self._trigger_stopping(st, msg, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break

                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")

        if early_stopping:
            np.copyto(net.flat, best)

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val, best, sync=None):
        if early_stopping:
            val_score = self._score(X_val, y_val, sample_weight=sw_val)
            if sync is not None:  # the mean over every rank's validation samples
                total, count = sync.sum(val_score * X_val.shape[0], X_val.shape[0])
                val_score = total / count
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last = self.validation_scores_[-1]
            if last < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last > self.best_validation_score_:
                self.best_validation_score_ = last
                np.copyto(best, self._net.flat)
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ----------------------------------------------------------- public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y (optionally weighted samples)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _partial_fit_available(est):
    return est._check_solver()


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: ``sklearn.neural_network.MLPClassifier`` on fastnn.

    Same parameters, defaults, attributes and semantics as scikit-learn's (see the module
    docstring for the few deliberate differences); trained by fastnn's native kernels.
    """

    _parameter_constraints = _extend_constraints(_SkMLPClassifier._parameter_constraints)
    loss = "log_loss"  # class attribute, as sklearn's (not a constructor parameter)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """Predict class labels for X."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        if check_input:
            X = self._validate_X_predict(X)
        y_pred = self._forward_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data."""
        self._check_solver()
        return self._partial_fit(X, y, sample_weight=sample_weight, classes=classes)

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X, y, sample_weight=None, classes=None):
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of the probability estimates (log(predict_proba(X)))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates, columns ordered as ``classes_``."""
        check_is_fitted(self)
        X = self._validate_X_predict(X)
        y_pred = self._forward_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: ``sklearn.neural_network.MLPRegressor`` on fastnn.

    Same parameters, defaults, attributes and semantics as scikit-learn's (see the module
    docstring for the few deliberate differences); trained by fastnn's native kernels.
    """

    _parameter_constraints = _extend_constraints(_SkMLPRegressor._parameter_constraints)

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def predict(self, X):
        """Predict using the multi-layer perceptron model."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        if check_input:
            X = self._validate_X_predict(X)
        y_pred = self._forward_fast(X)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data."""
        return self._partial_fit(X, y, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X, y, sample_weight=None):
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)


if available_if is not None:
    # partial_fit exists only for the stochastic solvers (hasattr(est, "partial_fit") is False
    # for 'lbfgs'), as in scikit-learn.
    MLPClassifier.partial_fit = available_if(_partial_fit_available)(MLPClassifier.partial_fit)
    # (scikit-learn's MLPRegressor.partial_fit is available for every solver; so is this one.)
