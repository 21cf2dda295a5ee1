"""Name -> spec registries filled by discovering the modules of a package.

Every module of ``optlab.optimizers`` / ``optlab.objectives`` whose name does
not start with ``_`` is imported, and its ``SPEC`` (or list ``SPECS``) is
registered under ``spec.name`` (and ``spec.aliases``). So the library itself
needs no list edited: a new module that defines ``SPEC`` is runnable with
``optlab.simulate`` at once, and every engine, study and bench that iterates
over ``names()`` picks it up.

What a new optimizer takes in full (docs/DESIGN.md, "Adding an optimizer",
has the details):

1. ``optlab/optimizers/<name>.py``: ``init`` and ``step`` in the Numba subset
   and ``SPEC`` (torch's defaults, hyperparameter rows, state sizes, torch's
   validation messages, ``torch_name``);
2. ``conf/optimizer/<name>.yaml``, generated from the spec by
   ``python -m optlab.configs``, for ``optimizer=<name>`` on the command
   line (tests/test_config.py fails while it is missing or out of date);
3. tests: a per-step reference in ``tests/naive_optimizers.py`` and
   ``SETTINGS[<name>]`` in ``tests/test_optimizers.py`` (a test fails while a
   registered optimizer is missing there); ``SETTINGS[<name>]`` in
   ``tests/torch_reference/generate.py`` and the file it writes with torch
   installed, ``tests/torch_reference/<name>.npz`` (tests/test_parity.py
   fails without it);
4. ``np_<name>`` in ``optlab/bench/references.py``: the vectorised numpy
   reference the bench's optimizer table times and tests/test_optimizers.py
   checks;
5. optional: a fixed color in ``optlab/plots/style.py`` (``_ORDER``,
   ``_PALETTE``; otherwise one is derived from the name), and the README's
   optimizer list and speed table.

A new objective: ``optlab/objectives/<name>.py`` with ``SPEC`` and
``conf/objective/<name>.yaml``; the tests run over every registered objective
by themselves, and one with a 2-D form also needs its stationary points
computed (``python -m optlab.analysis.stationary --write``) and their counts
pinned in ``PINNED`` of tests/test_objectives.py -- unless they are not
isolated (curves of minima): then ``stationary_note`` says what they are and
no table is kept.
"""
from __future__ import annotations

import importlib
import pkgutil

from .errors import unknown_name


class Registry:
    def __init__(self, kind: str, package: str, check=None):
        self.kind = kind
        self.package = package
        self.check = check  # callable(spec): raises when a spec is inconsistent
        self._specs: dict | None = None
        self._aliases: dict[str, str] = {}

    def _load(self) -> dict:
        if self._specs is None:
            specs = {}
            pkg = importlib.import_module(self.package)
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                if info.name.startswith("_"):
                    continue
                mod = importlib.import_module(f"{self.package}.{info.name}")
                found = list(getattr(mod, "SPECS", ()))
                if hasattr(mod, "SPEC"):
                    found.append(mod.SPEC)
                for spec in found:
                    if spec.name in specs:
                        raise RuntimeError(f"duplicate {self.kind} name {spec.name!r}")
                    if self.check is not None:
                        self.check(spec)
                    specs[spec.name] = spec
                    for alias in getattr(spec, "aliases", ()):
                        self._aliases[alias] = spec.name
            self._specs = specs
        return self._specs

    def get(self, name):
        if not isinstance(name, str):
            if hasattr(name, "name") and name.name in self._load():
                return name
            raise unknown_name(self.kind, name, self.names())
        specs = self._load()
        key = name.strip().lower().replace("-", "_")
        key = self._aliases.get(key, key)
        if key not in specs:
            raise unknown_name(self.kind, name, self.names())
        return specs[key]

    def names(self) -> list[str]:
        return sorted(self._load())

    def __iter__(self):
        return iter(self._load().values())

    def __contains__(self, name) -> bool:
        return name in self._load() or name in self._aliases
