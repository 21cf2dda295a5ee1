"""Config (a plain dict) -> study -> artifacts. No Hydra here: usable from a notebook."""
from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from . import checks, manifest, studies
from .engine.result import atomic_path, remove_stale_temp_files, write_json_atomic
from .errors import OptlabError

TOP_KEYS = checks.TOP_KEYS


def prepare(cfg: dict, overrides=()) -> tuple:
    """(study, config to run): the whole config checked (:func:`optlab.checks.check_config`), and
    the study's own checks run (its kernel plan reads every knob), before anything is written."""
    if not isinstance(cfg, dict):
        raise OptlabError(f"Invalid config: {type(cfg).__name__} (must be a dict of sections)")
    study_cfg = cfg.get("study") or {}
    if not isinstance(study_cfg, dict):
        raise OptlabError(f"Invalid study: {study_cfg!r} (must be a section like {{name: single}})")
    name = study_cfg.get("name", "single")
    if not isinstance(name, str):
        raise OptlabError(f"Invalid study.name: {name!r} (must be a study name)")
    study = studies.get(name)
    cfg = checks.check_config(cfg, study, overrides)
    own = getattr(study, "check", None) or getattr(study, "kernels", None)
    if own is not None:
        own(cfg)  # the study's own checks: objectives, optimizers, study.* keys
    if getattr(study, "check", None) is None:
        _dry_run(study, cfg)
    _check_contour(study, cfg, overrides)
    return study, cfg


def _check_contour(study, cfg: dict, overrides) -> None:
    """``plot.contour=true`` named on a study that draws ``cfg``'s objective, when that objective is
    not 2-D: one line (the default, true, means "where there is a plane", and is not refused)."""
    if "contour" not in ((getattr(study, "reads", None) or {}).get("plot") or ()):
        return
    if (cfg.get("plot") or {}).get("contour") is not True or "plot.contour" not in checks.user_keys(cfg, overrides):
        return
    from .studies._common import objective_setup
    spec, dim, _, _ = objective_setup(cfg)
    if dim != 2:
        raise OptlabError(f"plot.contour draws the objective's plane; objective '{spec.name}' has dimension {dim}. "
                          "Use a 2-D objective or plot.contour=false")


def _dry_run(study, cfg: dict) -> None:
    """Run a study that has no ``check`` of its own until its first engine call (into a
    throw-away folder): the checks it makes of its ``study.*`` values then come before any
    kernel is compiled or any file of the run is written."""
    import tempfile

    from .engine.core import DryRun, dry_run
    with tempfile.TemporaryDirectory(prefix="optlab-check-") as tmp, dry_run():
        try:
            study(cfg, Path(tmp))
        except DryRun:
            pass


def run(cfg: dict, out_dir, config_yaml: str | None = None, overrides=()) -> dict:
    """Run the study that ``cfg['study']['name']`` names and write its artifacts into ``out_dir``.

    Everything is validated before any file is written, so a bad value
    leaves no half-written run behind. ``overrides``: the command-line
    overrides (the CLI passes them), so a key the user named that the study
    does not read is refused even when it equals the default.
    """
    out_dir = Path(out_dir)
    study, cfg = prepare(cfg, overrides)
    precompiled = _precompile(study, cfg)
    t0 = time.perf_counter()
    existed = out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = _recorder(out_dir, study.study_name, overrides if config_yaml is not None else None)
    try:
        with manifest.recording(rec):
            summary = study(cfg, out_dir)
            summary["wall_s"] = round(time.perf_counter() - t0, 3)
            if precompiled:
                summary["precompiled"] = precompiled
            if config_yaml is not None:
                with atomic_path(out_dir / "config.yaml") as tmp:
                    Path(tmp).write_text(config_yaml)
                rec.add(out_dir / "config.yaml", "config")
            # the printed table too: a study's own numbers (momentum's beta*, lr*, ...) for its report
            rec.add(write_json_atomic(out_dir / "summary.json", summary), "summary")
            rec.finish()
    except OptlabError:
        if not existed and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # refused before writing anything: leave no empty folder behind
        raise
    return summary


def _recorder(out_dir: Path, study: str, overrides=None) -> manifest.Recorder:
    """The run's manifest recorder; the folder is cleared of temporary files of killed writes, and the
    files of an earlier run in it are removed once this run writes its first file. ``overrides``:
    the command line's (the CLI's runs), kept in the manifest with the files they made."""
    remove_stale_temp_files(out_dir)
    rec = manifest.Recorder(out_dir, study, overrides=overrides)
    rec.remember_previous()
    return rec


def _precompile(study, cfg: dict) -> dict | None:
    """Compile the study's missing kernels up front, in parallel (see optlab.engine.warmup);
    ``{"kernels": n, "seconds": s}`` when it compiled any (in worker processes, which the job's
    own compile clock does not see: the report said 'no compilation' after 11 s of it)."""
    plan = getattr(study, "kernels", None)
    eng = dict(cfg.get("engine") or {})
    if plan is None or eng.get("device", "cpu") != "cpu":
        return None
    try:
        keys = plan(cfg)
    except OptlabError:
        return None  # the study reports its own bad input, in its own words
    from .engine import warmup
    t0 = time.perf_counter()
    tags = warmup.ensure(keys)
    return {"kernels": len(tags), "seconds": round(time.perf_counter() - t0, 3)} if tags else None


def write_failure(out_dir, exc) -> None:
    """error.json for a failed job of a sweep: the report lists it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"error": str(exc), "type": type(exc).__name__,
           "user_error": isinstance(exc, OptlabError)}
    if not isinstance(exc, OptlabError):
        doc["traceback"] = "".join(traceback.format_exception(exc))
    write_json_atomic(out_dir / "error.json", doc)


def load_summary(out_dir) -> dict | None:
    path = Path(out_dir) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None
