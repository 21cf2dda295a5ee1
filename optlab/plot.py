"""Figures from a notebook: the studies' own drawing functions, on a result you hold.

Each function draws on ``ax`` (a new figure in optlab's style when None) and
returns the matplotlib Axes; ``ax.figure`` is the figure. The studies draw
through the same functions (``optlab.plots.landscape.draw_runs``,
``optlab.plots.curves.draw_losses``, ``optlab.plots.heatmaps.heatmap``,
``optlab.plots.basins.basin_panel``), so a figure made here looks like the
one in a run's report. Colors follow the optimizer (``"adam"`` is the same
orange everywhere).

>>> import optlab, optlab.plot
>>> res = optlab.simulate("adam", "rosenbrock", x0=[[-1.5, 2.0], [0.5, -0.5]], steps=300, lr=0.05)
>>> ax = optlab.plot.paths(res)
>>> ax = optlab.plot.loss(res)

With a scheduler, ``optlab.plot.lr_curve(res)`` draws the learning rate of every step.
"""
from __future__ import annotations

import numpy as np

from . import objectives as _objectives
from .engine.result import Result
from .engine.sweep import Sweep
from .errors import OptlabError, unknown_name

__all__ = ["paths", "loss", "lr_curve", "heatmap", "basins"]

# heatmap values: name -> (Result field, colorbar label); the loss values are drawn as f - f*
HEATMAP_VALUES = {"steps_to_tol": ("tol_step", "steps to tolerance"),
                  "final_loss": ("loss_final", "final loss"),
                  "best_loss": ("best_loss", "best loss"),
                  "final_grad_norm": ("grad_norm_final", "final gradient norm")}


def _runs(res, label=None) -> list:
    """A Result, a Sweep, a list of them or a dict label -> Result as the studies' (label, Result) list."""
    if isinstance(res, (dict, list, tuple)) and not res:
        raise OptlabError(f"Nothing to draw: an empty {type(res).__name__} (give a Result or Sweep, "
                          "a list of them or a dict label -> Result)")
    if isinstance(res, dict):
        return [(str(k), v.result if isinstance(v, Sweep) else v) for k, v in res.items()]
    if isinstance(res, (list, tuple)):
        runs = [run for r in res for run in _runs(r)]
        seen = {}
        for i, (lab, r) in enumerate(runs):     # a repeated optimizer gets a number, keeping its color
            seen[lab] = seen.get(lab, 0) + 1
            runs[i] = (lab if seen[lab] == 1 else f"{lab} [{seen[lab]}]", r)
        return runs
    if isinstance(res, Sweep):
        res = res.result
    if not isinstance(res, Result):
        raise OptlabError(f"Expected a Result or Sweep (from optlab.simulate or optlab.sweep), got "
                          f"{type(res).__name__}")
    return [(res.optimizer if label is None else str(label), res)]


def _objective(runs):
    first = runs[0][1]
    names = {r.objective for _, r in runs}
    if len(names) > 1:
        raise OptlabError(f"The results are on different objectives ({', '.join(sorted(names))}); "
                          "draw one objective at a time")
    return _objectives.get(first.objective), dict(first.options.get("objective_options") or {}), first.dim


def paths(res, ax=None, *, label=None, bounds=None, max_paths=50, title=None):
    """Trajectories on the objective's contours, with its minima, saddles and maxima marked.

    ``res``: a Result or Sweep (or a list of them, or a dict label -> Result,
    to compare runs on one objective). Starts are dots, ends squares, a diverged run ends in a
    cross where it left the plot; at most ``max_paths`` trajectories per run.
    ``bounds``: [[x_lo, x_hi], [y_lo, y_hi]] (default: the objective's box).
    Needs a 2-D objective.

    >>> import optlab, optlab.plot
    >>> res = optlab.simulate("sgd", "rosenbrock", x0=[[-1.5, 2.0], [0.0, 0.0]], steps=200,
    ...                       lr=1e-3, momentum=0.9)
    >>> ax = optlab.plot.paths(res, bounds=[[-2, 2], [-1, 3]])
    >>> len(ax.get_lines()) >= 3 * res.n_traj     # a path, a start and an end per trajectory
    True
    >>> ax.get_legend().get_texts()[0].get_text()
    'sgd'
    """
    from .plots.landscape import draw_runs
    from .plots.style import styled
    runs = _runs(res, label)
    spec, options, dim = _objective(runs)
    if dim != 2:
        raise OptlabError(f"paths() draws 2-D objectives; this {spec.name} has dim {dim} "
                          "(plot.loss draws any dimension)")
    if bounds is not None:
        bounds = np.asarray(bounds, dtype=float)
        if bounds.shape != (2, 2) or not np.all(bounds[:, 0] < bounds[:, 1]):
            raise OptlabError(f"Invalid bounds: {bounds.tolist()!r} (must be [[x_lo, x_hi], [y_lo, y_hi]])")
    with styled(ax, figsize=(6.4, 5.2)) as ax:
        draw_runs(ax, spec, runs, bounds, options, max_paths)
        steps = sorted({int(r.steps[-1]) for _, r in runs})
        ax.set_title(title if title is not None else
                     f"{spec.name}: {', '.join(lab for lab, _ in runs)}, {'/'.join(map(str, steps))} steps")
    return ax


def loss(res, ax=None, *, label=None, max_paths=50, title=None):
    """Loss vs step: f - f* on a log scale when the minimum is known (f otherwise), diverged runs
    marked with a cross at their last finite value.

    >>> import optlab, optlab.plot
    >>> res = optlab.simulate("adam", "quadratic", x0=[1.0, 1.0], steps=100, lr=[0.01, 0.1])
    >>> ax = optlab.plot.loss(res)
    >>> ax.get_yscale(), ax.get_ylabel(), len(ax.get_lines())
    ('log', 'f(x) - f*', 2)
    """
    from .plots.curves import draw_losses
    from .plots.style import styled
    runs = _runs(res, label)
    spec, options, dim = _objective(runs)
    with styled(ax, figsize=(6.4, 4.2)) as ax:
        draw_losses(ax, runs, spec.min_value(dim, **options), max_paths)
        ax.set_title(title if title is not None else f"{spec.name}: loss vs step")
    return ax


def lr_curve(res, ax=None, *, label=None, max_paths=50, title=None):
    """The learning rate in effect at every recorded step of a run with a scheduler (``res.lr``):
    one line per distinct schedule, log scale when it spans more than a decade.

    >>> import optlab, optlab.plot
    >>> res = optlab.simulate("sgd", "quadratic", x0=[1.0, 1.0], steps=100, lr=0.1,
    ...                       scheduler={"name": "StepLR", "step_size": 30, "gamma": 0.5})
    >>> ax = optlab.plot.lr_curve(res)
    >>> ax.get_ylabel(), sorted(set(res.lr[0].tolist()))
    ('learning rate', [0.0125, 0.025, 0.05, 0.1])
    """
    from .plots.curves import draw_lr
    from .plots.style import styled
    runs = _runs(res, label)
    if all(r.lr is None for _, r in runs):
        raise OptlabError("lr_curve() needs a run with a scheduler (simulate(..., scheduler={...})); "
                          "without one the lr is the optimizer's, constant")
    with styled(ax, figsize=(6.4, 3.2)) as ax:
        draw_lr(ax, runs, max_paths)
        ax.set_title(title if title is not None else "learning rate vs step")
    return ax


def _axis_is_log(values) -> bool:
    v = np.asarray(values, dtype=float)
    return bool(v.size > 2 and np.all(v > 0) and v.max() / v.min() >= 20)


def heatmap(sw, x="lr", y="momentum", value="steps_to_tol", ax=None, *, where=None, start=0,
            colorbar=True, title=None):
    """A value over two grid axes of a sweep: log color scale, cells where the run diverged dark gray,
    cells where the value is missing ("not reached") light gray.

    ``value``: ``steps_to_tol`` (the step from which f - f* stayed within the
    tolerance), ``final_loss``, ``best_loss`` (both as f - f* when the
    minimum is known) or ``final_grad_norm``. Axes other than ``x`` and
    ``y`` are fixed by ``where`` ({axis: value}) or must have one value;
    ``start`` picks the start point. An axis spanning a factor of 20 or
    more of positive values (a learning-rate grid) is drawn on a log scale.

    >>> import numpy as np, optlab, optlab.plot
    >>> sw = optlab.sweep("sgd", "quadratic", grid={"lr": np.geomspace(0.01, 3.0, 8), "momentum": [0.0, 0.5, 0.9]},
    ...                   x0=[1.0, 1.0], steps=300)
    >>> ax = optlab.plot.heatmap(sw, x="lr", y="momentum", value="steps_to_tol")
    >>> ax.get_xscale(), ax.get_xlabel(), ax.get_ylabel()
    ('log', 'lr', 'momentum')
    """
    from .plots.heatmaps import heatmap as draw_heatmap, mask_handles
    from .plots.style import styled
    if not isinstance(sw, Sweep):
        raise OptlabError(f"heatmap() needs a Sweep (from optlab.sweep), got {type(sw).__name__}")
    if value not in HEATMAP_VALUES:
        raise unknown_name("heatmap value", value, HEATMAP_VALUES)
    axes = [a for a in sw.coords if a != "start"]
    for name in (x, y):
        if name not in axes:
            raise OptlabError(f"heatmap axis '{name}' is not a grid axis of this sweep; axes: {', '.join(axes)}")
    if x == y:
        raise OptlabError(f"heatmap needs two different axes, got x = y = '{x}'")
    where = dict(where or {})
    for name in where:
        if name not in axes or name in (x, y):
            raise OptlabError(f"where: '{name}' is not a grid axis other than x and y; "
                              f"those are: {', '.join(a for a in axes if a not in (x, y)) or 'none'}")
    n_start = len(sw.coords["start"])
    if not isinstance(start, (int, np.integer)) or not 0 <= start < n_start:
        raise OptlabError(f"Invalid start={start!r} (must be an index, 0 to {n_start - 1})")
    index = []
    for name in sw.coords:
        vals = list(sw.coords[name])
        if name in (x, y):
            if not all(np.ndim(v) == 0 and isinstance(v, (int, float, np.number)) for v in vals):
                raise OptlabError(f"heatmap axis '{name}' must hold numbers; put it in where= instead")
            index.append(slice(None))
        elif name == "start":
            index.append(int(start))
        elif name in where:
            hit = [i for i, v in enumerate(vals) if np.all(np.isclose(v, where[name]))]
            if not hit:
                raise OptlabError(f"where: {name}={where[name]!r} is not on the grid; values: {vals}")
            index.append(hit[0])
        elif len(vals) == 1:
            index.append(0)
        else:
            raise OptlabError(f"The sweep has {len(vals)} values of '{name}'; pick one with "
                              f"where={{'{name}': ...}}")
    field, label = HEATMAP_VALUES[value]
    keep = [n for n in sw.coords if n in (x, y)]
    order = [keep.index(y), keep.index(x)]              # rows y, columns x

    def cells(name):
        return np.transpose(sw.grid(name)[tuple(index)], order)

    vals = cells(field).astype(float)
    if field == "tol_step":
        vals = np.where(vals >= 0, np.maximum(vals, 1), np.nan)
    elif field in ("loss_final", "best_loss"):
        spec = _objectives.get(sw.result.objective)
        f_min = spec.min_value(sw.result.dim, **(sw.result.options.get("objective_options") or {}))
        if f_min is not None:
            vals = vals - f_min
            label = f"{label} − f*"
    diverged = cells("diverged_step") >= 0
    xs, ys = np.asarray(sw.coords[x], dtype=float), np.asarray(sw.coords[y], dtype=float)
    with styled(ax, figsize=(6.4, 4.8)) as ax:
        mesh = draw_heatmap(ax, xs, ys, vals, diverged=diverged, xlog=_axis_is_log(xs), ylog=_axis_is_log(ys))
        if colorbar:
            ax.figure.colorbar(mesh, ax=ax, pad=0.02).set_label(f"{label} (log)")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        masks = mask_handles(not_reached="not reached" if field == "tol_step" else "not positive / missing")
        ax.legend(handles=masks, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
        ax.set_title(title if title is not None else
                     f"{sw.result.optimizer} on {sw.result.objective}: {value.replace('_', ' ')}")
    return ax


def basins(res, ax=None, *, radius=0.1, gtol=1e-3, legend=True, title=None):
    """Basins of attraction: each start of a grid colored by the minimum its run reaches (within
    ``radius``), another stationary point (final gradient norm <= ``gtol``), "not converged" or
    "diverged" -- the local_minima study's map, for one run.

    ``res``: a Result (or Sweep) whose starts form an evenly spaced 2-D grid,
    e.g. ``np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)``, in any order.
    The minima are the objective's listed minima.

    >>> import numpy as np, optlab, optlab.plot
    >>> g = np.linspace(-2.0, 2.0, 12)
    >>> starts = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    >>> res = optlab.simulate("sgd", "quadratic", x0=starts, steps=400, lr=0.1, record_every=400)
    >>> ax = optlab.plot.basins(res)
    >>> ax.get_images()[0].get_array().shape
    (12, 12)
    """
    from .analysis.basins import classify, global_index
    from .plots.basins import basin_handles, basin_panel
    from .plots.style import styled
    from .studies._lecture import points_of_kind
    ((_, r),) = _runs(res)
    spec, options, dim = _objective([("", r)])
    if dim != 2:
        raise OptlabError(f"basins() maps a 2-D grid of starts; this {spec.name} has dim {dim}")
    x0 = np.asarray(r.x0, dtype=float)
    xs, ys = np.unique(x0[:, 0]), np.unique(x0[:, 1])
    full = len(xs) >= 2 and len(ys) >= 2 and len(xs) * len(ys) == r.n_traj and \
        len({(a, b) for a, b in x0}) == r.n_traj
    even = full and np.allclose(np.diff(xs), np.diff(xs)[0]) and np.allclose(np.diff(ys), np.diff(ys)[0])
    if not even:
        raise OptlabError(f"basins() needs starts on an evenly spaced 2-D grid (nx x ny of them, nx, ny >= 2); "
                          f"these {r.n_traj} starts have {len(xs)} x values and {len(ys)} y values")
    minima = [(np.asarray(q.x, dtype=float), float(q.value)) for q in points_of_kind(spec, "minimum", 2, **options)]
    glob = global_index(minima)
    cats = classify(r.x_final, r.grad_norm_final, r.diverged_step >= 0, minima, radius, gtol)
    labels = np.empty((len(ys), len(xs)), dtype=np.int64)
    labels[np.searchsorted(ys, x0[:, 1]), np.searchsorted(xs, x0[:, 0])] = cats
    dx, dy = (xs[1] - xs[0]) / 2, (ys[1] - ys[0]) / 2
    box = np.array([[xs[0] - dx, xs[-1] + dx], [ys[0] - dy, ys[-1] + dy]])
    with styled(ax, figsize=(5.4, 5.6)) as ax:
        basin_panel(ax, spec, options, box, labels, minima, glob)
        if legend:
            handles = basin_handles(minima, glob)
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False,
                      fontsize=7.5)
        share = float(np.isin(cats, glob).mean()) if glob else 0.0
        ax.set_title(title if title is not None else
                     f"{r.optimizer} on {spec.name}: {100 * share:.1f}% of starts reach a global minimum")
    return ax
