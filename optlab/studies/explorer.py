"""explorer: one batched sweep per optimizer, browsed by hand in ``explorer.html``.

For each optimizer the study runs the whole grid learning rate x momentum
(the optimizer's momentum-like knob: ``momentum`` for SGD and RMSprop,
``beta1`` for the Adam family, ``rho`` for Adadelta) x start points (an
n x n grid over the objective's box) in one engine call, and writes every
recorded point into one self-contained page (:mod:`optlab.plots.explorer`):
pick the optimizer, move the lr and momentum sliders, click the landscape to
start from the nearest precomputed start, play the steps; a heatmap of the
final loss over (lr, momentum) marks the current choice and selects on
click. Nothing is computed in the browser: every path shown is the engine's.

The page must stay small enough to open at once (``study.max_mb``); a grid
that would exceed it is refused before anything runs, with the estimate and
a grid that fits.
"""
from __future__ import annotations

import numpy as np

from .. import optimizers, sweep
from ..errors import OptlabError
from . import register
from ._lecture import (ObjectiveEntry, as_float_list, engine_options, finish, positive_int, study_params)

NAME = "explorer"
KNOBS = ("momentum", "beta1", "rho", "alpha")  # the first one an optimizer has is its "momentum" axis
OPT_KEYS = ("name", "lr", "momentum")

DEFAULTS = dict(
    objective="rosenbrock",
    optimizers=[{"name": "sgd", "lr": [1e-4, 3e-3, 10]}, {"name": "adam", "lr": [1e-3, 0.3, 10]}],
    lr=[1e-4, 1e-2, 10],        # geomspace(start, stop, num), for optimizers that do not set their own
    momentum=[0.0, 0.95, 8],    # linspace(start, stop, num) of momentum / beta1 / rho
    starts=6,                   # an n x n (or [nx, ny]) grid of start points over the objective's box
    steps=200,
    record_every=2,
    tol=1e-6,
    landscape=160,              # the landscape's grid, n x n values
    max_mb=15.0,                # refuse a grid whose page would be larger
)


def _grid(where, spec, log):
    vals = as_float_list(where, spec)
    if len(vals) == 1:
        return np.asarray(vals)
    if len(vals) != 3 or vals[2] != int(vals[2]) or int(vals[2]) < 1:
        raise OptlabError(f"Invalid study.{where}: {spec!r} (must be [start, stop, num] or one value)")
    lo, hi, n = vals[0], vals[1], int(vals[2])
    if log and not 0 < lo <= hi:
        raise OptlabError(f"Invalid study.{where}: {spec!r} (need 0 < start <= stop; the lr grid is log-spaced)")
    if not lo <= hi:
        raise OptlabError(f"Invalid study.{where}: {spec!r} (need start <= stop)")
    return np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)


def _starts_shape(v):
    if isinstance(v, (list, tuple)) and len(v) == 2:
        nx, ny = (positive_int("starts", k) for k in v)
    else:
        if isinstance(v, (list, tuple)):
            raise OptlabError(f"Invalid study.starts: {v!r} (must be n or [nx, ny])")
        nx = ny = positive_int("starts", v)
    return nx, ny


def start_grid(box, nx, ny) -> np.ndarray:
    """Cell centres of an nx x ny grid over ``box`` (none on the border), row by row from the bottom."""
    xs = box[0, 0] + (np.arange(nx) + 0.5) / nx * (box[0, 1] - box[0, 0])
    ys = box[1, 0] + (np.arange(ny) + 0.5) / ny * (box[1, 1] - box[1, 0])
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


class Plan:
    """Everything the study runs, checked, without running anything."""

    def __init__(self, cfg: dict):
        p = study_params(cfg, NAME, DEFAULTS)
        self.p = p
        self.entry = ObjectiveEntry(p["objective"], NAME)
        e = self.entry
        if e.dim != 2:
            raise OptlabError(f"The explorer needs a 2-D objective (it draws the paths on the plane); "
                              f"'{e.name}' has dimension {e.dim}. Use e.g. rosenbrock, himmelblau, beale, or "
                              f"study.objective={{name: {e.name}, dim: 2}} where the objective allows it")
        self.steps = positive_int("steps", p["steps"])
        self.record_every = positive_int("record_every", p["record_every"])
        if self.record_every > self.steps:
            raise OptlabError(f"Invalid study.record_every: {self.record_every} (must be at most study.steps="
                              f"{self.steps})")
        self.n_rec = self.steps // self.record_every + 1
        self.nx, self.ny = _starts_shape(p["starts"])
        self.grid = positive_int("landscape", p["landscape"], minimum=8)
        self.tol = float(p["tol"])
        try:
            self.max_mb = float(p["max_mb"])
        except (TypeError, ValueError):
            raise OptlabError(f"Invalid study.max_mb: {p['max_mb']!r} (must be a number of megabytes)") from None
        if not self.max_mb > 0:
            raise OptlabError(f"Invalid study.max_mb: {p['max_mb']!r} (must be > 0)")
        entries = p["optimizers"]
        if isinstance(entries, (str, dict)):
            entries = [entries]
        if not isinstance(entries, list) or not entries:
            raise OptlabError(f"Invalid study.optimizers: {entries!r} (must be a list like [sgd, {{name: adam, "
                              "lr: [0.001, 0.3, 10]}}])")
        self.opts = []
        _grid("lr", p["lr"], True)  # checked even where every optimizer has its own (see below)
        _grid("momentum", p["momentum"], False)
        for raw in entries:
            ent = {"name": raw} if isinstance(raw, str) else raw
            if not isinstance(ent, dict) or "name" not in ent:
                raise OptlabError(f"Invalid entry {raw!r} in study.optimizers (must be a name or a dict like "
                                  "{name: adam, lr: [0.001, 0.3, 10], momentum: [0.0, 0.95, 8]})")
            bad = [k for k in ent if k not in OPT_KEYS]
            if bad:
                raise OptlabError(f"Unknown key '{bad[0]}' in study.optimizers entry {ent['name']!r}. "
                                  f"Allowed: {', '.join(OPT_KEYS)}")
            opt = optimizers.get(str(ent["name"]))
            knob = next((k for k in KNOBS if k in opt.vector), None)
            if knob is None:
                raise OptlabError(f"The explorer sweeps lr x momentum; optimizer '{opt.name}' has no momentum-like "
                                  f"hyperparameter ({', '.join(KNOBS)}). Use e.g. sgd, adam, rmsprop, nadam")
            lrs = _grid("lr" if "lr" not in ent else f"optimizers[{opt.name}].lr", ent.get("lr", p["lr"]), True)
            kv = _grid("momentum" if "momentum" not in ent else f"optimizers[{opt.name}].momentum",
                       ent.get("momentum", p["momentum"]), False)
            for lr in lrs[[0, -1]]:
                for v in kv[[0, -1]]:
                    try:
                        opt.resolve(1, {"lr": float(lr), knob: float(v)})
                    except OptlabError as exc:
                        raise OptlabError(f"study.optimizers[{opt.name}]: {exc}") from None
            self.opts.append(dict(name=opt.name, knob=knob, lr=lrs, knob_values=kv))
        for key in ("lr", "momentum"):  # a value set for nobody: said, not silently dropped
            own = [e for e in entries if isinstance(e, dict) and key in e]
            if len(own) == len(entries) and list(as_float_list(key, p[key])) != list(DEFAULTS[key]):
                raise OptlabError(f"study.{key}={p[key]!r} is not used: every optimizer of study.optimizers has "
                                  f"its own {key} grid (set it there, e.g. study.optimizers.0.{key}=[...])")

    @property
    def starts(self) -> np.ndarray:
        return start_grid(self.entry.bounds(), self.nx, self.ny)

    def size(self, n_rec=None, nx=None, ny=None, cells=None) -> int:
        from ..plots.explorer import estimate_bytes
        cells = cells or [len(o["lr"]) * len(o["knob_values"]) for o in self.opts]
        n_start = (nx or self.nx) * (ny or self.ny)
        return estimate_bytes(cells, n_start, n_rec or self.n_rec, self.grid)

    def check_size(self) -> None:
        est = self.size()
        budget = self.max_mb * 1e6
        if est <= budget:
            return
        dims = " + ".join(f"{o['name']} {len(o['lr'])}x{len(o['knob_values'])}" for o in self.opts)
        raise OptlabError(f"The explorer page would be about {est / 1e6:.1f} MB, over study.max_mb={self.max_mb:g} "
                          f"({dims} (lr x momentum) cells x {self.nx * self.ny} starts x {self.n_rec} records); "
                          f"{self._suggest(budget)}")

    def _suggest(self, budget) -> str:
        """A grid that fits: fewer records first (down to ~50), then fewer starts, then fewer cells."""
        every, nx, ny = self.record_every, self.nx, self.ny
        cells = [len(o["lr"]) * len(o["knob_values"]) for o in self.opts]

        def est(every, nx, ny, shrink=1.0):
            cs = [max(1, int(c * shrink)) for c in cells]
            return self.size(n_rec=self.steps // every + 1, nx=nx, ny=ny, cells=cs)
        while est(every, nx, ny) > budget and self.steps // (every + 1) + 1 >= 50:
            every += 1
        while est(every, nx, ny) > budget and max(nx, ny) > 3:
            nx, ny = max(3, nx - 1), max(3, ny - 1)
        parts = []
        if every != self.record_every:
            parts.append(f"study.record_every={every}")
        if (nx, ny) != (self.nx, self.ny):
            parts.append(f"study.starts={nx}" if nx == ny else f"study.starts=[{nx},{ny}]")
        shrink = 1.0
        while est(every, nx, ny, shrink) > budget and shrink > 1e-3:
            shrink *= 0.8
        if shrink < 1.0:
            n = max(1, int(np.sqrt(max(cells) * shrink)))
            parts.append(f"at most {n} lr x {n} momentum values per optimizer")
        return f"a grid that fits (~{est(every, nx, ny, shrink) / 1e6:.1f} MB): " + ", ".join(parts)

def plan(cfg: dict) -> Plan:
    pl = Plan(cfg)
    pl.check_size()
    return pl


def kernels(cfg: dict) -> list:
    """The (optimizer, objective) kernels this study runs, compiled up front."""
    from ..engine.warmup import KernelKey, full_batch
    pl = plan(cfg)
    dtype = str(engine_options(cfg).get("dtype", "float64"))
    keys = {}
    for o in pl.opts:  # a grid of lrs and knob values: a sweep unless both hold one value
        sweep = len(set(np.ravel(o["lr"]))) > 1 or len(set(np.ravel(o["knob_values"]))) > 1
        keys[(o["name"], sweep)] = KernelKey(o["name"], pl.entry.name, 2, dtype, sweep=sweep,
                                             full_batch=full_batch(pl.entry.spec, pl.entry.options))
    return list(keys.values())


@register(NAME, kernels=kernels, check=lambda cfg: plan(cfg))
def run(cfg: dict, out_dir) -> dict:
    """One sweep (lr x momentum x starts) per optimizer, written into the self-contained ``explorer.html``."""
    from ..engine.result import atomic_path
    from ..manifest import note
    from ..plots.explorer import page
    pl = plan(cfg)
    e = pl.entry
    eng = engine_options(cfg)
    starts = pl.starts
    box = e.bounds()
    gx = np.linspace(box[0, 0], box[0, 1], pl.grid)
    gy = np.linspace(box[1, 0], box[1, 1], pl.grid)
    GX, GY = np.meshgrid(gx, gy)
    values = e.spec.value(np.stack([GX, GY], axis=-1), **e.options)
    f_min = e.f_min()
    outs, rows = [], []
    for o in pl.opts:
        sw = sweep(o["name"], e.name, grid={"lr": o["lr"], o["knob"]: o["knob_values"]}, x0=starts,
                   steps=pl.steps, record_every=pl.record_every, tol=pl.tol, objective_options=e.options, **eng)
        outs.append(dict(name=o["name"], knob=o["knob"], lr=o["lr"], knob_values=o["knob_values"],
                         x=sw.grid("x"), loss=sw.grid("loss"), loss_final=sw.grid("loss_final"),
                         diverged_step=sw.grid("diverged_step"), tol_step=sw.grid("tol_step")))
        counts = sw.result.outcome_counts()
        final = np.where(sw.grid("diverged_step") >= 0, np.inf, sw.grid("loss_final"))
        med = np.median(final, axis=-1)
        i, j = np.unravel_index(np.argmin(med), med.shape)
        rows.append(dict(optimizer=o["name"], knob=o["knob"], n_lr=len(o["lr"]), n_knob=len(o["knob_values"]),
                         trajectories=int(sw.result.n_traj), **counts,
                         best_median_final_loss=float(med[i, j]), best_lr=float(o["lr"][i]),
                         best_knob=float(o["knob_values"][j])))
    minima = [m for m, _ in e.spec.global_minima(2, **e.options)]
    c = box.mean(axis=1) if not e.spec.starts else np.asarray(e.spec.starts[0], dtype=float)
    first = pl.opts[0]
    initial = dict(opt=0, lr=len(first["lr"]) // 2, knob=int(np.argmin(np.abs(first["knob_values"] - 0.9))),
                   start=int(np.argmin(np.sum((starts - c) ** 2, axis=1))))
    title = f"optlab explorer: {e.label}, {pl.steps} steps, {len(starts)} starts"
    text = page(title, dict(box=box, values=values), starts, np.arange(pl.n_rec) * pl.record_every, outs,
                minima=minima, f_ref=f_min, f_ref_label="f − f*" if f_min is not None else "f", initial=initial,
                tol=pl.tol)
    path = out_dir / "explorer.html"
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    note(path, "page")
    size = path.stat().st_size
    metrics = dict(study=NAME, objective=e.label, steps=pl.steps, record_every=pl.record_every,
                   starts=starts.tolist(), optimizers=rows, page="explorer.html", page_bytes=size,
                   estimated_bytes=pl.size())
    return finish(out_dir, metrics, {"study": NAME, "title": f"explorer: {e.label}, open explorer.html",
                                     "objective": e.label, "optimizers": rows, "page": "explorer.html",
                                     "page_bytes": size, "table": _table(rows, size)})


def _table(rows, size) -> str:
    head = f"{'optimizer':<10} {'knob':<9} {'grid':>7} {'runs':>6} {'conv':>5} {'div':>5} {'best median f':>13}  at (lr, knob)"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['optimizer']:<10} {r['knob']:<9} {r['n_lr']:>3}x{r['n_knob']:<3} {r['trajectories']:>6} "
                     f"{r['converged']:>5} {r['diverged']:>5} {r['best_median_final_loss']:>13.3g}  "
                     f"({r['best_lr']:.3g}, {r['best_knob']:.3g})")
    lines.append(f"explorer.html: {size / 1e6:.1f} MB, open it in a browser")
    return "\n".join(lines)
