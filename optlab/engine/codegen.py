"""Generated, disk-cached kernel modules: one per (optimizer, objective, options).

Why generated source: a kernel specialised per pair runs fastest (the step and
gradient bodies are inlined into one loop nest), compiles only the pairs a run
uses, and -- because it lives in a real file -- Numba's ``cache=True`` reloads
it in a new process. Closures from a factory cannot be cached that way, and
one kernel with an integer switch over all algorithms runs 2-7x slower (see
docs/DESIGN.md).

The file name carries a hash of everything the kernel is built from (the
template, the source files of the functions it inlines, optlab's and Numba's
versions), so editing an optimizer never reuses a stale compiled kernel.
The cache lives in ``$OPTLAB_CACHE_DIR`` or ``~/.cache/optlab`` so it
survives fresh clones and is shared by parallel workers.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
from pathlib import Path

import numba

_MODULES: dict[str, object] = {}


def cache_dir() -> Path:
    """Where generated kernels and their compiled code live."""
    root = os.environ.get("OPTLAB_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "optlab"
    path = path / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dependency_files(functions) -> set:
    """Source files of the functions' modules and of every optlab module they use.

    A kernel inlines helpers from other modules (``ops.fma``, ``rng``,
    objective helper modules): all of them must be in the hash, because Numba's
    cache does not notice when a callee changes.
    """
    files: set = set()
    seen: set = set()
    todo = [sys.modules[fn.__module__] for fn in functions]
    here = Path(__file__).resolve().parent
    todo += [sys.modules[__package__ + ".ops"], sys.modules[__package__ + ".rng"]]
    while todo:
        mod = todo.pop()
        name = getattr(mod, "__name__", "")
        if name in seen or not name.startswith("optlab"):
            continue
        seen.add(name)
        path = getattr(mod, "__file__", None)
        if path:
            files.add(Path(path).resolve())
        for value in vars(mod).values():
            owner = value if inspect.ismodule(value) else sys.modules.get(getattr(value, "__module__", "") or "")
            if owner is not None and getattr(owner, "__name__", "").startswith("optlab") and owner.__name__ not in seen:
                todo.append(owner)
    files.add(here / "ops.py")
    files.add(here / "rng.py")
    return files


def _source_digest(functions, extra: str) -> str:
    from .. import __version__
    h = hashlib.sha256()
    h.update(f"{__version__}|{numba.__version__}|{sys.version_info[:2]}".encode())
    h.update(extra.encode())
    for path in sorted(_dependency_files(functions)):
        h.update(str(path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def import_line(fn, alias: str) -> str:
    return f"from {fn.__module__} import {fn.__name__} as {alias}"


def load(tag: str, source: str, functions) -> object:
    """Write ``source`` once under a content-hashed name and import it."""
    digest = _source_digest(functions, source)
    name = f"{tag}_{digest}"
    if name in _MODULES:
        return _MODULES[name]
    path = cache_dir() / f"{name}.py"
    if not path.exists():
        # atomic: a parallel worker either sees no file or the whole file
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        try:
            os.link(tmp, path)  # never replace a file another process may have compiled
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    modname = f"optlab_kernels.{name}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    _MODULES[name] = module
    return module


def safe_tag(*parts: str) -> str:
    return "_".join("".join(c if c.isalnum() else "_" for c in str(p)) for p in parts)
