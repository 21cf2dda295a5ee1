"""Damaged compiled code of the functions a kernel calls: detected, removed, compiled again.

A generated kernel's own artifacts are checked by :mod:`optlab.engine.codegen`.
The functions it calls rather than inlines -- the driver, L-BFGS's helpers and
the objective -- keep their compiled code where Numba caches their modules; a
truncated or garbled file there made every later run of that pair fail with a
Numba or pickle error. Here, before their first compile in a process, their
index and object files are checked (complete pickle streams, nothing unpickled);
and if loading still fails, their compiled files and the kernel's are removed
and the load is tried once more. Either way: one warning line.
"""
from __future__ import annotations

import sys
from pathlib import Path

_CHECKED: set = set()


def helper_modules(opt, obj) -> list[str]:
    """Modules whose cached code a CPU kernel of ``opt`` on ``obj`` loads."""
    names = ["optlab.engine.driver", obj.value_grad_kernel.__module__]
    if opt.name == "lbfgs":
        names.append("optlab.engine.lbfgs_ops")
    return names


def _files(module_name: str) -> list[Path]:
    import importlib

    from .codegen import _numba_cache_dirs
    path = Path(importlib.import_module(module_name).__file__)
    out = []
    for folder in _numba_cache_dirs(path):
        if folder.is_dir():
            out += sorted(folder.glob(f"{path.stem}.*.nb[ic]"))
    return out


def _remove(files) -> int:
    n = 0
    for f in files:
        try:
            f.unlink()
            n += 1
        except OSError:
            pass
    return n


def _warn(what: str) -> None:
    print(f"optlab: {what}; rebuilding it", file=sys.stderr, flush=True)


def check(module_names) -> None:
    """Remove a module's cached code when any of its files is not a complete pickle stream."""
    from .codegen import _complete_pickles
    for name in module_names:
        if name in _CHECKED:
            continue
        _CHECKED.add(name)
        files = _files(name)
        for f in files:
            try:
                ok = _complete_pickles(f.read_bytes(), 2 if f.suffix == ".nbi" else 1)
            except OSError:
                ok = False
            if not ok:
                _remove(files)
                _warn(f"cached compiled code of {name} was damaged ({f.name})")
                break


def purge(module_names, kernel_path: Path | None, exc: BaseException) -> bool:
    """After a failed load: remove the compiled files of the helpers and of the kernel; True when
    there was something to remove (then loading again is worth a try)."""
    from .codegen import compiled_files
    files = [f for name in module_names for f in _files(name)]
    if kernel_path is not None:
        files += compiled_files(kernel_path)
    if not _remove(files):
        return False
    first = str(exc).splitlines()[0][:80] if str(exc) else ""
    _warn(f"cached compiled code could not be loaded ({type(exc).__name__}{': ' + first if first else ''})")
    return True


def retry(load, module_names, kernel_path):
    """``load()``; when it fails for a reason other than a user mistake, remove the compiled files of
    ``module_names`` (and of the kernel) and call it once more -- if there was anything to remove.
    ``kernel_path``: a Path, None, or a function that returns one (asked only on a failure: a run
    that loads need not build it)."""
    from ..errors import OptlabError
    try:
        return load()
    except (OptlabError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if callable(kernel_path):
            kernel_path = kernel_path()
        if not purge(module_names, kernel_path, exc):
            raise
    return load()
