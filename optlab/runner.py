"""Config (a plain dict) -> study -> artifacts. No Hydra here: usable from a notebook."""
from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from . import manifest, studies
from .engine.result import atomic_path, remove_stale_temp_files, write_json_atomic
from .errors import OptlabError

TOP_KEYS = ("study", "optimizer", "objective", "engine", "plot", "experiment", "report", "title",
            "description")


def run(cfg: dict, out_dir, config_yaml: str | None = None) -> dict:
    """Run the study that ``cfg['study']['name']`` names and write its artifacts into ``out_dir``.

    Everything is validated before any file is written, so a bad value
    leaves no half-written run behind.
    """
    out_dir = Path(out_dir)
    for key in cfg:
        if key not in TOP_KEYS and key != "hydra":
            raise OptlabError(f"Unknown config key '{key}'. Allowed: {', '.join(TOP_KEYS)}")
    study_cfg = dict(cfg.get("study") or {})
    study = studies.get(study_cfg.get("name", "single"))
    _precompile(study, cfg)
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = _recorder(out_dir, study.study_name)
    with manifest.recording(rec):
        summary = study(cfg, out_dir)
        summary["wall_s"] = round(time.perf_counter() - t0, 3)
        if config_yaml is not None:
            with atomic_path(out_dir / "config.yaml") as tmp:
                Path(tmp).write_text(config_yaml)
            rec.add(out_dir / "config.yaml", "config")
        rec.add(write_json_atomic(out_dir / "summary.json", {k: v for k, v in summary.items() if k != "table"}),
                "summary")
        rec.finish()
    return summary


def _recorder(out_dir: Path, study: str) -> manifest.Recorder:
    """The run's manifest recorder; the folder is cleared of temporary files of killed writes, and the
    files of an earlier run in it are removed once this run writes its first file."""
    remove_stale_temp_files(out_dir)
    rec = manifest.Recorder(out_dir, study)
    rec.remember_previous()
    return rec


def _precompile(study, cfg: dict) -> None:
    """Compile the study's missing kernels up front, in parallel (see optlab.engine.warmup)."""
    plan = getattr(study, "kernels", None)
    eng = dict(cfg.get("engine") or {})
    if plan is None or eng.get("device", "cpu") != "cpu":
        return
    try:
        keys = plan(cfg)
    except OptlabError:
        return  # the study reports its own bad input, in its own words
    from .engine import warmup
    warmup.ensure(keys)


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
