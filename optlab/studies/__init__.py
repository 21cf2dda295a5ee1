"""Studies: what a run computes and draws, chosen by ``study.name`` in the config.

A study is a function ``run(cfg, out_dir) -> summary`` taking the plain
(already resolved) config dict and the run folder. It writes its artifacts
(metrics.json, trajectories, figures) into the folder and returns a small
JSON-ready summary. Register one with :func:`register`; a study that runs
several (optimizer, objective) pairs also names them, ``kernels(cfg) ->
[KernelKey, ...]``, so that the runner compiles the missing ones up front and
in parallel (``tests/test_studies.py`` checks the list against what the study
really runs).

A study also declares the config keys it reads (``reads``: per section
``engine``/``optimizer``/``objective``/``plot`` a tuple of key names or
``"*"``, and optionally ``study``): :mod:`optlab.checks` refuses a key the
user set that the study does not read. The lecture's studies (the default)
read ``engine.device``, ``dtype``, ``seed``, ``max_memory_gb`` and
``plot.format``, ``dpi``; their other knobs live in ``study.*``, and
``engine.steps`` / ``engine.tol`` go to ``study.steps`` / ``study.tol``
where the study has such a knob.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

from ..errors import unknown_name

_STUDIES: dict = {}


LECTURE_READS = {"engine": ("device", "dtype", "seed", "max_memory_gb"), "optimizer": (), "objective": (),
                 "plot": ("format", "dpi")}
HONOURED = ("steps", "tol")  # engine keys a study with a study-level knob of the same name takes over


def register(name: str, requires_2d: bool = False, kernels=None, reads=None, hints=None, check=None,
             theory: bool = False):
    """``theory=True``: the study returns a theory table (``summary["theory"]``, rows of
    :class:`optlab.theory.Claim`) and has a quick mode (``study.quick``); ``optlab check`` runs it."""
    def deco(fn):
        fn.study_name = name
        fn.theory = theory
        fn.requires_2d = requires_2d
        fn.kernels = kernels
        fn.check = check  # cfg -> None: the study's own checks, no work (default: its kernel plan)
        fn.reads = {**LECTURE_READS, **(reads or {})}
        defaults = getattr(sys.modules.get(fn.__module__), "DEFAULTS", None) or {}
        fn.honours = {f"engine.{k}": f"study.{k}" for k in HONOURED
                      if k in defaults and k not in fn.reads["engine"]}
        fn.hints = hints if hints is not None else _lecture_hints(name, defaults)
        _STUDIES[name] = fn
        return fn
    return deco


def _lecture_hints(name: str, defaults: dict) -> dict:
    where = f"its knobs are study.* keys (conf/experiment/{name}.yaml)"
    hints = {"engine": where, "optimizer": f"it runs its own optimizers (study.*, conf/experiment/{name}.yaml)"}
    if "objectives" in defaults:
        hints["objective"] = "its objectives are listed in study.objectives"
        hints["engine.steps"] = "steps are set per objective in study.objectives"
    elif "objective" in defaults:
        hints["objective"] = "its objective is study.objective"
    if "epochs" in defaults:
        hints["engine.steps"] = "its budget is study.epochs"
    return hints


_LOADED: list = []


def _load():
    """Import every study module once (a study module imported on its own first registers only
    itself: the registry is complete only after this)."""
    if _LOADED:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _LOADED.append(True)


#: studies registered by a module of another name
_HOMES = {"single": "basic", "compare": "basic"}


def get(name: str):
    """The study ``name``: its module alone is imported when it is named after it (or listed in
    ``_HOMES``), every study module otherwise (a third of a second that the quickstart saves)."""
    if name not in _STUDIES and isinstance(name, str):
        home = _HOMES.get(name, name)
        if home.isidentifier() and not home.startswith("_"):
            try:
                importlib.import_module(f"{__name__}.{home}")
            except ModuleNotFoundError as e:
                if e.name != f"{__name__}.{home}":
                    raise
    if name not in _STUDIES:
        _load()
    if name not in _STUDIES:
        raise unknown_name("study", name, _STUDIES)
    return _STUDIES[name]


def names() -> list[str]:
    _load()
    return sorted(_STUDIES)
