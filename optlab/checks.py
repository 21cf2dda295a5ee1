"""The whole config checked before anything is computed or written.

:func:`check_config` is what :func:`optlab.runner.run` calls first: the
top-level keys, the ``engine``, ``plot`` and ``report`` sections (names and
values), and the keys the study does not read. Each study declares what it
reads (``register(..., reads=...)`` in :mod:`optlab.studies`); a key the user
set that the study does not read is refused in one line that names the key
and what the study uses -- or, where the study has a knob of the same name
(``study.steps`` for ``engine.steps``), honoured by moving it there.

"Set by the user" means: named by a command-line override (the CLI passes
those), or different from the base config (``conf/config.yaml`` with its
default groups), so a plain-dict config from the API is judged the same way.
No Hydra here.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import OptlabError, short_list

TOP_KEYS = ("study", "optimizer", "objective", "engine", "plot", "report", "title",
            "description", "scheduler")
PLOT_KEYS = ("format", "dpi", "contour", "loss", "animate", "max_paths")
REPORT_KEYS = ("enabled", "figures", "job_figures", "progress", "resume")
SECTIONS = ("engine", "optimizer", "objective", "plot", "scheduler")
CONF = Path(__file__).resolve().parent / "conf"


def _bool(name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise OptlabError(f"Invalid {name}: {v!r} (must be true or false)")


def _int(name, v, lo, hi=None):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
        span = f">= {lo}" if hi is None else f"from {lo} to {hi}"
        raise OptlabError(f"Invalid {name}: {v!r} (must be an integer {span})")


def _keys(section: str, given: dict, allowed) -> None:
    for key in given:
        if key not in allowed:
            from .errors import unknown_name
            raise unknown_name("key", f"{section}.{key}", [f"{section}.{k}" for k in allowed])


def check_plot(plot: dict) -> None:
    _keys("plot", plot, PLOT_KEYS)
    if "format" in plot and plot["format"] not in ("png", "svg", "pdf"):
        raise OptlabError(f"Invalid plot.format: {plot['format']!r} (must be 'png', 'svg' or 'pdf')")
    if "dpi" in plot:
        _int("plot.dpi", plot["dpi"], 10, 1200)
    for key in ("contour", "loss", "animate"):
        if key in plot:
            _bool(f"plot.{key}", plot[key])
    if "max_paths" in plot:
        _int("plot.max_paths", plot["max_paths"], 1)


def check_report(report: dict) -> None:
    _keys("report", report, REPORT_KEYS)
    for key in ("enabled", "figures", "resume"):
        if key in report:
            _bool(f"report.{key}", report[key])
    if "job_figures" in report:
        _int("report.job_figures", report["job_figures"], 0)
    if report.get("progress") is not None:
        _bool("report.progress", report["progress"])


def engine_keys() -> tuple:
    from .sharding import SHARD_KEYS
    from .studies._common import ENGINE_KEYS
    return ENGINE_KEYS + SHARD_KEYS


def check_engine(eng: dict, values: bool = True) -> None:
    from .engine.core import check_options
    _keys("engine", eng, engine_keys())
    if values:
        c = check_options(**{k: v for k, v in eng.items() if k in engine_keys() and k not in ("shard", "num_shards")})
        if "record_every" in eng and "steps" in eng and c["record_every"] > c["steps"]:
            raise OptlabError(f"Invalid engine.record_every: {c['record_every']} (must be at most engine.steps="
                              f"{c['steps']}: only the start would be recorded)")


@lru_cache(maxsize=None)
def _yaml(path: str) -> dict:
    import yaml
    p = Path(path)
    return (yaml.safe_load(p.read_text()) or {}) if p.is_file() else {}


def base_config(device: str = "cpu") -> dict:
    """The sections of the base config: ``conf/config.yaml``'s default groups, no experiment."""
    root = _yaml(str(CONF / "config.yaml"))
    groups = {}
    for entry in root.get("defaults", []):
        if isinstance(entry, dict):
            groups.update({k: v for k, v in entry.items() if k in SECTIONS})
    if device in ("cpu", "cuda"):
        groups["engine"] = device
    return {sec: _yaml(str(CONF / sec / f"{name}.yaml")) for sec, name in groups.items()}


def user_keys(cfg: dict, overrides=()) -> set:
    """Dotted keys of the four sections the user (or an experiment file) set.

    A whole section (``optimizer``) when its ``name`` differs from the base
    one; else each key whose value differs from the base or is new; plus
    every key named by a command-line override.
    """
    eng = cfg.get("engine") or {}
    base = base_config(str(eng.get("device", "cpu")) if isinstance(eng, dict) else "cpu")
    out = set()
    for sec in SECTIONS:
        given = cfg.get(sec)
        if not isinstance(given, dict):
            continue
        ref = base.get(sec, {})
        if "name" in ref and given.get("name") != ref.get("name"):
            out.add(sec)
            continue
        for key, value in given.items():
            if key not in ref or not _same(value, ref[key]):
                out.add(f"{sec}.{key}")
    for text in overrides:
        key = str(text).split("=", 1)[0].lstrip("+~")
        if key.split(".")[0] in SECTIONS:
            out.add(".".join(key.split(".")[:2]))
    return out


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def check_config(cfg: dict, study, overrides=(), values: bool = True) -> dict:
    """Check ``cfg`` for ``study`` before any work; returns the config to run (a key the study
    honours under another name moved there). Raises :class:`OptlabError` (one line).

    ``values=False``: the keys and the report section only (what a multirun's first job says
    about every job; each job checks its own values, and a bad one is reported as failed).
    """
    for key in cfg:
        if key not in TOP_KEYS and key != "hydra":
            raise OptlabError(f"Unknown config key '{key}'. Allowed: {', '.join(TOP_KEYS)}")
    for key in ("title", "description"):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            raise OptlabError(f"Invalid {key}: {cfg[key]!r} (must be text)")
    for sec in ("study", "engine", "plot", "report") + ("optimizer", "objective", "scheduler"):
        if cfg.get(sec) is not None and not isinstance(cfg[sec], dict):
            raise OptlabError(f"Invalid {sec}: {cfg[sec]!r} (must be a section of key: value)")
    cfg = dict(cfg)
    reads = getattr(study, "reads", None) or {}
    name = getattr(study, "study_name", "?")
    check_engine(dict(cfg.get("engine") or {}), values=False)
    _keys("plot", dict(cfg.get("plot") or {}), PLOT_KEYS)
    given = user_keys(cfg, overrides)
    honoured = getattr(study, "honours", {}) or {}
    for key in sorted(given):
        sec, _, sub = key.partition(".")
        allowed = reads.get(sec, ())
        if allowed == "*" or (sub and sub in allowed) or (not sub and allowed):
            continue
        if key in honoured:
            cfg = _move(cfg, key, honoured[key], overrides)
            continue
        raise OptlabError(_unused(name, key, reads, study))
    if values:
        check_engine(dict(cfg.get("engine") or {}))
        check_plot(dict(cfg.get("plot") or {}))
    check_report(dict(cfg.get("report") or {}))
    study_keys = reads.get("study")
    if study_keys is not None:
        _keys("study", {k: v for k, v in (cfg.get("study") or {}).items()}, tuple(study_keys))
    return cfg


def _move(cfg: dict, key: str, target: str, overrides) -> dict:
    """``engine.steps`` given to a study with ``study.steps``: the study's knob gets the value."""
    sec, sub = key.split(".", 1)
    value = (cfg.get(sec) or {}).get(sub)
    study = dict(cfg.get("study") or {})
    tsub = target.split(".", 1)[1]
    if tsub in study and any(str(o).lstrip("+~").split("=", 1)[0] == target for o in overrides) \
            and not _same(study[tsub], value):
        raise OptlabError(f"Both {key}={value!r} and {target}={study[tsub]!r} given; give one "
                          f"(study '{study.get('name')}' reads {target})")
    study[tsub] = value
    cfg["study"] = study
    return cfg


def _unused(name: str, key: str, reads: dict, study) -> str:
    sec, _, sub = key.partition(".")
    uses = []
    known = {"engine": engine_keys(), "plot": PLOT_KEYS}
    for s in SECTIONS:
        r = reads.get(s, ())
        every = r == "*" or (s in known and set(known[s]) <= set(r))
        uses += [f"{s}.*"] if every else [f"{s}.{k}" for k in r]
    uses += [f"study.{k}" for k in reads.get("study", ()) if k != "name"] if "study" in reads else ["study.*"]
    hint = (getattr(study, "hints", {}) or {}).get(key) or (getattr(study, "hints", {}) or {}).get(sec, "")
    what = f"'{key}'" if sub else f"the {sec} group ('{sec}=...')"
    return (f"Study '{name}' does not use {what}{'; ' + hint if hint else ''}. "
            f"It uses: {short_list(uses, 110) or 'none of them'}")
