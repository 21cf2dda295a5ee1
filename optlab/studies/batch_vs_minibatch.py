r"""batch_vs_minibatch: full-batch GD, SGD and minibatch SGD on least squares.

``linear_regression`` with one feature has two parameters (w, b), so its
loss :math:`L(w, b) = \frac1n \sum_i (x_i w + b - y_i)^2` can be drawn. The
gradient of a minibatch B is :math:`\frac{2}{|B|}\sum_{i\in B} (x_i w + b - y_i)(x_i, 1)`,
an unbiased but noisy estimate of the full gradient. With the same
learning rate:

* **full batch** (batch_size 0): one step per epoch, n gradient evaluations
  per step; deterministic GD on a convex quadratic, it converges to the
  least-squares solution (checked against ``numpy.linalg.lstsq``).
* **SGD** (batch_size 1): n steps per epoch, one evaluation each; fast
  progress per evaluation early on, then it hovers in a noise ball around
  the solution whose size scales with lr (constant-lr SGD does not converge).
* **minibatch** (batch_size m): in between; the noise variance falls like 1/m.

Epoch = n per-sample gradient evaluations. Minibatches are drawn without
replacement within each epoch from the engine's counter-based generator
(keyed by seed, trajectory, epoch), so runs are reproducible.
"""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..errors import OptlabError
from ..manifest import add_runs, unique_name
from ..plots import save
from ..plots.minibatch import minibatch_figure
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, positive_int, save_arrays,
                       sgd_like, study_params)

NAME = "batch_vs_minibatch"

DEFAULTS = dict(
    objective={"name": "linear_regression", "n_samples": 256, "noise": 0.5, "seed": 0},
    batch_sizes=[0, 1, 32],   # 0 = full batch
    lr=0.05,
    epochs=400,
    x0=[-3.0, 3.0],
)
QUICK = dict()  # already quick: one trajectory per batch size


def least_squares_data(entry):
    """(X, y) of a linear_regression entry, decoded from its parameter array (layout in
    ``optlab.objectives._data``: 8 header values, then X row-major, then y)."""
    p = entry.spec.make_params(entry.dim, **{**entry.options, "batch_size": 0})
    n, d = int(p[0]), int(p[1])
    X = p[8:8 + n * d].reshape(n, d)
    y = p[8 + n * d: 8 + n * d + n]
    return X, y


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    sizes = as_float_list("batch_sizes", study_params(cfg, NAME, DEFAULTS, QUICK)["batch_sizes"], minimum=0)
    # minibatches among the sizes: the objective's general function, which serves the full batch too
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, ["gd"], extra=(), minibatches=any(m > 0 for m in sizes))


@register(NAME, kernels=kernels)
def run(cfg: dict, out_dir) -> dict:
    """Full batch vs SGD vs minibatch on 2-parameter least squares: paths, loss per epoch and per evaluation."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    (e,) = objective_entries([p["objective"]], NAME)
    if e.name != "linear_regression":
        raise OptlabError(f"Study '{NAME}' compares batch sizes on least squares; objective '{e.name}' is not "
                          "linear_regression. Use objective {name: linear_regression} (logistic_regression and mlp "
                          "take batch_size too: run them with the 'compare' study)")
    if e.dim != 2:
        raise OptlabError(f"Study '{NAME}' draws the loss over (w, b); linear_regression with dim={e.dim} has "
                          f"{e.dim - 1} features. Use dim 2 (one feature and the bias)")
    if "batch_size" in e.options:
        raise OptlabError("Give the batch sizes as study.batch_sizes (a list), not objective.batch_size")
    sizes = [int(v) for v in as_float_list("batch_sizes", p["batch_sizes"], minimum=0)]
    lr = as_float_list("lr", p["lr"], minimum=0.0)[0]
    epochs = positive_int("epochs", p["epochs"])
    x0 = np.asarray(as_float_list("x0", p["x0"]), dtype=float).reshape(1, 2)
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    X, y = least_squares_data(e)
    n = len(y)
    Z = np.hstack([X, np.ones((n, 1))])
    theta_ls = np.linalg.lstsq(Z, y, rcond=None)[0]
    f_ls = float(np.mean((Z @ theta_ls - y) ** 2))
    for m in sizes:
        if m > n:
            raise OptlabError(f"Invalid batch size {m}: larger than n_samples = {n} (0 = full batch)")

    runs, rows, arrays, keys = [], [], {}, []
    opt, hyper = sgd_like("gd", lr=lr, momentum=0.0)
    for m in sizes:
        per_step = n if m in (0, n) else m
        steps_per_epoch = 1 if m in (0, n) else -(-n // m)
        steps = epochs * steps_per_epoch
        res = simulate(opt, e.name, x0=x0, steps=steps, record_every=1, tol=0.0,
                       objective_options={**e.options, "batch_size": m}, **hyper, **eng)
        label = "full batch (GD)" if m in (0, n) else ("SGD, batch 1" if m == 1 else f"minibatch {m}")
        method = "gd" if m in (0, n) else ("sgd" if m == 1 else "minibatch")  # the colour's key: three colours
        style = "solid" if m in (0, n, 1) else "dashed"
        gap = res.loss[0] - f_ls
        evals = res.steps * per_step
        runs.append(dict(label=f"{label}, lr={lr:g}", method=method, style=style, x=res.x[0], gap=gap,
                         epoch=evals / n, evals=evals))
        theta = res.x_final[0]
        tail = gap[-max(2, len(gap) // 10):]
        rows.append(dict(run=label, batch_size=m, lr=lr, steps=steps, grad_evals=int(evals[-1]), epochs=epochs,
                         theta_final=theta.tolist(), distance_to_lstsq=float(np.linalg.norm(theta - theta_ls)),
                         final_gap=float(gap[-1]), mean_gap_last_10pct=float(np.mean(tail))))
        key = unique_name(f"batch_{m}", {k.rsplit("__", 1)[0] for k in arrays})  # a repeated size too
        arrays[f"{key}__x"] = res.x[0]
        arrays[f"{key}__gap"] = gap
        keys.append((label, [f"{key}__x", f"{key}__gap"]))
    fig = minibatch_figure(e.spec, {**e.options, "batch_size": 0}, runs, theta_ls,
                           f"Least squares, n = {n} samples, 2 parameters (w, b): full batch vs SGD vs minibatch, "
                           f"same lr = {lr:g}, {epochs} epochs")
    figure_path = save(fig, out_dir / "batch_vs_minibatch", fmt, dpi)
    save_arrays(out_dir / "batch_vs_minibatch.npz", theta_lstsq=theta_ls, **arrays)
    add_runs(out_dir, "batch_vs_minibatch.npz", "arrays", keys)
    doc = dict(study=NAME, objective=e.label, n_samples=n, theta_lstsq=theta_ls.tolist(), loss_lstsq=f_ls,
               runs=rows, figures=[figure_path.name])
    return finish(out_dir, doc, {"study": NAME, "title": "batch_vs_minibatch: GD, SGD and minibatch on least squares",
                                 "theta_lstsq": theta_ls.tolist(), "runs": rows, "figures": [figure_path.name],
                                 "table": _table(rows)})


def _table(rows) -> str:
    head = f"{'run':<18} {'steps':>7} {'grad evals':>10} {'|θ − θ_lstsq|':>14} {'final gap':>10} {'mean gap, last 10%':>19}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['run']:<18} {r['steps']:>7} {r['grad_evals']:>10} {r['distance_to_lstsq']:>14.3e} "
                     f"{r['final_gap']:>10.3e} {r['mean_gap_last_10pct']:>19.3e}")
    return "\n".join(lines)
