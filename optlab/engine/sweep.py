"""``sweep``: a cartesian grid of hyperparameters x start points in one engine call."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .. import optimizers as _optimizers
from ..errors import OptlabError
from .core import ENGINE_DEFAULTS, check_finite_hyper, simulate
from .result import OPTIONAL_ARRAYS, Result


_GRID_FIELDS = ("x", "loss", "x_final", "loss_final", "grad_norm_final", "best_loss", "best_step",
                "diverged_step", "tol_step", "outcome")
_ENGINE_KW = set(ENGINE_DEFAULTS) | {"objective_options", "scheduler"}
#: grid keys ``scheduler.<option>``: one value of a scheduler option per trajectory
SCHED_PREFIX = "scheduler."


@dataclass
class Sweep:
    """A :class:`Result` whose trajectories form a grid.

    ``coords`` maps each axis name to its values, in grid order; the last axis
    is ``"start"`` (the index of the start point). ``shape`` is the grid shape,
    so ``sw.grid("loss_final")`` has that shape and ``sw.grid("loss")`` that
    shape plus the record axis.
    """

    result: Result
    coords: dict
    shape: tuple

    def grid(self, name: str) -> np.ndarray:
        """A per-trajectory field of the result reshaped to the grid.

        This is the plain-numpy form of :meth:`to_xarray`: ``sw.grid("loss_final")``
        holds the numbers of ``sw.to_xarray()["final_loss"]`` without the labels
        (and with -1, not NaN, for "never" in ``tol_step`` and ``diverged_step``).
        It needs no extra, so the studies and the engine's tests use it.
        """
        from ..frames import FIELD_NAMES
        name = {v: k for k, v in FIELD_NAMES.items()}.get(name, name)  # the frames' names too
        fields = _GRID_FIELDS + tuple(self.result.hyper)
        if name in self.coords and name not in self.result.hyper:  # an axis (scheduler.<option>, start)
            return self.axis_values(name).reshape(self.shape)
        if name not in fields:
            from ..errors import unknown_name
            raise unknown_name("field", name, set(fields) | set(FIELD_NAMES.values())
                               | {k for k in self.coords if k != "start"})
        if name == "outcome":
            arr = self.result.outcome
        elif name in self.result.hyper:
            arr = np.asarray(self.result.hyper[name])
        else:
            arr = getattr(self.result, name)
        return np.asarray(arr).reshape(self.shape + np.shape(arr)[1:])

    def axis_values(self, name: str) -> np.ndarray:
        """The value of grid axis ``name`` for each trajectory, in trajectory order (as given:
        ``None`` stays ``None``; a pair such as ``betas`` gives one tuple a trajectory)."""
        if name not in self.coords:
            raise OptlabError(f"Unknown grid axis '{name}'. Axes: {', '.join(self.coords)}")
        axis = list(self.coords).index(name)
        vals = list(self.coords[name])
        shape = [1] * len(self.shape)
        shape[axis] = -1
        pos = np.broadcast_to(np.arange(len(vals)).reshape(shape), self.shape).ravel()
        if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in vals) or all(isinstance(v, (bool, np.bool_)) for v in vals):
            return np.asarray(vals)[pos]  # numbers, or flags (a bool column, as the result's own)
        out = np.empty(len(vals), dtype=object)
        out[:] = [tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else v for v in vals]
        return out[pos]

    def index(self, **where) -> np.ndarray:
        """Flat trajectory indices where each named axis equals the given value.

        Floats are matched to a relative 1e-9 (``np.geomspace``'s roundings;
        numpy's default ``isclose`` took every value below 1e-8 for any other,
        so ``eps=1e-12`` selected 1e-10 and 1e-8 too). This selects by value by hand;
        with the ``frames`` extra, ``sw.to_xarray().sel(momentum=0.9)`` does
        the same on labelled arrays (``method="nearest"`` for inexact values).
        """
        unknown = [k for k in where if k not in self.coords]
        if unknown:
            raise OptlabError(f"Unknown grid axis '{unknown[0]}'. Axes: {', '.join(self.coords)}")
        mask = np.ones(self.shape, dtype=bool)
        for axis, (name, values) in enumerate(self.coords.items()):
            if name not in where:
                continue
            want = where[name]
            hit = np.array([_same_value(v, want) for v in values], dtype=bool)
            if not hit.any():
                raise OptlabError(f"{name}={want!r} is not on the grid; values: {list(values)}")
            shape = [1] * len(self.shape)
            shape[axis] = -1
            mask &= hit.reshape(shape)
        return np.flatnonzero(mask.ravel())

    def to_xarray(self):
        """The sweep as a labelled ``xarray.Dataset`` (needs the ``frames`` extra).

        Dimensions: the grid axes in grid order (``lr``, ``momentum`` ...),
        ``start`` (the index of the start point), ``step`` (the records; its
        coordinate holds the recorded step numbers) and ``dim`` (coordinates
        of a point). Coordinates hold the swept values (a tuple-valued axis
        such as ``betas`` gets labels ``"0.9, 0.999"``, with ``beta1`` and
        ``beta2`` as extra coordinates), the recorded steps and ``x0`` (each
        start point). Data variables: ``x``, ``loss``, ``x_final``,
        ``outcome``, ``final_loss``, ``best_loss``, ``best_step``,
        ``steps_to_tol`` and ``diverged_step`` (NaN for never),
        ``final_grad_norm``, any state or scalar the optimizer records, and,
        when recorded, ``lr_schedule`` (a scheduler's lr at each step: ``lr`` is
        the swept base lr's axis), ``sharpness``, ``hess_min`` and
        ``preconditioned_sharpness`` (``track=``). A grid key
        ``"scheduler.<option>"`` is an axis like any other.
        ``attrs`` holds the optimizer, objective and engine options.

        It replaces :meth:`grid` and :meth:`index`: ``ds.final_loss`` is
        ``sw.grid("loss_final")`` labelled, and ``ds.sel(momentum=0.9)`` is the
        slice ``sw.index(momentum=0.9)`` picks.

        >>> import optlab
        >>> sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.5], "momentum": [0.0, 0.9]},
        ...                   x0=[1.0, 1.0], steps=150, record_every=50)
        >>> ds = sw.to_xarray()
        >>> ds.loss.dims, ds.step.values.tolist()
        (('lr', 'momentum', 'start', 'step'), [0, 50, 100, 150])
        >>> ds.steps_to_tol.sel(start=0).values.tolist()      # from then on within tol; NaN: not by step 150
        [[nan, 120.0], [106.0, 124.0]]
        >>> bool((ds.final_loss.sel(momentum=0.9).values.ravel() == sw.loss_final[sw.index(momentum=0.9)]).all())
        True
        """
        from ..frames import sweep_to_xarray
        return sweep_to_xarray(self)

    def to_pandas(self):
        """:meth:`Result.to_pandas` of the whole sweep, with a ``start`` column (the start's index).

        >>> import optlab
        >>> sw = optlab.sweep("sgd", "quadratic", grid={"lr": [0.1, 0.5]}, x0=[[1.0, 1.0], [0.0, 2.0]], steps=100)
        >>> sw.to_pandas()[["lr", "start", "x0_1", "outcome", "steps_to_tol"]]
            lr  start  x0_1    outcome  steps_to_tol
        0  0.1      0   1.0    running          <NA>
        1  0.1      1   2.0  converged            69
        2  0.5      0   1.0    running          <NA>
        3  0.5      1   2.0  converged            11
        """
        from ..frames import result_to_pandas
        from ..optimizers._base import PAIRS
        start = np.broadcast_to(np.asarray(self.coords["start"]), self.shape).ravel()
        # each axis as given (a swept scheduler option is no hyperparameter; line_search_fn's None
        # is no number); a pair's parts (beta1, beta2) are columns already
        axes = {k: self.axis_values(k) for k in self.coords if k != "start" and k not in PAIRS}
        return result_to_pandas(self.result, start=start, axes=axes)

    def _repr_html_(self) -> str:
        """A small table for Jupyter: the result's summary and the grid axes."""
        from .result import html_table
        rows = self.result._html_rows()
        for name, values in self.coords.items():
            vals = list(values)
            shown = ", ".join(_short(v) for v in vals[:4]) + (f", ... {_short(vals[-1])}" if len(vals) > 4 else "")
            rows.append((f"axis {name}", f"{len(vals)}: {shown}"))
        return html_table("Sweep", rows)

    def save_npz(self, path):
        """Write the result and the grid (axis names, values, shape) atomically; read it back with
        :meth:`Sweep.load_npz`. (``Result.save_npz``, which this call used to reach, kept no grid.)"""
        import json

        from .result import _plain
        grid = {"axes": [[k, _plain(list(v))] for k, v in self.coords.items() if k != "start"],
                "shape": list(self.shape)}
        return self.result.save_npz(path, more={"sweep": np.array(json.dumps(grid))})

    @classmethod
    def load_npz(cls, path) -> "Sweep":
        """A sweep written by :meth:`save_npz`."""
        import json

        from ..optimizers._base import PAIRS
        res = Result.load_npz(path)
        with np.load(path, allow_pickle=False) as z:
            if "sweep" not in z.files:
                raise OptlabError(f"{path} holds a run, not a sweep (no grid): read it with Result.load_npz")
            grid = json.loads(str(z["sweep"]))
        shape = tuple(grid["shape"])
        coords = {k: ([tuple(e) if isinstance(e, list) else e for e in v] if k in PAIRS else _column(v))
                  for k, v in grid["axes"]}
        coords["start"] = np.arange(shape[-1])
        return cls(result=res, coords=coords, shape=shape)

    def __getattr__(self, name):  # delegate x, loss, outcome ... to the result
        if name in ("result", "coords", "shape"):
            raise AttributeError(name)
        return getattr(self.result, name)

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}[{len(v)}]" for k, v in self.coords.items())
        return f"Sweep({axes}) of {self.result!r}"


def _short(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, (tuple, list, np.ndarray)):
        return "(" + ", ".join(_short(e) for e in v) + ")"
    return str(v)


def sweep(optimizer, objective, grid: dict, x0=None, **kw) -> Sweep:
    """Run the cartesian product of ``grid`` (hyperparameter -> values) x start points.

    Per-trajectory hyperparameters (lr, momentum, betas, ...) of the whole grid
    run in one engine call. Per-call options (``amsgrad``, ``nesterov``,
    ``centered`` ...) in the grid run as one call per value, merged. With
    ``scheduler={...}``, a grid key ``"scheduler.<option>"`` sweeps a numeric
    scheduler option (warm-up length, decay rate), one value per trajectory
    of the same call.

    Gradient noise and minibatches are drawn by (seed, trajectory, step): the
    trajectories of one call are numbered in grid order, so cells that differ
    only in a per-call option draw the same noise (common random numbers: the
    option is the only difference), cells of per-trajectory axes draw their
    own, and adding an axis renumbers them. Pass ``seed=`` to draw afresh.

    >>> sw = sweep("sgd", "quadratic", grid={"lr": [0.1, 1.0], "momentum": [0.0, 0.9]},
    ...            x0=[1.0, 1.0], steps=50)
    >>> sw.grid("loss_final").shape
    (2, 2, 1)
    """
    opt = _optimizers.get(optimizer)
    if not isinstance(grid, dict) or not grid:
        raise OptlabError("grid must be a non-empty dict of hyperparameter -> list of values")
    from .core import _as_x0
    from .. import objectives as _objectives
    obj = _objectives.get(objective)
    starts = _as_x0(obj, x0, 1)
    axes = {}
    for name, values in grid.items():
        if not isinstance(name, str):
            raise OptlabError(f"Invalid grid key {name!r} (must be a hyperparameter name)")
        if isinstance(values, (str, bytes, dict)) or not isinstance(values, (list, tuple, np.ndarray, range)) \
                or (isinstance(values, np.ndarray) and values.ndim == 0):  # (np.ndim of a ragged list raised)
            raise OptlabError(f"Invalid grid['{name}']: {values!r} (must be a list of values, e.g. [0.01, 0.1])")
        vals = list(values)
        if not vals:
            raise OptlabError(f"grid['{name}'] is empty")
        axes[name] = vals
    from ..optimizers._base import PAIRS
    coords = {**{k: (_column(v) if k not in PAIRS else v) for k, v in axes.items()},
              "start": np.arange(len(starts))}
    shape = tuple(len(v) for v in axes.values()) + (len(starts),)
    static = [k for k in axes if k in opt.static]
    sched_axes = [k for k in axes if k.startswith(SCHED_PREFIX)]
    vector = [k for k in axes if k not in opt.static and k not in sched_axes]
    if sched_axes and not isinstance(kw.get("scheduler"), dict):
        raise OptlabError(f"grid['{sched_axes[0]}'] sweeps a scheduler option: give scheduler={{'name': ...}} too")
    for k in kw:
        if k in axes:
            raise OptlabError(f"'{k}' is both in grid and a keyword argument")
    for pair, members in PAIRS.items():  # a part would override the pair's axis, and its labels lie
        part = next((m for m in members if m in axes or m in kw), None)
        if pair in axes and part is not None:
            raise OptlabError(f"grid['{pair}'] and {part!r} both given: sweep the pair {pair} or its parts "
                              f"({', '.join(members)}), not both")
    for k in sched_axes:
        if k[len(SCHED_PREFIX):] in kw["scheduler"]:
            raise OptlabError(f"'{k}' is both in grid and in scheduler={kw['scheduler']!r}")

    # every value of every axis checked (with the fixed keywords) before anything runs
    fixed_hyper = {k: v for k, v in kw.items() if k not in _ENGINE_KW}
    from .core import _n_per_traj
    for k, v in fixed_hyper.items():
        if _n_per_traj({k: v}) > 1:  # was "2 values for 1 trajectories"
            raise OptlabError(f"Invalid {k}={v!r}: a keyword of sweep() is one value for every cell; "
                              f"sweep values with grid={{'{k}': [...]}}")
    opt.resolve(1, fixed_hyper)  # a misspelt keyword: the optimizer's "Unknown hyperparameter" line
    for name, vals in axes.items():
        if name in sched_axes:
            continue  # checked by the scheduler, with the rest of its options, before the run
        for v in vals:
            try:
                _, _, checked = opt.resolve(1, {**fixed_hyper, name: v})
                check_finite_hyper(opt, checked)
            except OptlabError as exc:
                if not _valid_with_other_axes(opt, fixed_hyper, axes, sched_axes, name, v):
                    raise OptlabError(f"grid['{name}']: {exc}") from None
            except (TypeError, ValueError):
                raise OptlabError(f"Invalid grid['{name}'] value {v!r} (must be a number)") from None

    # flat index order = C order over (grid axes..., start)
    combos = list(itertools.product(*[range(len(v)) for v in axes.values()], range(len(starts))))
    names = list(axes)
    parts, order = [], []
    static_keys = sorted({tuple(c[names.index(k)] for k in static) for c in combos}) if static else [()]
    for skey in static_keys:
        sel = [i for i, c in enumerate(combos) if tuple(c[names.index(k)] for k in static) == skey]
        hyper = {k: axes[k][skey[m]] for m, k in enumerate(static)}
        for k in vector:
            vals = [axes[k][combos[i][names.index(k)]] for i in sel]
            hyper[k] = np.asarray(vals, dtype=float)
        x0s = starts[[combos[i][-1] for i in sel]]
        call = dict(kw)
        if sched_axes:
            call["scheduler"] = {**kw["scheduler"], **{k[len(SCHED_PREFIX):]: _column(
                [axes[k][combos[i][names.index(k)]] for i in sel]) for k in sched_axes}}
        parts.append(simulate(opt.name, objective, x0=x0s, **hyper, **call))
        order.extend(sel)
    res = parts[0] if len(parts) == 1 else concat(parts, order)
    return Sweep(result=res, coords=coords, shape=shape)


def _same_value(v, want) -> bool:
    """An axis value equals ``want``: same shape (a milestone list [3] is not [3, 3]), floats to a
    relative 1e-9, the rest exactly; False for what does not compare ('a' for an lr)."""
    try:
        a, b = np.asarray(v), np.asarray(want)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return bool(np.all(np.isclose(a.astype(float), b.astype(float), rtol=1e-9, atol=0.0)))
        return bool(np.all(a == b))
    except (TypeError, ValueError):
        return False


def _column(values):
    """An axis's values as an array: numbers as numbers; values of different lengths (milestones
    [[1, 2], [3]]) as a list, which numpy cannot make an array of."""
    try:
        return np.asarray(values)
    except ValueError:
        return list(values)


def _valid_with_other_axes(opt, fixed, axes, sched_axes, name, v, limit=10_000) -> bool:
    """True when ``name = v``, refused with the fixed keywords alone, is valid with some values of
    the other axes (``nesterov=True`` needs a momentum: ``{"momentum": [0.5, 0.9], "nesterov":
    [False, True]}`` is a valid grid). The run then checks every call it makes, as torch would
    (a combination torch refuses, momentum 0 with nesterov, still gets torch's message)."""
    others = [k for k in axes if k != name and k not in sched_axes]
    for combo in itertools.islice(itertools.product(*[axes[k] for k in others]), limit):
        try:
            _, _, checked = opt.resolve(1, {**fixed, **dict(zip(others, combo)), name: v})
            check_finite_hyper(opt, checked)
        except (OptlabError, TypeError, ValueError):
            continue
        return True
    return False


def concat(parts, order) -> Result:
    """Merge results of several calls; ``order[k]`` is the grid index of trajectory k."""
    inv = np.argsort(np.asarray(order))
    first = parts[0]

    def cat(name):
        return np.concatenate([getattr(p, name) for p in parts])[inv]

    hyper = {}
    for k in first.hyper:
        vals = [np.broadcast_to(np.asarray(p.hyper[k]), (p.n_traj,)) for p in parts]
        hyper[k] = np.concatenate(vals)[inv]
    # every extra is indexed by trajectory first (recorded state (n, n_rec, dim), final scalars (n,)),
    # so it takes the same reordering as the arrays above
    extra = {k: np.concatenate([np.asarray(p.extra[k]) for p in parts], axis=0)[inv] for k in first.extra}
    return Result(optimizer=first.optimizer, objective=first.objective, x=cat("x"), loss=cat("loss"),
                  steps=first.steps, x_final=cat("x_final"), loss_final=cat("loss_final"),
                  grad_norm_final=cat("grad_norm_final"), best_loss=cat("best_loss"),
                  best_step=cat("best_step"), diverged_step=cat("diverged_step"), tol_step=cat("tol_step"),
                  hyper=hyper, options=first.options, extra=extra,
                  timing={k: sum(p.timing.get(k, 0.0) for p in parts) for k in first.timing},
                  **{k: cat(k) for k in OPTIONAL_ARRAYS if getattr(first, k) is not None})
