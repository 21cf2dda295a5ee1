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


def _attrs(res) -> dict:
    """Optimizer, objective and the scalar engine options (what netCDF attributes can hold)."""
    attrs = {"optimizer": res.optimizer, "objective": res.objective}
    for k, v in res.options.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, (bool, int, float, str)):
            attrs[k] = int(v) if isinstance(v, bool) else v
    for k, v in (res.options.get("objective_options") or {}).items():
        if isinstance(v, (bool, int, float, str)):
            attrs[f"objective_{k}"] = int(v) if isinstance(v, bool) else v
    return attrs


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
    # hyperparameters that differ per trajectory but are no grid axis (beta1 of a betas axis, ...)
    for name, a in res.hyper.items():
        if name in coords or np.ndim(a) != 1 or len(a) != res.n_traj:
            continue
        a = np.asarray(a)
        if np.unique(a).size > 1:
            coords[name] = (traj, per_traj(a))
    return xr.Dataset(data, coords=coords, attrs=_attrs(res))


def result_to_pandas(res, start=None, axes=None):
    """See :meth:`optlab.Result.to_pandas`; ``start``: the start index of each trajectory (a sweep's);
    ``axes``: a sweep's grid axes (name -> the value of each trajectory, as given), columns in
    place of the hyperparameters of the same name."""
    pd = require("pandas", "Result.to_pandas()")
    n = res.n_traj
    cols = {"trajectory": np.arange(n)}
    for k, v in res.hyper.items():
        if np.ndim(v) == 0:
            continue                             # per-call options (nesterov, amsgrad ...): in df.attrs
        v = np.asarray(v)
        if v.ndim == 1:
            cols[k] = np.broadcast_to(v, (n,)).copy()
    for k, v in (axes or {}).items():
        cols[k] = v
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
    df.attrs.update(_attrs(res))
    for k, v in res.hyper.items():
        if np.ndim(v) == 0 and k not in (axes or {}):
            df.attrs[k] = v.item() if isinstance(v, np.generic) else v
    return df
