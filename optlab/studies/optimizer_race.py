r"""optimizer_race: every registered optimizer, each with its own tuned learning rate.

For each objective and each optimizer of the registry (``optlab.optimizers.names()``,
minus ``exclude``):

1. **lr search** (:func:`optlab.analysis.tuning.tune_lr`): one engine call
   runs a log grid of ``n_lr`` learning rates (``decades`` around the
   optimizer's torch default, plus the default itself) from ``n_starts``
   start points (the race start and random ones in the box). Criterion: the
   median over the starts of the final gap f - f*, gaps <= ``floor`` count as
   0, ties go to the larger lr.
2. **race**: the tuned lr from the race start, every step recorded.

Optimizers with special needs:

* ``lbfgs`` runs with ``max_iter=1`` (no line search): one step is then one
  gradient evaluation, like every other optimizer here, instead of up to 20
  inner iterations per ``step()``; its curvature history still builds the
  quasi-Newton direction. Set ``lbfgs_max_iter`` to change it
  (``Result.extra["func_evals"]`` counts the evaluations).
* ``sparse_adam`` is fed the dense gradient (as ``grad.to_sparse()``: every
  nonzero coordinate is active); it then is Adam with eps added to the
  uncorrected sqrt(v) -- expect it next to Adam.
* presets of one algorithm (``gd``, ``momentum``, ``nesterov`` ... of
  ``sgd``) race as separate entries with their preset hyperparameters.
* optimizers made for one model's parameter blocks (``muon_adamw``: the MLP
  objective only) cannot race on a 2-D objective and are left out unless
  ``include`` names them (then the run says why it cannot).
"""
from __future__ import annotations

import time

import numpy as np

from .. import optimizers, simulate
from ..analysis.tuning import default_grid, tune_lr
from ..errors import OptlabError
from ..plots import save
from ..plots.animation import animate_paths
from ..plots.curves import loss_figure
from ..plots.landscape import contour_figure
from ..plots.panels import contour_panels
from ..plots.style import color_for, figure
from . import register
from ._lecture import (finish, as_float_list, engine_options, objective_entries, plot_options, positive_int, require_2d,
                       save_arrays, study_params)

NAME = "optimizer_race"

DEFAULTS = dict(
    objectives=[
        {"name": "rosenbrock", "x0": [-1.5, 2.0]},
        {"name": "beale", "x0": [1.0, 1.5]},
        {"name": "rastrigin", "x0": [2.3, -1.6]},
    ],
    include=None,         # None: every registered optimizer
    exclude=[],
    steps=1000,
    n_lr=25,              # learning rates tried per optimizer (plus its default)
    decades=[-3.0, 3.0],  # the grid spans default * 10**decades
    n_starts=5,           # starts of the lr search: the race start + random ones
    floor=1e-12,
    lbfgs_max_iter=1,
    animate=["rosenbrock"],  # objectives that get an animated GIF
    frames=48,
    # the optimizers drawn together in the overlays (contour, loss curves, GIF): the course's; every
    # racer has its own panel in race_<objective>_panels.png. null: all of them (19 lines)
    overlay=["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lbfgs"],
)
QUICK = dict(include=["sgd", "adam", "rmsprop"], steps=300, n_lr=9, n_starts=3, frames=12,
             objectives=[{"name": "rosenbrock", "x0": [-1.5, 2.0]}], animate=["rosenbrock"])


def racers(include, exclude):
    for key, value in (("include", include), ("exclude", exclude)):
        if value is not None and (not isinstance(value, (list, tuple)) or not all(isinstance(n, str) for n in value)):
            raise OptlabError(f"Invalid study.{key}: {value!r} (must be a list of optimizer names)")
    names = ([n for n in optimizers.names() if not optimizers.get(n).objectives] if include is None
             else list(include))
    for n in [*names, *(exclude or ())]:
        optimizers.get(n)  # unknown names fail here, with the list (a misspelt exclude was ignored)
    excl = set(exclude or ())
    return [n for n in names if n not in excl]


def _hyper(name, p):
    spec = optimizers.get(name)
    if spec.kernel_source is not None and "max_iter" in spec.defaults:  # L-BFGS: one evaluation per step
        return {"max_iter": positive_int("lbfgs_max_iter", p["lbfgs_max_iter"])}
    return {}


def kernels(cfg: dict) -> list:
    """Every racer on every objective, compiled up front: the lr search's kernel (a sweep), which
    the race (one lr) then takes too (``KernelKey.sweep``)."""
    from ..engine.warmup import KernelKey, full_batch
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=("x0", "steps"))
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    return [KernelKey(n, e.name, e.dim, dtype, sweep=True, full_batch=full_batch(e.spec, e.options))
            for e in entries for n in racers(p["include"], p["exclude"])]


def _settled(res):
    """The race's steps to the tolerance: the step its trajectory reached it and stayed
    (``tol_step``; NAdam on Beale touched 1e-6 at step 40 and ended 1.3 above the minimum)."""
    t = int(res.tol_step[0])
    return t if t >= 0 else None


@register(NAME, kernels=kernels)
def run(cfg: dict, out_dir) -> dict:
    """lr search per optimizer (one engine call each), then the race, its figures and a GIF."""
    p = study_params(cfg, NAME, DEFAULTS, QUICK)
    entries = objective_entries(p["objectives"], NAME, extra=("x0", "steps"))
    for e in entries:
        require_2d(e, NAME, "draws the race on a contour", "rosenbrock, beale, rastrigin (dim 2), himmelblau")
    names = racers(p["include"], p["exclude"])
    if not names:
        raise OptlabError("study.include/exclude leave no optimizer to race")
    steps = positive_int("steps", p["steps"])
    positive_int("lbfgs_max_iter", p["lbfgs_max_iter"])  # checked when L-BFGS is not racing too
    n_lr = positive_int("n_lr", p["n_lr"], minimum=2)
    decades = as_float_list("decades", p["decades"])
    if len(decades) != 2 or not decades[0] < decades[1]:
        raise OptlabError(f"Invalid study.decades: {p['decades']!r} (must be [lo, hi] with lo < hi)")
    n_starts = positive_int("n_starts", p["n_starts"])
    floor = float(p["floor"])
    animate = p["animate"] or []
    if isinstance(animate, str) or not isinstance(animate, (list, tuple)):
        raise OptlabError(f"Invalid study.animate: {animate!r} (must be a list of the race's objectives)")
    for a in animate:  # a misspelt name drew no GIF and said nothing
        if a not in {e.name for e in entries}:
            raise OptlabError(f"Invalid study.animate: {a!r} is not one of the race's objectives "
                              f"({', '.join(e.name for e in entries)})")
    animate = set(animate)
    frames = positive_int("frames", p["frames"], minimum=2)
    overlay = p["overlay"]
    if overlay is not None:
        if isinstance(overlay, str) or not isinstance(overlay, (list, tuple)):
            raise OptlabError(f"Invalid study.overlay: {overlay!r} (must be a list of optimizer names, or null for all)")
        for n in overlay:
            optimizers.get(str(n))  # an unknown name: one line with the list
    over = [n for n in names if overlay is None or n in overlay] or names  # none raced: draw them all
    eng = engine_options(cfg)
    fmt, dpi = plot_options(cfg)
    rng = np.random.default_rng(eng.get("seed", 0))

    figures, rows, arrays, tuning_panels = [], [], {}, []
    timing = {"engine_s": 0.0, "figures_s": 0.0}
    for e in entries:
        box = e.bounds()
        race_x0 = np.asarray(e.extra.get("x0", e.spec.starts[0] if e.spec.starts else box.mean(axis=1)),
                             dtype=float).reshape(1, e.dim)
        lo = box[:, 0] + 0.1 * (box[:, 1] - box[:, 0])
        hi = box[:, 1] - 0.1 * (box[:, 1] - box[:, 0])
        tune_x0 = np.vstack([race_x0, rng.uniform(lo, hi, size=(n_starts - 1, e.dim))])
        e_steps = positive_int("steps", e.extra.get("steps", steps))
        f_min = e.f_min()
        runs, obj_rows, searches = [], [], []
        t0 = time.perf_counter()
        for name in names:
            hyper = _hyper(name, p)
            spec = optimizers.get(name)
            grid = default_grid(spec.defaults["lr"], n_lr, tuple(decades))
            search = tune_lr(name, e.name, tune_x0, grid, steps=e_steps, hyper=hyper, objective_options=e.options,
                             floor=floor, **eng)
            res = simulate(name, e.name, x0=race_x0, steps=e_steps, record_every=1, lr=search.best_lr,
                           objective_options=e.options, **hyper, **eng)
            extra = "".join(f", {k}={v}" for k, v in hyper.items())
            label = f"{name} (lr={search.best_lr:.3g}{extra})"
            runs.append((label, res))
            searches.append(search)
            gap = float(res.loss_final[0] - (f_min or 0.0))
            obj_rows.append(dict(optimizer=name, hyper=hyper, tuned_lr=search.best_lr, default_lr=search.default_lr,
                                 tuned_score=_plain(search.best_score), default_score=_plain(search.default_score),
                                 race_final_gap=_plain(gap), race_steps_to_tol=_settled(res),
                                 race_diverged=bool(res.diverged_step[0] >= 0),
                                 func_evals=_plain(res.extra["func_evals"][0]) if "func_evals" in res.extra else None,
                                 search=search.as_dict()))
            arrays[f"{e.slug}__{name}__x"] = res.x[0]
            arrays[f"{e.slug}__{name}__loss"] = res.loss[0]
        t1 = time.perf_counter()
        timing["engine_s"] += t1 - t0
        title = f"{e.label}: {len(names)} optimizers, tuned lr each, {e_steps} steps from ({race_x0[0, 0]:g}, {race_x0[0, 1]:g})"
        shown = [run for run, n in zip(runs, names) if n in over]
        o_title = (title if len(shown) == len(runs) else
                   f"{e.label}: {len(shown)} of {len(names)} optimizers (study.overlay; all in the panels), tuned lr "
                   f"each, {e_steps} steps from ({race_x0[0, 0]:g}, {race_x0[0, 1]:g})")
        fig = contour_figure(e.spec, shown, o_title, bounds=box, options=e.options, max_paths=1)
        figures.append(save(fig, out_dir / f"race_{e.slug}_contour", fmt, dpi).name)
        notes = [("diverged" if r["race_diverged"] else f"f−f* = {r['race_final_gap']:.2g}"
                  + ("" if r["race_steps_to_tol"] is None else f", tol at step {r['race_steps_to_tol']}"))
                 for r in obj_rows]
        fig = contour_panels(e.spec, runs, title + " (□ end, ★ minimum)", bounds=box, options=e.options, notes=notes)
        figures.append(save(fig, out_dir / f"race_{e.slug}_panels", fmt, dpi).name)
        part = "" if len(shown) == len(runs) else f" ({len(shown)} of {len(names)}: study.overlay)"
        fig = loss_figure(shown, f"{e.label}: f − f* vs step, each optimizer at its tuned lr{part}", f_min=f_min,
                          max_paths=1)
        _legend_below(fig)
        figures.append(save(fig, out_dir / f"race_{e.slug}_loss", fmt, dpi).name)
        if e.name in animate:
            gif = animate_paths(e.spec, shown, f"{e.label}: the race (tuned lr each{part})", out_dir / f"race_{e.slug}",
                                bounds=box, options=e.options, frames=frames, dpi=min(dpi, 90))
            figures.append(gif.name)
        timing["figures_s"] += time.perf_counter() - t1
        tuning_panels.append((e, searches))
        rows.append(dict(objective=e.label, race_x0=race_x0[0].tolist(), tune_starts=tune_x0.tolist(),
                         steps=e_steps, runs=obj_rows))
    fig = _tuning_figure(tuning_panels, searches[0].criterion if searches else "")
    figures.append(save(fig, out_dir / "race_lr_search", fmt, dpi).name)
    save_arrays(out_dir / "optimizer_race.npz", **arrays)
    timing = {k: round(v, 2) for k, v in timing.items()}
    metrics = dict(study=NAME, optimizers=names, objectives=rows, figures=figures, timing=timing,
                   criterion=searches[0].criterion if searches else None)
    return finish(out_dir, metrics, {"study": NAME, "title": "optimizer_race: tuned learning rates, the race and its animation",
                                     "optimizers": names, "objectives": rows, "figures": figures, "timing": timing,
                                     "table": _table(rows)})


def _plain(v):
    v = float(v)
    return v if np.isfinite(v) else None


def _legend_below(fig):
    ax = fig.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=7, frameon=False)


_LINE_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))


def _tuning_figure(panels, criterion):
    n = len(panels)
    fig, axes = figure(1, n, figsize=(5.6 * n, 5.4), squeeze=False)
    for ax, (e, searches) in zip(axes[0], panels):
        for i, s in enumerate(searches):
            color = color_for(s.optimizer)
            y = np.where(np.isfinite(s.scores), np.maximum(s.scores, 1e-16), np.nan)
            # 19 lines share a dozen-odd colors, and some coincide (SparseAdam is Adam on a dense
            # gradient: its pink hid Adam's orange): a line style each, in turn
            ax.plot(s.lrs, y, color=color, lw=1.3, ls=_LINE_STYLES[i % len(_LINE_STYLES)], label=s.optimizer)
            ax.plot([s.best_lr], [max(s.best_score, 1e-16)], "o", color=color, ms=6, mec="k", mew=0.7, zorder=5)
            ax.plot([s.default_lr], [max(s.default_score, 1e-16)] if np.isfinite(s.default_score) else [np.nan],
                    "s", color=color, ms=5, mfc="white", mew=1.2, zorder=5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("median final f − f* over the starts (log)")
        ax.set_title(f"lr search on {e.label}\n● chosen lr, □ torch default lr; gaps missing = diverged", fontsize=9)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=7, frameon=False)
    fig.suptitle("Learning-rate search, one engine call per optimizer: " + criterion, fontsize=9.5)
    fig.tight_layout()
    return fig


def _table(rows) -> str:
    head = (f"{'objective':<11} {'optimizer':<18} {'tuned lr':>9} {'default lr':>10} {'tuned score':>11} "
            f"{'default score':>13} {'race f-f*':>10} {'steps→tol':>9}")
    lines = [head, "-" * len(head)]
    for row in rows:
        for r in row["runs"]:
            def g(v):
                return "diverged" if v is None else f"{v:.2e}"
            st = "—" if r["race_steps_to_tol"] is None else str(r["race_steps_to_tol"])
            race = "diverged" if r["race_diverged"] else g(r["race_final_gap"])
            lines.append(f"{row['objective'][:11]:<11} {r['optimizer']:<18} {r['tuned_lr']:>9.3g} "
                         f"{r['default_lr']:>10.3g} {g(r['tuned_score']):>11} {g(r['default_score']):>13} "
                         f"{race:>10} {st:>9}")
    return "\n".join(lines)
