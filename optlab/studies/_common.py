"""Pieces every study shares: config -> engine arguments, artifacts, tables."""
from __future__ import annotations

import numpy as np

from .. import objectives, optimizers
from ..engine.core import ENGINE_DEFAULTS, _n_per_traj, check_finite_hyper, check_finite_options
from ..engine.result import write_json_atomic
from ..errors import OptlabError

ENGINE_KEYS = ("steps", "record_every", "seed", "dtype", "device", "tol", "blowup", "grad_noise",
               "clip_grad_norm", "max_memory_gb", "bounds", "track")
OBJECTIVE_KEYS = ("name", "dim", "x0", "bounds")


def check_keys(section: str, given: dict, allowed) -> None:
    for key in given:
        if key not in allowed:
            raise OptlabError(f"Unknown key '{section}.{key}'. Allowed: {', '.join(sorted(allowed))}")


def scheduler_kwargs(cfg: dict):
    """The ``scheduler`` section as ``simulate``'s ``scheduler=`` argument: None for ``none`` (the
    default), else torch's class (the config name) and the options that are set (null: torch's
    default, or a required option the scheduler then asks for)."""
    sec = cfg.get("scheduler") or {}
    if not isinstance(sec, dict):
        raise OptlabError(f"Invalid scheduler: {sec!r} (must be a section: scheduler=<name>, e.g. scheduler=step_lr)")
    name = sec.get("name")
    if name in (None, "none"):
        extra = sorted(k for k, v in sec.items() if k != "name" and v is not None)
        if extra:
            raise OptlabError(f"scheduler.{extra[0]} is set but no scheduler is chosen; pick one: scheduler=<name> "
                              "(python -m optlab list schedulers)")
        return None
    out = {k: v for k, v in sec.items() if v is not None}
    from .. import schedulers
    need = [k for k in schedulers.required(name) if k not in out]  # torch's message names no key to set
    if need:
        raise OptlabError(f"Scheduler {name} requires scheduler.{need[0]}: add scheduler.{need[0]}=..."
                          + (f" (and {', '.join('scheduler.' + k for k in need[1:])})" if need[1:] else ""))
    if schedulers.canonical(name) == "OneCycleLR" and "total_steps" not in out and not (
            "epochs" in out and "steps_per_epoch" in out):
        raise OptlabError("Scheduler one_cycle_lr needs its length: add scheduler.total_steps=... (at least "
                          "engine.steps), or scheduler.epochs=... and scheduler.steps_per_epoch=...")
    return out


def engine_kwargs(cfg: dict) -> dict:
    eng = dict(cfg.get("engine") or {})
    check_keys("engine", eng, ENGINE_KEYS)
    out = {k: eng[k] for k in ENGINE_KEYS if k in eng and eng[k] is not None}
    for k, v in ENGINE_DEFAULTS.items():
        out.setdefault(k, v) if k in ENGINE_KEYS else None
    return out


def objective_setup(cfg: dict, need_2d: bool = False, study: str = ""):
    """(spec, dim, options, x0 array or None) from the ``objective`` section."""
    sec = dict(cfg.get("objective") or {})
    if "name" not in sec:
        raise OptlabError("objective.name is missing")
    spec = objectives.get(sec["name"])
    options = {k: v for k, v in sec.items() if k not in OBJECTIVE_KEYS}
    check_keys("objective", options, set(spec.options) | set(OBJECTIVE_KEYS))
    check_finite_options(spec.name, options)
    x0 = sec.get("x0")
    if x0 is not None:
        x0 = as_points("objective.x0", x0)
    dim = sec.get("dim")
    if dim is None:
        dim = x0.shape[1] if x0 is not None else spec.default_dim()
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise OptlabError(f"Invalid objective.dim: {dim!r} (must be an integer >= 1)")
    if sec.get("dim") is not None:
        try:
            spec.check_dim(dim)
        except OptlabError:  # said of the key that set it (not of an x0 the user never gave)
            need = f"is {spec.dim}-dimensional" if spec.dim is not None else f"needs dimension >= {spec.min_dim}"
            raise OptlabError(f"Invalid objective.dim: {dim} (objective '{spec.name}' {need})") from None
    else:
        spec.check_dim(dim, what="objective.x0")
    if x0 is not None and x0.shape[1] != dim:
        raise OptlabError(f"Invalid objective.x0: points of dimension {x0.shape[1]}, but objective.dim is {dim} "
                          f"(give {dim}-D points, or objective.x0=null for the objective's default starts)")
    if need_2d and dim != 2:
        raise OptlabError(f"Study '{study}' draws 2-D landscapes; objective '{spec.name}' has dimension {dim}. "
                          "Use a 2-D objective (e.g. objective=rosenbrock objective.dim=2, himmelblau, beale)")
    spec.make_params(dim, **options)  # validates options early
    if spec.inert is not None:  # a value that changes nothing (it ran, bit for bit as without it)
        merged = {**spec.options, **options}
        for key, why in spec.inert(merged, dim).items():
            if key in options and options[key] != spec.options.get(key):
                raise OptlabError(f"objective.{key}={options[key]!r} has no effect on '{spec.name}' here "
                                  f"({why}); leave it out")
    return spec, dim, options, x0


def as_points(name: str, x0) -> np.ndarray:
    """Start points ``[x, y]`` or ``[[x, y], ...]`` as an (n, dim) float array, or one line naming the value."""
    from ..optimizers._base import has_bool
    try:
        if has_bool(x0):
            raise TypeError("true/false is not a coordinate")
        pts = np.asarray(x0, dtype=float)
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid {name}: {_short(x0)} (must be numbers: a point [x, y] or points "
                          "[[x, y], ...])") from None
    if pts.ndim == 1:
        pts = pts[None, :]
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
        raise OptlabError(f"Invalid {name}: {_short(x0)} (must be a point [x, y] or points [[x, y], ...])")
    if not np.isfinite(pts).all():
        raise OptlabError(f"Invalid {name}: {_short(x0)} (must be finite numbers)")
    return pts


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def optimizer_setup(sec: dict):
    """(spec, hyper dict, label) from an optimizer section ``{name: ..., lr: ...}``."""
    sec = dict(sec or {})
    if "name" not in sec:
        raise OptlabError("optimizer.name is missing")
    spec = optimizers.get(sec.pop("name"))
    label = sec.pop("label", None)
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        label = str(label)
    if label is not None and not isinstance(label, str):
        raise OptlabError(f"Invalid label of optimizer '{spec.name}': {label!r} (must be text)")
    hyper = {}
    for k, v in sec.items():
        hyper[k] = tuple(v) if isinstance(v, list) else v
    # validate now (before any work), so a bad value never leaves half a run behind; a list of
    # values is one per trajectory, so it is checked as that many trajectories
    _, _, checked = spec.resolve(_n_per_traj(hyper), dict(hyper))
    check_finite_hyper(spec, checked)
    if label is None:
        base = optimizers.get(spec.preset_of) if spec.preset_of else spec
        given = {**spec.defaults, **hyper}
        from ..optimizers._base import PAIRS
        for pair, parts in PAIRS.items():  # +optimizer.beta1=0.8 overrides its element of betas
            if pair in given and any(part in hyper for part in parts):
                given[pair] = tuple(hyper.get(part, given[pair][i]) for i, part in enumerate(parts))
        diff = [f"{k}={_fmt(v)}" for k, v in given.items()
                if k in base.defaults and _differs(v, base.defaults[k]) and k != "nesterov"]
        lr = hyper.get("lr", spec.defaults.get("lr"))
        parts = [f"lr={_fmt(lr)}"] + [d for d in diff if not d.startswith("lr=")]
        label = f"{spec.name} ({', '.join(parts[:3])})"
    return spec, hyper, label


def _differs(a, b):
    if a is None or b is None:  # torch's None defaults (LBFGS's max_eval, Adafactor's eps1): not NaN
        return a is not b
    try:
        return not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    except (TypeError, ValueError):
        return a != b


def _fmt(v):
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (tuple, list)):
        if len(v) > 4 and all(isinstance(e, (int, float)) for e in v):  # one per start: the range
            return f"{_fmt(min(v))}..{_fmt(max(v))} ({len(v)})"
        return "(" + ", ".join(_fmt(e) for e in v) + ")"
    return str(v)


def run_summary(label, res) -> dict:
    """One row of the printed table / metrics.json."""
    finite = res.loss_final[np.isfinite(res.loss_final)]
    # the step from which a trajectory stayed within tol, of those that end converged (a run
    # converged by its gradient norm while its gap is above tol has no tol_step)
    tol_steps = res.tol_step[(res.tol_step >= 0) & (res.outcome == "converged")]
    return {
        "label": label,
        "optimizer": res.optimizer,
        "n_traj": res.n_traj,
        "final_loss_median": float(np.median(finite)) if finite.size else None,
        "best_loss_min": float(np.min(res.best_loss)) if np.isfinite(res.best_loss).any() else None,
        "outcomes": res.outcome_counts(),
        "steps_to_tol_median": float(np.median(tol_steps)) if tol_steps.size else None,
        "wall_s": round(res.timing.get("total_s", 0.0), 4),
    }


def format_table(rows) -> str:
    """One line per run: the median final loss over its trajectories, the lowest loss any reached,
    how many converged, diverged or are still running, and the median steps to the tolerance of the
    converged ones (as the report's table)."""
    head = (f"{'run':<34} {'final, med':>11} {'best, min':>11} {'conv':>5} {'div':>5} {'running':>7} "
            f"{'steps→tol':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        oc = r["outcomes"]
        fl = "—" if r["final_loss_median"] is None else f"{r['final_loss_median']:.3e}"
        bl = "—" if r["best_loss_min"] is None else f"{r['best_loss_min']:.3e}"
        st = "—" if r["steps_to_tol_median"] is None else f"{r['steps_to_tol_median']:.0f}"
        lines.append(f"{r['label'][:34]:<34} {fl:>11} {bl:>11} {oc['converged']:>5} {oc['diverged']:>5} "
                     f"{oc['running']:>7} {st:>9}")
    return "\n".join(lines)


def write_metrics(out_dir, study: str, spec, runs, extra=None) -> dict:
    """metrics.json: per run, per trajectory final/best loss, outcome, steps to tol."""
    doc = {
        "study": study,
        "objective": spec.name,
        "runs": [{**run_summary(label, res), "hyper": {k: _plain_hyper(v) for k, v in res.hyper.items()},
                  "trajectories": res.metrics()} for label, res in runs],
    }
    if extra:
        doc.update(extra)
    from ..manifest import note
    note(write_json_atomic(out_dir / "metrics.json", doc), "metrics")
    return doc


def _plain_hyper(v):
    arr = np.asarray(v)
    if arr.ndim and np.all(arr == arr.flat[0]):
        arr = arr.flat[0]
    return arr.tolist() if hasattr(arr, "tolist") else arr


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_").replace("__", "_")[:60]
