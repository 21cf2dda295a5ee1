"""The basic studies: one optimizer ("single") and several side by side ("compare")."""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..engine.core import _n_per_traj, _n_scheduler
from ..errors import OptlabError
from ..engine.core import default_starts
from ..plots import save
from ..plots.curves import loss_figure
from ..plots.landscape import contour_figure
from ..sharding import SHARD_KEYS, Shard, apply_shard, kernel_timing
from . import register
from .. import manifest
from ._common import (ENGINE_KEYS, engine_kwargs, format_table, objective_setup, optimizer_setup, run_summary,
                      scheduler_kwargs, write_metrics)


def _setup(cfg, optimizer_sections, study):
    """Everything a basic study runs, checked: (cfg, spec, dim, options, engine kwargs, setups, x0)."""
    cfg, shard = apply_shard(cfg)  # engine.shard / engine.num_shards: this job's slice of the starts
    spec, dim, options, x0 = objective_setup(cfg, study=study)
    eng = engine_kwargs(cfg)
    sched = scheduler_kwargs(cfg)
    if sched is not None:
        eng["scheduler"] = sched
    setups = [optimizer_setup(sec) for sec in optimizer_sections]  # validate all before running any
    setups = [(opt, hyper, label) for (opt, hyper, _), label in zip(setups, unique_labels([s[2] for s in setups]))]
    if (cfg.get("plot") or {}).get("animate") and dim != 2:
        raise OptlabError(f"plot.animate draws the paths on the plane; objective '{spec.name}' has dimension {dim}. "
                          "Use a 2-D objective or plot.animate=false")
    x0 = Shard(base_seed=shard.base_seed).starts(cfg, spec, dim, x0, default_starts)  # all of them
    for opt, hyper, label in setups:
        n_h = _n_per_traj(hyper)
        if n_h > 1 and len(x0) not in (1, n_h):
            raise OptlabError(f"{label}: {n_h} values per hyperparameter for {len(x0)} start points; give one "
                              "value, one per start, or a single start (objective.x0=[x, y]); sweeps: -m")
    if shard.count > 1:  # this job's slice of the trajectories: the starts and the per-trajectory values
        if _n_scheduler(eng.get("scheduler")) > 1:
            raise OptlabError("engine.num_shards splits the starts and the hyperparameters given per trajectory, "
                              "not a scheduler's per-trajectory options: give the scheduler one value each, "
                              "or run it unsharded")
        n_h = [_n_per_traj(hyper) for _, hyper, _ in setups]
        bounds = [shard.bounds(max(len(x0), n)) for n in n_h]  # every run has a slice: one trajectory has none
        if len(x0) > 1:
            x0 = shard.select(x0)  # one start with per-trajectory values stays: each shard runs it
        # the slice keeps its trajectories' indices in the whole run: the unsharded run's noise and
        # minibatches (the draws are keyed by the index)
        setups = [(opt, {**(_slice_hyper(hyper, *ab) if n > 1 else hyper), "trajectory_offset": ab[0]}, label)
                  for (opt, hyper, label), n, ab in zip(setups, n_h, bounds)]
    return cfg, spec, dim, options, eng, setups, x0


def _slice_hyper(hyper: dict, a: int, b: int) -> dict:
    """Trajectories ``a .. b`` of the per-trajectory hyperparameters (a value per trajectory, or a
    tuple per trajectory for betas and the like); scalars as they are."""
    from ..optimizers._base import PAIRS
    out = {}
    for key, v in hyper.items():
        arr = np.asarray(v, dtype=object)
        many = arr.ndim >= 2 if key in PAIRS else (arr.ndim >= 1 and arr.size > 1)
        out[key] = list(v)[a:b] if many else v
    return out


def _check(cfg, sections, study):
    _setup(cfg, sections, study)


def _run_all(cfg, out_dir, optimizer_sections, study):
    cfg, spec, dim, options, eng, setups, x0 = _setup(cfg, optimizer_sections, study)
    runs = []
    try:
        for opt, hyper, label in setups:
            res = simulate(opt.name, spec.name, x0=x0, objective_options=options, **eng, **hyper)
            runs.append((label, res))
    except KeyboardInterrupt:
        _save_finished(out_dir, spec, runs, study)
        raise
    _artifacts(cfg, out_dir, spec, dim, options, runs, study)
    rows = [{**run_summary(label, res), **kernel_timing(res)} for label, res in runs]
    return {"study": study, "objective": spec.name, "runs": rows, "table": format_table(rows)}


def _save_finished(out_dir, spec, runs, study):
    """Ctrl-C between runs: keep the runs that finished (metrics.json and their npz, no figures); the
    manifest stays marked unfinished, so the report shows them as the partial results they are."""
    if not runs:
        return
    import signal
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut these writes
    except ValueError:  # not the main thread (a launcher's worker): no handler to change
        previous = None
    try:
        write_metrics(out_dir, study, spec, runs, extra={"interrupted": True})
        _save_trajectories(out_dir, runs, study)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _save_trajectories(out_dir, runs, study):
    rec = manifest.active(out_dir) or manifest.Recorder(out_dir, study)  # names each run's own file
    for label, res in runs:
        manifest.note(res.save_npz(rec.run_file(label)), "trajectories", label=label)


def _artifacts(cfg, out_dir, spec, dim, options, runs, study):
    plot = dict(cfg.get("plot") or {})
    fmt = plot.get("format", "png")
    dpi = plot.get("dpi", 120)
    write_metrics(out_dir, study, spec, runs)
    _save_trajectories(out_dir, runs, study)
    names = ", ".join(label for label, _ in runs) if len(runs) <= 3 else f"{len(runs)} optimizers"
    steps = runs[0][1].options["steps"]
    if plot.get("contour", True) and dim == 2:
        fig = contour_figure(spec, runs, f"{spec.name}: {names}, {steps} steps", options=options,
                             max_paths=plot.get("max_paths", 50))
        save(fig, out_dir / "contour", fmt, dpi)
    if plot.get("loss", True):
        fig = loss_figure(runs, f"{spec.name}: loss vs step", f_min=spec.min_value(dim, **options),
                          max_paths=plot.get("max_paths", 50))
        save(fig, out_dir / "loss", fmt, dpi)
    if plot.get("loss", True) and any(res.lr is not None for _, res in runs):
        from ..plots.curves import draw_lr
        from ..plots.style import styled
        with styled(None, figsize=(6.4, 3.2)) as ax:
            draw_lr(ax, runs, plot.get("max_paths", 50))
            ax.set_title(f"learning rate vs step ({runs[0][1].options['scheduler']['name']})")
        save(ax.figure, out_dir / "lr", fmt, dpi)
    if plot.get("animate", False) and dim == 2:
        from ..plots.animation import animate_paths
        animate_paths(spec, runs, f"{spec.name}: {names}", out_dir / "animation", options=options)


def unique_labels(labels) -> list[str]:
    """The labels, a repeated one numbered (``adam (lr=0.001) [2]``): each run keeps its own row and file."""
    out, seen = [], set()
    for label in labels:
        new, k = label, 2
        while new in seen:
            new, k = f"{label} [{k}]", k + 1
        seen.add(new)
        out.append(new)
    return out


def _kernels(cfg, sections):
    from ..engine.warmup import KernelKey, full_batch, schedule_kind
    spec, dim, options, _ = objective_setup(cfg)
    eng = cfg.get("engine") or {}
    dtype = str(eng.get("dtype") or "float64")
    sched = scheduler_kwargs(cfg)
    bounded = eng.get("bounds") is not None
    track = eng.get("track") or ()
    keys = []
    for sec in sections:
        if "name" not in (sec or {}):
            continue
        name = str(sec["name"])
        rec = ("exp_avg_sq",) if "preconditioned_sharpness" in track else None
        keys.append(KernelKey(name, spec.name, dim, dtype, schedule_kind(name, sched), bounded, rec,
                              sweep=_sweeps(sec), full_batch=full_batch(spec, options)))
    return keys


def _sweeps(section) -> bool:
    """True when the section gives its trajectories different hyperparameters (lr: [...])."""
    from ..engine.core import one_setting
    try:
        opt, hyper, _ = optimizer_setup(section)
        hp = opt.resolve(max(1, _n_per_traj(hyper)), hyper)[0]
    except OptlabError:
        return False  # the run itself reports it
    return not one_setting(hp)


def _compare_sections(cfg):
    sections = (cfg.get("study") or {}).get("optimizers") or []
    if not isinstance(sections, list) or not all(isinstance(sec, dict) for sec in sections):
        raise OptlabError(f"Invalid study.optimizers: {sections!r} (must be a list like [{{name: adam, lr: 0.01}}, ...])")
    if not sections:
        raise OptlabError("study 'compare' needs study.optimizers: a list like [{name: adam, lr: 0.01}, ...]")
    return sections


_BASIC_READS = dict(engine=ENGINE_KEYS + SHARD_KEYS, objective="*", scheduler="*",
                    plot=("format", "dpi", "contour", "loss", "animate", "max_paths"))


@register("single", reads=dict(_BASIC_READS, optimizer="*", study=("name", "starts")), hints={},
          check=lambda cfg: _check(cfg, [cfg.get("optimizer") or {}], "single"))
def single(cfg, out_dir):
    """The configured optimizer on the configured objective."""
    return _run_all(cfg, out_dir, [cfg["optimizer"]], "single")


@register("compare", kernels=lambda cfg: _kernels(cfg, (cfg.get("study") or {}).get("optimizers") or []),
          reads=dict(_BASIC_READS, optimizer=(), study=("name", "optimizers", "starts")),
          hints={"optimizer": "it runs the optimizers of study.optimizers (e.g. study.optimizers.0.lr=0.01)"},
          check=lambda cfg: _check(cfg, _compare_sections(cfg), "compare"))
def compare(cfg, out_dir):
    """Several optimizers (``study.optimizers``: list of optimizer sections) from the same starts."""
    return _run_all(cfg, out_dir, _compare_sections(cfg), "compare")
