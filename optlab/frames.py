"""Labelled views of results: :meth:`Sweep.to_xarray` and :meth:`Result.to_pandas`.

pandas and xarray are an optional extra (``pip install -e ".[frames]"``);
optlab runs without them, and only these conversions need them. The arrays
are the result's, reshaped to the grid; "never" (a run that did not reach
the tolerance, or did not diverge) is NaN (xarray) or <NA> (pandas) in the
labelled views instead of the engine's -1.
"""
from __future__ import annotations

import importlib

import numpy as np

from .errors import OptlabError

EXTRA_HINT = 'pip install -e ".[frames]"'

# Result field -> name in the labelled views (the names of Result.metrics())
FIELD_NAMES = {"loss_final": "final_loss", "grad_norm_final": "final_grad_norm", "best_loss": "best_loss",
               "best_step": "best_step", "tol_step": "steps_to_tol", "diverged_step": "diverged_step"}


def require(module: str, what: str):
    """Import ``module`` (pandas or xarray) or raise one line naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise OptlabError(f"{what} needs {module}, which is in the 'frames' extra: {EXTRA_HINT}") from None


def _never_as_nan(a) -> np.ndarray:
    """Step numbers with -1 for "never" as floats with NaN for "never"."""
    a = np.asarray(a)
    return np.where(a >= 0, a, np.nan).astype(float)


def axis_values(values) -> np.ndarray:
    """A grid axis as a 1-D coordinate: numbers stay numbers; tuple values (``betas``) become labels."""
    vals = list(values)
    if all(np.ndim(v) == 0 for v in vals) and not any(v is None for v in vals):
        return np.asarray(vals)
    return np.asarray([", ".join(f"{e:g}" if isinstance(e, float) else str(e) for e in np.ravel(v))
                       for v in vals])


def _attr(v):
    """``v`` as a netCDF attribute can hold it (None when it cannot): numbers, text, a 1-D list of
    numbers; true/false as 1/0, None as "None"."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None:
        return "None"
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        a = np.asarray(v, dtype=object).ravel()
        if a.size and all(isinstance(e, (int, float, np.integer, np.floating)) and not isinstance(e, bool)
                          for e in a):
            return [e.item() if isinstance(e, np.generic) else e for e in a]
    return None


def _one_value(v):
    """The single value of a hyperparameter (a scalar, or a per-trajectory array whose entries are
    all the same), else ``_MANY``."""
    if np.ndim(v) == 0:
        return v
    a = np.asarray(v, dtype=object).ravel()
    return a[0] if a.size and all(e == a[0] for e in a[1:]) else _MANY


_MANY = object()


def _attrs(res, skip=()) -> dict:
    """What was run, as attributes a netCDF file can hold: optimizer, objective, the engine options,
    the objective's options, the scheduler (as JSON text), bounds, track, and every hyperparameter
    with one value for all trajectories (not in ``skip``: the grid axes)."""
    import json
    attrs = {"optimizer": res.optimizer, "objective": res.objective}
    for k, v in res.options.items():
        if k in ("objective_options", "scheduler", "bounds", "track"):
            continue
        v = _attr(v)
        if v is not None:
            attrs[k] = v
    for k, v in (res.options.get("objective_options") or {}).items():
        v = _attr(v)
        if v is not None:
            attrs[f"objective_{k}"] = v
    if res.options.get("scheduler"):
        attrs["scheduler"] = json.dumps(res.options["scheduler"], default=str)
    if res.options.get("bounds") is not None:
        attrs["bounds"] = _attr(res.options["bounds"]) or str(res.options["bounds"])
    if res.options.get("track"):
        attrs["track"] = ", ".join(map(str, res.options["track"]))
    for k, v in res.user_hyper().items():
        if k in skip:
            continue
        one = _one_value(v)
        if one is not _MANY:
            attrs[k] = _attr(one)
    return attrs


def _scheduler_columns(res) -> dict:
    """The scheduler options given one value per trajectory: ``{"scheduler.<option>": (n,)}`` (a
    child's as ``scheduler.schedulers.<k>.<option>``; milestones per trajectory as text)."""
    spec = res.options.get("scheduler")
    if not spec:
        return {}
    from .schedulers import per_trajectory_options
    try:
        return per_trajectory_options(spec, res.n_traj)
    except OptlabError:  # a scheduler loaded from a file (a callable's name): nothing to split
        return {}


def sweep_to_xarray(sw):
    """See :meth:`optlab.Sweep.to_xarray`."""
    xr = require("xarray", "Sweep.to_xarray()")
    res, shape = sw.result, tuple(sw.shape)
    axes = list(sw.coords)                       # grid axes in grid order, then "start"
    grid_dims = tuple(axes)
    traj = grid_dims                             # per-trajectory variables
    rec = grid_dims + ("step",)                  # per-record variables
    coords = {name: axis_values(sw.coords[name]) for name in axes}
    coords["step"] = np.asarray(res.steps)
    coords["dim"] = np.arange(res.dim)
    # where each start is: a coordinate along (start, dim)
    first = (0,) * (len(shape) - 1)
    coords["x0"] = (("start", "dim"), np.asarray(res.x0).reshape(shape + (res.dim,))[first])

    def per_traj(a):
        a = np.asarray(a)
        return a.reshape(shape + a.shape[1:])

    data = {
        "x": (rec + ("dim",), per_traj(res.x)),
        "loss": (rec, per_traj(res.loss)),
        "x_final": (traj + ("dim",), per_traj(res.x_final)),
        "outcome": (traj, per_traj(res.outcome.astype(str))),
    }
    for field, name in FIELD_NAMES.items():
        a = getattr(res, field)
        data[name] = (traj, per_traj(_never_as_nan(a) if field in ("tol_step", "diverged_step") else a))
    n_rec = len(res.steps)
    from .engine.result import OPTIONAL_ARRAYS
    for name in OPTIONAL_ARRAYS:  # lr (a scheduler), sharpness, hess_min, preconditioned_sharpness (track=)
        a = getattr(res, name)
        if a is not None:  # the lr of each step is "lr_schedule": "lr" is the swept (base) lr's axis
            data["lr_schedule" if name == "lr" else name] = (rec, per_traj(a))
    for name, a in res.extra.items():
        a = np.asarray(a)
        if a.shape == (res.n_traj, n_rec, res.dim):
            dims = rec + ("dim",)
        elif a.shape == (res.n_traj,):
            dims = traj
        else:
            dims = traj + tuple(f"{name}_{k}" for k in range(a.ndim - 1))
        data[name] = (dims, per_traj(a))
    # hyperparameters that differ per trajectory but are no grid axis (beta1 of a betas axis, ...);
    # the others are attributes
    hyper = res.user_hyper()
    for name, a in hyper.items():
        if name in coords or np.ndim(a) != 1 or len(a) != res.n_traj:
            continue
        if _one_value(a) is _MANY:
            coords[name] = (traj, per_traj(np.asarray(a)))
    for name, a in _scheduler_columns(res).items():
        if name not in coords:
            coords[name] = (traj, per_traj(np.asarray(a)))
    return xr.Dataset(data, coords=coords, attrs=_attrs(res, skip=set(coords)))


def result_to_pandas(res, start=None, axes=None):
    """See :meth:`optlab.Result.to_pandas`; ``start``: the start index of each trajectory (a sweep's);
    ``axes``: a sweep's grid axes (name -> the value of each trajectory, as given), columns in
    place of the hyperparameters of the same name."""
    pd = require("pandas", "Result.to_pandas()")
    n = res.n_traj
    cols = {"trajectory": np.arange(n)}
    hyper = res.user_hyper()
    for k, v in hyper.items():
        if np.ndim(v) == 0:
            continue                             # per-call options (nesterov, amsgrad ...): in df.attrs
        v = np.asarray(v)
        if v.ndim == 1:
            cols[k] = np.broadcast_to(v, (n,)).copy()
    for k, v in (axes or {}).items():
        cols[k] = v
    for k, v in _scheduler_columns(res).items():
        cols.setdefault(k, np.asarray(v))
    if start is not None:
        cols["start"] = np.asarray(start)
    for d in range(res.dim):
        cols[f"x0_{d}"] = res.x0[:, d]
    cols["final_loss"] = res.loss_final
    cols["best_loss"] = res.best_loss
    cols["best_step"] = res.best_step
    cols["outcome"] = res.outcome.astype(str)
    cols["steps_to_tol"] = pd.array(np.where(res.tol_step >= 0, res.tol_step, 0), dtype="Int64")
    cols["diverged_step"] = pd.array(np.where(res.diverged_step >= 0, res.diverged_step, 0), dtype="Int64")
    cols["final_grad_norm"] = res.grad_norm_final
    for d in range(res.dim):
        cols[f"x_final_{d}"] = res.x_final[:, d]
    for name, a in res.extra.items():
        if np.shape(a) == (n,):
            cols[name] = np.asarray(a)
    df = pd.DataFrame(cols)
    df.loc[res.tol_step < 0, "steps_to_tol"] = pd.NA
    df.loc[res.diverged_step < 0, "diverged_step"] = pd.NA
    df.attrs.update(_attrs(res, skip=set(cols)))
    for k, v in hyper.items():
        if np.ndim(v) == 0 and k not in (axes or {}):
            df.attrs[k] = v.item() if isinstance(v, np.generic) else v  # None stays None here
    return df
