r"""local_minima: which minimum does each start end in?

For each objective a grid of ``n x n`` start points covers the box; each
optimizer runs every start in one engine call. A run is labelled by where
it ends: the nearest minimum of ``spec.stationary_points`` within
``radius`` (its basin color), another stationary point (final gradient norm
below ``gtol`` but no listed minimum near: a saddle, or a minimum outside
the listed box), "not converged" or "diverged". The colored grids are the
basins of attraction *of that optimizer with that learning rate*: GD's are
close to the gradient flow's; momentum and Adam carry iterates across
ridges, so their basins are ragged and interleaved.

The table gives the share of starts reaching a global minimum per
optimizer, and the share per minimum in metrics.json.
"""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..analysis.basins import classify, global_index as global_minima_index
from ..errors import OptlabError
from ..plots import save
from ..plots.basins import basin_figure, share_figure
from . import register
from ._lecture import planned_kernels
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, points_of_kind,
                       positive_int, require_2d, save_arrays, sgd_like, study_params)

NAME = "local_minima"

DEFAULTS = dict(
    objectives=[
        {"name": "himmelblau", "lr": {"gd": 0.01, "momentum": 0.01, "adam": 0.1}, "steps": 1500},
        {"name": "six_hump_camel", "box": [[-2.0, 2.0], [-1.2, 1.2]],
         "lr": {"gd": 0.01, "momentum": 0.01, "adam": 0.05}, "steps": 1500},
        {"name": "rastrigin", "box": [[-2.2, 2.2], [-2.2, 2.2]],
         "lr": {"gd": 0.002, "momentum": 0.004, "adam": 0.5}, "steps": 1500},
    ],
    methods=["gd", "momentum", "adam"],
    momentum=0.9,
    n=200,          # n x n start points per optimizer and objective
    radius=0.1,     # a run ends "at" a minimum when within this distance
    gtol=1e-3,      # ... or at another stationary point when its final gradient norm is below this
)
QUICK = dict(n=48, objectives=[
    {"name": "himmelblau", "lr": {"gd": 0.01, "momentum": 0.01, "adam": 0.1}, "steps": 600},
])
ENTRY_KEYS = ("box", "lr", "steps")
METHODS = ("gd", "momentum", "adam", "nesterov", "rmsprop", "adagrad", "sgd")


def _optimizer_run(method, lr, beta):
    if method == "adam":
        return "adam", dict(lr=lr), f"adam lr={lr:g}"
    if method in ("gd", "momentum", "nesterov"):
        mom = 0.0 if method == "gd" else beta
        opt, hyper = sgd_like(method, lr=lr, momentum=mom, **({"nesterov": True} if method == "nesterov" else {}))
        return opt, hyper, f"{method} lr={lr:g}" + (f", β={beta:g}" if mom else "")
    return method, dict(lr=lr), f"{method} lr={lr:g}"


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    return planned_kernels(cfg, NAME, DEFAULTS, QUICK, study_params(cfg, NAME, DEFAULTS, QUICK)["methods"], extra=ENTRY_KEYS)


@register(NAME, kernels=kernels)
def run(cfg: dict, out_dir) -> dict:
    """Basins of attraction on an n x n grid of starts, per optimizer and objective."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=ENTRY_KEYS)
    for e in entries:
        require_2d(e, NAME, "colors a 2-D grid of start points by the minimum each run reaches",
                   "himmelblau, six_hump_camel, rastrigin (dim 2), beale, goldstein_price, three_hump_camel")
    methods = list(p["methods"]) if isinstance(p["methods"], (list, tuple)) else [p["methods"]]
    n = positive_int("n", p["n"], minimum=2)
    beta = as_float_list("momentum", p["momentum"], minimum=0.0)[0]
    radius = as_float_list("radius", p["radius"], minimum=0.0)[0]
    gtol = as_float_list("gtol", p["gtol"], minimum=0.0)[0]
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    plans = []
    for e in entries:
        box = np.asarray(e.extra.get("box", e.spec.bounds(2)), dtype=float)
        if box.shape != (2, 2) or not np.all(box[:, 0] < box[:, 1]):
            raise OptlabError(f"Invalid box for '{e.name}': {e.extra.get('box')!r} (must be [[x_lo, x_hi], [y_lo, y_hi]])")
        lrs = dict(e.extra.get("lr") or {})
        for m in methods:
            if m not in lrs:
                raise OptlabError(f"No learning rate for optimizer '{m}' on '{e.name}': give it in the objective "
                                  f"entry as lr: {{{m}: ...}}")
        minima = [(np.asarray(q.x, dtype=float), float(q.value)) for q in points_of_kind(e.spec, "minimum", 2)]
        if not minima:
            raise OptlabError(f"Objective '{e.name}' lists no minima, so there is nothing to color basins by; "
                              "use himmelblau, six_hump_camel or rastrigin")
        plans.append((e, box, lrs, minima))

    figures, rows, share_rows, arrays = [], [], [], {}
    for e, box, lrs, minima in plans:
        steps = positive_int("steps", e.extra.get("steps", 1000))
        xs = np.linspace(box[0, 0], box[0, 1], n)
        ys = np.linspace(box[1, 0], box[1, 1], n)
        starts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        global_index = global_minima_index(minima)
        panels, obj_rows = [], []
        for m in methods:
            opt, hyper, label = _optimizer_run(m, float(lrs[m]), beta)
            res = simulate(opt, e.name, x0=starts, steps=steps, record_every=steps,
                           objective_options=e.options, **hyper, **eng)
            cats = classify(res.x_final, res.grad_norm_final, res.diverged_step >= 0, minima, radius, gtol)
            k = len(minima)
            counts = np.bincount(cats, minlength=k + 3) / cats.size
            shares = {"global": float(sum(counts[i] for i in global_index)),
                      "other_stationary": float(counts[k]), "not_converged": float(counts[k + 1]),
                      "diverged": float(counts[k + 2])}
            per_min = [dict(x=minima[i][0].tolist(), value=minima[i][1], share=float(counts[i]),
                            is_global=i in global_index) for i in range(k)]
            panels.append(dict(label=f"{label}, {steps} steps", method=m, labels=cats.reshape(n, n), shares=shares))
            obj_rows.append(dict(optimizer=opt, method=m, label=label, lr=float(lrs[m]), steps=steps, **shares,
                                 minima_reached=int(sum(1 for i in range(k) if counts[i] > 0)), per_minimum=per_min,
                                 wall_s=round(res.timing.get("total_s", 0.0), 3)))
            arrays[f"{e.slug}__{m}__category"] = cats.reshape(n, n)
        arrays[f"{e.slug}__minima"] = np.asarray([x for x, _ in minima])
        fig = basin_figure(e.spec, e.options, box, panels, minima,
                           f"Basins of attraction on {e.label}: {n}×{n} starts, colored by the minimum each run "
                           f"reaches (within {radius:g})", global_index=global_index)
        figures.append(save(fig, out_dir / f"basins_{e.slug}", fmt, dpi).name)
        rows.append(dict(objective=e.label, box=box.tolist(), n=n, n_minima=len(minima), runs=obj_rows))
        n_glob = len(global_index)
        share_rows.append((e.label + (f"\n({n_glob} global minima)" if n_glob > 1 else ""),
                           [(r["label"], r["method"], r["global"]) for r in obj_rows]))

    fig = share_figure(share_rows, f"Share of {n}×{n} starts that reaches a global minimum, per optimizer")
    figures.append(save(fig, out_dir / "basins_share", fmt, dpi).name)
    save_arrays(out_dir / "local_minima.npz", **arrays)
    metrics = dict(study=NAME, n=n, radius=radius, gtol=gtol, objectives=rows, figures=figures)
    return finish(out_dir, metrics, {"study": NAME,
                                     "title": "local_minima: basins of attraction and the share reaching a global minimum",
                                     "objectives": rows, "figures": figures, "table": _table(rows)})


def _table(rows) -> str:
    head = f"{'objective':<16} {'optimizer':<26} {'global':>7} {'minima hit':>10} {'other':>6} {'not conv':>8} {'div':>6}"
    lines = [head, "-" * len(head)]
    for row in rows:
        for r in row["runs"]:
            lines.append(f"{row['objective'][:16]:<16} {r['label'][:26]:<26} {100 * r['global']:>6.1f}% "
                         f"{r['minima_reached']:>4}/{row['n_minima']:<5} {100 * r['other_stationary']:>5.1f}% "
                         f"{100 * r['not_converged']:>7.1f}% {100 * r['diverged']:>5.1f}%")
    return "\n".join(lines)
