"""Pieces the lecture's studies share: parameters with a quick mode, objective
entries, minima and saddles, the curvature at a minimum, engine options.

A lecture study reads its knobs from the ``study`` section of the config
(``study.quick=true`` shrinks grids and step counts for tests), draws on
several objectives listed in the study itself, and writes metrics.json, an
npz of the arrays behind each figure, and the figures.
"""
from __future__ import annotations

import numpy as np

from .. import objectives, optimizers
from ..errors import OptlabError

# engine options a study takes from the ``engine`` section; the study owns steps, tol, noise ...
PASSED_ENGINE_KEYS = ("device", "dtype", "seed", "max_memory_gb")


def study_params(cfg: dict, study: str, defaults: dict, quick: dict | None = None) -> dict:
    """The study's knobs: ``defaults`` updated by the config, ``quick`` values when ``quick`` is on.

    Values the user sets explicitly win over the quick-mode values; a value
    equal to the study's default (what the experiment file spells out) does
    not, so ``+experiment=NAME study.quick=true`` runs the quick mode. Unknown
    keys raise with the allowed list (a typo must not be ignored silently).
    """
    given = dict(cfg.get("study") or {})
    given.pop("name", None)
    allowed = set(defaults) | {"quick"}
    for key in given:
        if key not in allowed:
            raise OptlabError(f"Unknown key 'study.{key}' for study '{study}'. Allowed: {', '.join(sorted(allowed))}")
    for key, value in given.items():
        _check_kind(study, key, value, False if key == "quick" else defaults.get(key))
    params = dict(defaults)
    is_quick = bool(given.get("quick", False))
    if is_quick and quick:
        params.update(quick)
    params.update({k: v for k, v in given.items()
                   if k != "quick" and not (is_quick and quick and k in quick and _plain(v) == _plain(defaults.get(k)))})
    params["quick"] = is_quick
    return params


#: knobs whose empty list means something (the race: no GIF; overlays of every racer)
EMPTY_OK = ("animate", "overlay", "exclude")


def _check_kind(study: str, key: str, value, default) -> None:
    """The kind of value a knob takes, from its default: true/false for a boolean, a finite number
    for a number (a list where the study takes one), a non-empty list for a non-empty list, and a
    positive tolerance. Text for a number, 'false' for quick, [] for batch sizes or NaN for an angle
    went on to a traceback, or (quick='false') turned quick mode on."""
    import math
    if value is None:
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise OptlabError(f"Invalid study.{key}: {value!r} (must be true or false)")
    elif isinstance(default, (int, float)):
        if isinstance(value, (bool, str, dict)):
            raise OptlabError(f"Invalid study.{key}: {value!r} (must be a number)")
        if isinstance(value, float) and not math.isfinite(value):
            raise OptlabError(f"Invalid study.{key}: {value!r} (must be a finite number)")
        if key == "tol" and isinstance(value, (int, float)) and not value > 0:
            raise OptlabError(f"Invalid study.{key}: {value!r} (must be > 0)")
    elif isinstance(default, (list, tuple)) and default and key not in EMPTY_OK:
        if isinstance(value, (list, tuple)) and not value:
            raise OptlabError(f"Invalid study.{key}: [] (must not be empty; study '{study}' default: {_plain(default)})")


def _plain(v):
    """Lists for tuples, recursively: a YAML value compares equal to the Python default it spells."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def engine_options(cfg: dict) -> dict:
    """device, dtype, seed and the memory cap from the ``engine`` section (steps etc. are the study's)."""
    eng = dict(cfg.get("engine") or {})
    out = {k: eng[k] for k in PASSED_ENGINE_KEYS if eng.get(k) is not None}
    out.setdefault("seed", 0)
    out["seed"] = int(out["seed"])
    return out


def plot_options(cfg: dict) -> tuple[str, int]:
    plot = dict(cfg.get("plot") or {})
    fmt = str(plot.get("format", "png"))
    if fmt not in ("png", "svg", "pdf"):
        raise OptlabError(f"Invalid plot.format: {fmt!r} (must be 'png', 'svg' or 'pdf')")
    return fmt, int(plot.get("dpi", 120))


class ObjectiveEntry:
    """One objective of a study: spec, dimension, options and a display label.

    Built from a name (``"himmelblau"``) or a dict (``{name: quadratic, cond: 100}``;
    ``dim`` and objective options allowed; keys in ``extra`` are kept in ``.extra``).
    """

    def __init__(self, entry, study: str, extra: tuple = ()):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise OptlabError(f"Invalid objective entry {entry!r} in study '{study}' "
                              "(must be a name or a dict like {name: quadratic, cond: 100})")
        entry = dict(entry)
        self.spec = objectives.get(entry.pop("name"))
        self.extra = {k: entry.pop(k) for k in list(entry) if k in extra}
        dim = entry.pop("dim", None)
        self.dim = self.spec.default_dim() if dim is None else dim
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise OptlabError(f"Invalid dim for objective '{self.spec.name}': {dim!r} (must be an integer >= 1)")
        self.spec.check_dim(self.dim)
        self.options = entry
        self.spec.make_params(self.dim, **self.options)  # validates option names and values
        self.name = self.spec.name

    @property
    def label(self) -> str:
        opts = ", ".join(f"{'κ' if k == 'cond' else k}={_fmt(v)}" for k, v in self.options.items())
        dim = f", d={self.dim}" if self.spec.dim is None and self.dim != 2 else ""
        return f"{self.name}" + (f" ({opts}{dim})" if opts or dim else "")

    @property
    def slug(self) -> str:
        """ASCII file/array name: ``quadratic_cond_100``, ``rastrigin_dim_3``."""
        parts = [self.name] + [f"{k}_{_fmt(v)}" for k, v in self.options.items()]
        if self.spec.dim is None and self.dim != 2:
            parts.append(f"dim_{self.dim}")
        raw = "_".join(parts)
        return "".join(c if (c.isascii() and c.isalnum()) else "_" for c in raw).strip("_")

    def f_min(self):
        return self.spec.min_value(self.dim, **self.options)

    def bounds(self) -> np.ndarray:
        return self.spec.bounds(self.dim)


def objective_entries(entries, study: str, extra: tuple = ()) -> list[ObjectiveEntry]:
    if isinstance(entries, (str, dict)):
        entries = [entries]
    if not entries:
        raise OptlabError(f"study '{study}' needs study.objectives: a list of objective names or dicts")
    return [ObjectiveEntry(e, study, extra) for e in entries]


def require_2d(entry: ObjectiveEntry, study: str, what: str, suggestions: str) -> None:
    """A study that draws on the plane refuses objectives that do not live there, in one line."""
    if entry.dim != 2:
        raise OptlabError(
            f"Study '{study}' {what}; objective '{entry.name}' has dimension {entry.dim}, not 2. "
            f"Use a 2-D objective, e.g. {suggestions}")


def _fmt(v):
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# --- stationary points --------------------------------------------------------

def stationary_points(spec, dim: int = 2, **options) -> list:
    """The objective's stationary points (records with ``x``, ``value``, ``kind``).

    ``spec.stationary_points`` (the registry's table) when it has any; else,
    for 2-D objectives with isolated stationary points, a Newton multistart over
    the plotting box (:func:`find_stationary`); else the global minima as kind
    "minimum".
    """
    pts = getattr(spec, "stationary_points", None)
    if callable(pts):
        pts = pts(dim, **options)
    pts = list(pts or ())
    if not pts and dim == 2 and not options and not getattr(spec, "stationary_note", ""):
        pts = find_stationary(spec)
    if not pts:
        pts = [_Point(tuple(np.asarray(x, float)), v, "minimum") for x, v in spec.global_minima(dim, **options)]
    return pts


_FOUND: dict = {}


def find_stationary(spec, bounds=None, n=40) -> list:
    """Stationary points of a 2-D objective in its box: Newton from an n x n grid, deduplicated,
    classified by the Hessian's eigenvalues (a fallback for objectives without a stored table)."""
    key = spec.name
    if key in _FOUND:
        return _FOUND[key]
    if bounds is None:
        bounds = getattr(spec, "stationary_box", None)
        bounds = spec.bounds(2) if bounds is None else bounds
    box = np.asarray(bounds, dtype=float)
    xs = np.linspace(box[0, 0], box[0, 1], n)
    ys = np.linspace(box[1, 0], box[1, 1], n)
    X = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    for _ in range(40):
        g = spec.grad(X)
        h = spec.hess(X)
        det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] * h[:, 1, 0]
        ok = np.abs(det) > 1e-300
        dx = np.zeros_like(X)
        dx[ok, 0] = (h[ok, 1, 1] * g[ok, 0] - h[ok, 0, 1] * g[ok, 1]) / det[ok]
        dx[ok, 1] = (h[ok, 0, 0] * g[ok, 1] - h[ok, 1, 0] * g[ok, 0]) / det[ok]
        X = X - np.clip(dx, -1.0, 1.0)
    g = spec.grad(X)
    scale = 1.0 + np.abs(spec.value(X))
    inside = np.all((X >= box[:, 0] - 1e-9) & (X <= box[:, 1] + 1e-9), axis=1)
    good = inside & np.isfinite(g).all(axis=1) & (np.linalg.norm(g, axis=1) <= 1e-8 * scale)
    found = []
    for x in X[good]:
        x = _snap(spec, x)
        if any(np.linalg.norm(x - q.x) < 1e-6 * (1 + np.linalg.norm(x)) for q in found):
            continue
        lam = np.linalg.eigvalsh(spec.hess(x))
        kind = "minimum" if lam[0] > 0 else "maximum" if lam[-1] < 0 else "saddle"
        found.append(_Point(np.asarray(x, dtype=float), float(spec.value(x)), kind))
    _FOUND[key] = found
    return found


def _snap(spec, x, tol=1e-7):
    """Round coordinates within ``tol`` of a multiple of 0.5 onto it when the gradient stays as small
    (a degenerate point like the monkey saddle's origin converges slowly under Newton)."""
    x = np.asarray(x, dtype=float).copy()
    g0 = np.linalg.norm(spec.grad(x))
    for i in range(x.size):
        r = np.round(x[i] * 2.0) / 2.0
        if r != x[i] and abs(x[i] - r) < tol:
            y = x.copy()
            y[i] = r
            if np.linalg.norm(spec.grad(y)) <= max(g0, 1e-12):
                x = y
    return x


class _Point:
    def __init__(self, x, value, kind):
        self.x, self.value, self.kind = x, value, kind

    def __repr__(self):
        return f"{self.kind} at {tuple(round(float(v), 6) for v in self.x)}, f={self.value:g}"


def points_of_kind(spec, kind: str, dim: int = 2, **options) -> list:
    return [p for p in stationary_points(spec, dim, **options) if p.kind == kind]


def newton_refine(spec, x, options=None, iters=30) -> np.ndarray:
    """Polish a stationary point with Newton's method on grad f = 0 (float64)."""
    options = options or {}
    x = np.asarray(x, dtype=float).copy()
    for _ in range(iters):
        g = spec.grad(x, **options)
        h = spec.hess(x, **options)
        try:
            dx = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        x = x - dx
        if np.max(np.abs(dx)) <= 4e-16 * max(1.0, np.max(np.abs(x))):
            break
    return x


def hessian_eigs(spec, x, options=None):
    """Eigenvalues (ascending) and eigenvectors of the Hessian at x, from ``spec.hess``."""
    h = np.asarray(spec.hess(np.asarray(x, dtype=float), **(options or {})), dtype=float)
    return np.linalg.eigh(0.5 * (h + h.T))


def curvature_at_minimum(entry: ObjectiveEntry):
    """(x*, L, mu): the global minimum and the largest / smallest Hessian eigenvalue there.

    Computed from the objective's Hessian kernel and ``np.linalg.eigvalsh``,
    never typed in.
    """
    mins = entry.spec.global_minima(entry.dim, **entry.options)
    if not mins:
        raise OptlabError(f"Objective '{entry.name}' has no known minimum, so no curvature L at the minimum; "
                          "use one with a known minimum (quadratic, rosenbrock, beale, himmelblau)")
    x_star = np.asarray(mins[0][0], dtype=float)
    h = np.asarray(entry.spec.hess(x_star, **entry.options), dtype=float)
    lam = np.linalg.eigvalsh(0.5 * (h + h.T))
    return x_star, float(lam[-1]), float(lam[0])


def constant_hessian(entry: ObjectiveEntry, points) -> bool:
    """Whether the Hessian is the same at every point given (to 1e-12 relative): the objective is a
    quadratic there, so the linear theory of a study holds exactly and not only near one point."""
    hs = [np.asarray(entry.spec.hess(np.asarray(x, dtype=float), **entry.options), dtype=float) for x in points]
    scale = max(float(np.max(np.abs(h))) for h in hs) or 1.0
    return all(np.max(np.abs(h - hs[0])) <= 1e-12 * scale for h in hs[1:])


def log_grid_step(lrs, at: float) -> float:
    """The width of one step of the geometric grid ``lrs`` at the value ``at``: ``at * (q - 1)``
    with q the grid's ratio. A measured edge (the midpoint of two neighbours that bracket the
    true one) is within this of it; the theory tables use it as their tolerance."""
    lrs = np.asarray(lrs, dtype=float)
    return float(at * (lrs[1] / lrs[0] - 1.0))


def in_grid(lrs, value: float) -> bool:
    """Whether ``value`` lies strictly inside the grid, so that a measured edge can bracket it."""
    return bool(np.min(lrs) < value < np.max(lrs))


# --- optimizers ---------------------------------------------------------------

def optimizer_available(name: str) -> bool:
    return name in optimizers.registry


def sgd_like(name: str, **hyper):
    """(registered optimizer name, hyper) for the lecture's SGD presets.

    ``gd`` and ``momentum`` are torch.optim.SGD with momentum 0 / > 0; the
    preset is used when registered, else ``sgd`` with the same settings (same
    kernel, same numbers).
    """
    if optimizer_available(name):
        return name, hyper
    fixed = {"gd": dict(momentum=0.0), "momentum": dict(), "nesterov": dict(nesterov=True)}.get(name, {})
    return "sgd", {**fixed, **hyper}


def planned_kernels(cfg: dict, study: str, defaults: dict, quick: dict | None, methods, extra: tuple = (),
                    sweep: bool = False, minibatches: bool = False):
    """The kernels a lecture study runs: each of ``methods`` (optimizer or SGD preset
    names) on each of its objectives, in the configured dtype; ``sweep``: its runs give the
    trajectories different hyperparameters (``KernelKey.sweep``); ``minibatches``: its runs
    set their own batch sizes (the general objective function, not the full-batch one the
    entry's options would take: ``KernelKey.full_batch``)."""
    from ..engine.warmup import KernelKey, full_batch
    p = study_params(cfg, study, defaults, quick)
    raw = p["objectives"] if "objectives" in p else [p["objective"]]
    entries = objective_entries(raw, study, extra=extra)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    names = dict.fromkeys(m if optimizer_available(m) else sgd_like(m)[0] for m in methods)
    return [KernelKey(n, e.name, e.dim, dtype, sweep=sweep,
                      full_batch=not minibatches and full_batch(e.spec, e.options))
            for e in entries for n in names]


def as_float_list(name, values, minimum=None) -> list[float]:
    try:
        out = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    except (TypeError, ValueError):
        raise OptlabError(f"Invalid study.{name}: {values!r} (must be a number or a list of numbers)") from None
    if minimum is not None and any(not v >= minimum for v in out):
        raise OptlabError(f"Invalid study.{name}: {values!r} (every value must be >= {minimum})")
    return out


def positive_int(name, v, minimum=1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise OptlabError(f"Invalid study.{name}: {v!r} (must be an integer >= {minimum})")
    return int(v)


def save_arrays(path, **arrays):
    """The arrays behind a study's figures, as one compressed npz, written atomically."""
    from ..engine.result import atomic_path
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    from ..manifest import note
    note(path, "arrays")
    return path


def jsonable(obj):
    """A copy with numpy scalars/arrays made plain and non-finite floats made None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def finish(out_dir, metrics: dict, summary: dict) -> dict:
    """Write metrics.json (strict JSON) and return the summary, JSON-ready."""
    from ..engine.result import write_json_atomic
    from ..manifest import note
    note(write_json_atomic(out_dir / "metrics.json", jsonable(metrics)), "metrics")
    table = summary.pop("table", None)
    out = jsonable(summary)
    if table is not None:
        out["table"] = table
    return out
