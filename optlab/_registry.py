"""Name -> spec registries filled by discovering the modules of a package.

Adding an optimizer or an objective is one new module that defines ``SPEC``
(or ``SPECS``) plus a config file; nothing else needs editing.
"""
from __future__ import annotations

import importlib
import pkgutil

from .errors import unknown_name


class Registry:
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
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
