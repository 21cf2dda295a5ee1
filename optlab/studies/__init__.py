"""Studies: what a run computes and draws, chosen by ``study.name`` in the config.

A study is a function ``run(cfg, out_dir) -> summary`` taking the plain
(already resolved) config dict and the run folder. It writes its artifacts
(metrics.json, trajectories, figures) into the folder and returns a small
JSON-ready summary. Register one with :func:`register`; a study that runs
several (optimizer, objective) pairs also names them, ``kernels(cfg) ->
[KernelKey, ...]``, so that the runner compiles the missing ones up front and
in parallel (``tests/test_studies.py`` checks the list against what the study
really runs).
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import unknown_name

_STUDIES: dict = {}


def register(name: str, requires_2d: bool = False, kernels=None):
    def deco(fn):
        fn.study_name = name
        fn.requires_2d = requires_2d
        fn.kernels = kernels
        _STUDIES[name] = fn
        return fn
    return deco


def _load():
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def get(name: str):
    if not _STUDIES:
        _load()
    if name not in _STUDIES:
        raise unknown_name("study", name, _STUDIES)
    return _STUDIES[name]


def names() -> list[str]:
    if not _STUDIES:
        _load()
    return sorted(_STUDIES)
