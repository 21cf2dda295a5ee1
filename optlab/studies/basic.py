"""The basic studies: one optimizer ("single") and several side by side ("compare")."""
from __future__ import annotations

import numpy as np

from .. import simulate
from ..engine.core import default_starts
from ..plots import save
from ..plots.curves import loss_figure
from ..plots.landscape import contour_figure
from ..sharding import apply_shard, kernel_timing
from . import register
from .. import manifest
from ._common import engine_kwargs, format_table, objective_setup, optimizer_setup, run_summary, write_metrics


def _run_all(cfg, out_dir, optimizer_sections, study):
    cfg, shard = apply_shard(cfg)  # engine.shard / engine.num_shards: this job's slice of the starts
    spec, dim, options, x0 = objective_setup(cfg, study=study)
    eng = engine_kwargs(cfg)
    setups = [optimizer_setup(sec) for sec in optimizer_sections]  # validate all before running any
    setups = [(opt, hyper, label) for (opt, hyper, _), label in zip(setups, unique_labels([s[2] for s in setups]))]
    x0 = shard.starts(cfg, spec, dim, x0, default_starts)  # objective.x0, study.starts or defaults
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
    from ..engine.warmup import KernelKey
    spec, dim, _, _ = objective_setup(cfg)
    dtype = str((cfg.get("engine") or {}).get("dtype") or "float64")
    return [KernelKey(str(sec["name"]), spec.name, dim, dtype) for sec in sections if "name" in (sec or {})]


@register("single")
def single(cfg, out_dir):
    """The configured optimizer on the configured objective."""
    return _run_all(cfg, out_dir, [cfg["optimizer"]], "single")


@register("compare", kernels=lambda cfg: _kernels(cfg, (cfg.get("study") or {}).get("optimizers") or []))
def compare(cfg, out_dir):
    """Several optimizers (``study.optimizers``: list of optimizer sections) from the same starts."""
    sections = (cfg.get("study") or {}).get("optimizers") or []
    if not sections:
        from ..errors import OptlabError
        raise OptlabError("study 'compare' needs study.optimizers: a list like [{name: adam, lr: 0.01}, ...]")
    return _run_all(cfg, out_dir, sections, "compare")
