"""Generated, disk-cached kernel modules, identified by what they compute.

Why generated source: a kernel specialised per pair runs fastest (the step and
gradient bodies are inlined into one loop nest), compiles only the pairs a run
uses, and -- because it lives in a real file -- Numba's ``cache=True`` reloads
it in a new process. Closures from a factory cannot be cached that way, and
one kernel with an integer switch over all algorithms runs 2-7x slower (see
docs/DESIGN.md).

**Identity.** A kernel file is named ``<tag>_<digest>.py``. The digest covers
what the kernel computes and nothing else: the generated source (the
template filled in; it names no optimizer or objective), the code of every
kernel function it inlines and, transitively, of every function those call
(parsed, with docstrings and comments dropped), the kernel layer's helper
modules (``ops``, ``rng``) likewise, ``driver_cpu`` (the options the driver's
functions compile with), and Numba's and Python's versions. So
presets and aliases that run the same code share one compiled kernel, and
editing a docstring, a validation message or a study never recompiles one,
while changing one line of a kernel function changes exactly the kernels that
inline it (``tests/test_kernel_cache.py``).

**Cache.** Kernels live in ``$OPTLAB_CACHE_DIR`` or ``~/.cache/optlab`` (under
``kernels/``), so they survive fresh clones and are shared by parallel
workers. Every load re-checks the generated file against its digest and the
compiled artifacts for readability; a damaged entry is rebuilt with one
warning line. A cache folder that cannot be written falls back to a
temporary folder (compiled in this process only) with one warning line.
``optlab cache`` shows, clears and prunes it.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import re
import shutil
import sys
import tempfile
import textwrap
import types
from pathlib import Path

import numba
import numpy as np

_MODULES: dict[str, object] = {}
_TEMPLATES: dict[str, str] = {}   # kind -> digest of its current template
_FALLBACK: list = []              # the temporary folder in use when the cache is unwritable
_WRITABLE: set = set()            # cache folders found writable in this process
_HEADER = re.compile(r"^# optlab kernel: kind=(\w+) template=(\w+)$")


def _warn(message: str) -> None:
    print(f"optlab: {message}", file=sys.stderr)


def user_cache_root() -> Path:
    """``$OPTLAB_CACHE_DIR`` or ``$XDG_CACHE_HOME/optlab`` or ``~/.cache/optlab``."""
    env = os.environ
    key = (env.get("OPTLAB_CACHE_DIR"), env.get("XDG_CACHE_HOME"), env.get("HOME"))
    root = _ROOTS.get(key)
    if root is None:
        if key[0]:
            root = Path(key[0]).expanduser()
        else:
            root = Path(key[1] or Path.home() / ".cache") / "optlab"
        _ROOTS[key] = root
    return root


_ROOTS: dict = {}  # user_cache_root by the variables it reads (every run asks)


def cache_dir() -> Path:
    """Where generated kernels and their compiled code live (created on demand).

    When that folder cannot be created or written (a read-only home, a path
    that is a file), kernels go to a temporary folder for this process, with
    one warning line: they compile as usual but are not kept.
    """
    path = user_cache_root() / "kernels"
    if _FALLBACK and _FALLBACK[0][0] == path:
        return _FALLBACK[0][1]
    if path in _WRITABLE and path.is_dir():  # probed once per process: a run calls this often
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True)
        probe.close()
        _WRITABLE.add(path)
        return path
    except OSError as e:
        tmp = Path(tempfile.mkdtemp(prefix="optlab-kernels-"))
        _FALLBACK[:] = [(path, tmp)]
        _warn(f"kernel cache folder {str(path)!r} is not usable ({e.strerror or e}); "
              "compiling in a temporary folder, kernels will not be kept (set OPTLAB_CACHE_DIR)")
        return tmp


# --- identity ---------------------------------------------------------------

def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                                      ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalized_source(text: str) -> str:
    """Code without docstrings, comments or layout: what a change must alter to count."""
    return ast.unparse(_strip_docstrings(ast.parse(textwrap.dedent(text))))


_FN_DIGESTS: dict = {}


def _code_names(code) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _is_kernel_code(value) -> bool:
    mod = getattr(value, "__module__", None) or ""
    return mod == "optlab" or mod.startswith("optlab.")


def _function_parts(fn, parts: dict) -> None:
    """Normalised source of ``fn`` and of every optlab function it reaches."""
    fn = getattr(fn, "py_func", fn)  # an @njit dispatcher: its Python function
    key = (fn.__module__, fn.__qualname__)
    if key in parts:
        return
    parts[key] = _FN_DIGESTS.get(fn)
    if parts[key] is None:
        parts[key] = normalized_source(inspect.getsource(fn))
        _FN_DIGESTS[fn] = parts[key]
    glob = fn.__globals__
    names = _code_names(fn.__code__)
    for name in sorted(names):
        if name not in glob:
            continue
        value = glob[name]
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith("optlab."):
                for attr in sorted(names):
                    sub = getattr(value, attr, None)
                    if callable(sub) and _is_kernel_code(sub) and hasattr(getattr(sub, "py_func", sub),
                                                                          "__code__"):
                        _function_parts(sub, parts)
            continue
        target = getattr(value, "py_func", value)
        if inspect.isfunction(target) and _is_kernel_code(target):
            _function_parts(target, parts)
        elif isinstance(value, (bool, int, float, complex, str, bytes, tuple, np.ndarray)):
            parts[(fn.__module__, f"{fn.__qualname__}:{name}")] = _value_repr(value)


def _value_repr(value) -> str:
    """A global constant as the kernel freezes it (arrays by dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return f"array{value.dtype}{value.shape}:{hashlib.sha256(value.tobytes()).hexdigest()}"
    return repr(value)


_BASE: list = []


def _base_digest() -> str:
    """The kernel layer's helper modules: their overloads apply to every kernel; and
    ``driver_cpu``, whose compile options (not only the driver's code) decide the machine code
    every CPU kernel links (Numba's cache keys a function on its own file only)."""
    if not _BASE:
        h = hashlib.sha256()
        here = Path(__file__).resolve().parent
        for name in ("ops.py", "rng.py", "cuda_ops.py", "driver_cpu.py"):
            path = here / name
            if path.exists():
                h.update(name.encode())
                h.update(normalized_source(path.read_text()).encode())
        _BASE.append(h.hexdigest())
    return _BASE[0]


_IMPORT = re.compile(r"^from (optlab[\w.]*) import ([\w ,]+)$", re.M)


def imported(source: str) -> list:
    """``(qualified name, object)`` for each optlab name the generated source imports."""
    out = []
    for mod_name, names in _IMPORT.findall(source):
        module = importlib.import_module(mod_name)
        for item in names.split(","):
            name = item.strip().split(" as ")[0].strip()
            out.append((f"{mod_name}.{name}", getattr(module, name)))
    return out


def dependency_digest(source: str) -> str:
    """Digest of the code the generated ``source`` imports and of everything that inlines."""
    parts: dict = {}
    for qualname, value in imported(source):
        target = getattr(value, "py_func", value)
        if inspect.isfunction(target):
            _function_parts(target, parts)
        elif isinstance(value, types.ModuleType):  # a kernel-layer module used as a namespace
            parts[(qualname, "")] = normalized_source(inspect.getsource(value))
        else:
            parts[(qualname, "")] = _value_repr(value)
    h = hashlib.sha256()
    for key in sorted(parts):
        h.update("|".join(key).encode())
        h.update(b"\0")
        h.update(parts[key].encode())
        h.update(b"\0")
    return h.hexdigest()


_IDENTITIES: dict[str, str] = {}


def forget() -> None:
    """Drop the memoised digests (after kernel code changed within this process)."""
    _IDENTITIES.clear()
    _FN_DIGESTS.clear()
    _BASE.clear()


def identity(source: str) -> str:
    """The kernel's digest: generated source + inlined code + base layer + versions."""
    if source in _IDENTITIES:
        return _IDENTITIES[source]
    h = hashlib.sha256()
    from .jitopts import FINGERPRINT
    h.update(f"{numba.__version__}|{sys.version_info[:2]}|{FINGERPRINT}".encode())
    h.update(_base_digest().encode())
    h.update(dependency_digest(source).encode())
    h.update(source.encode())
    _IDENTITIES[source] = h.hexdigest()[:16]
    return _IDENTITIES[source]


def register_template(kind: str, template: str) -> str:
    """Record ``kind``'s current template; returns the header line its files start with."""
    digest = hashlib.sha256(template.encode()).hexdigest()[:12]
    _TEMPLATES[kind] = digest
    return f"# optlab kernel: kind={kind} template={digest}\n"


def import_line(fn, alias: str) -> str:
    return f"from {fn.__module__} import {fn.__name__} as {alias}"


def safe_tag(*parts: str) -> str:
    return "_".join("".join(c if c.isalnum() else "_" for c in str(p)) for p in parts)


# --- loading ----------------------------------------------------------------

def _write_atomic(path: Path, text: str, replace: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if replace:
            os.replace(tmp, path)
            tmp = None
        else:
            try:
                os.link(tmp, path)  # never replace a file another process may have compiled
            except FileExistsError:
                pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _numba_cache_dirs(path: Path) -> list[Path]:
    """Where Numba keeps the compiled code of the module file ``path``: the first of its
    locators that applies (``NUMBA_CACHE_DIR``, then ``__pycache__`` beside the file, then a
    user-wide folder when that is not writable), and ``__pycache__`` as a fallback."""
    dirs = []
    try:
        from numba.core import caching
        for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator"):
            cls = getattr(caching, name, None)
            loc = cls.from_function(lambda: None, str(path)) if cls is not None else None
            if loc is not None:
                dirs.append(Path(loc.get_cache_path()))
                break
    except Exception:  # pragma: no cover - Numba's internals moved: the default place
        pass
    default = path.parent / "__pycache__"
    return dirs + ([default] if default not in dirs else [])


def compiled_files(path: Path) -> list[Path]:
    """Numba's cache files (index and object code) for the kernel file ``path``."""
    out = []
    for folder in _numba_cache_dirs(path):
        if folder.is_dir():
            out += sorted(folder.glob(f"{path.stem}.*.nb[ic]"))
    return out


def _complete_pickles(data: bytes, count: int) -> bool:
    """True when ``data`` is exactly ``count`` well-formed pickles (opcodes only, no objects built)."""
    import io
    import pickletools
    stream = io.BytesIO(data)
    try:
        for _ in range(count):
            last = None
            for last, _, _ in pickletools.genops(stream):
                pass
            if last is None or last.name != "STOP":
                return False
    except Exception:  # truncated or garbled opcodes
        return False
    return stream.tell() == len(data)


def _compiled_ok(path: Path) -> bool:
    """True when every compiled artifact of ``path`` is a complete pickle stream.

    Checked without unpickling (that would need the kernel module, and build
    the objects twice): a file cut short by a full disk or a killed copy, or
    garbled opcodes, fail; Numba's own writes are atomic.
    """
    for f in compiled_files(path):
        try:
            data = f.read_bytes()
        except OSError:
            return False
        if not _complete_pickles(data, 2 if f.suffix == ".nbi" else 1):
            return False
    return True


def _purge_compiled(path: Path) -> None:
    for f in compiled_files(path):
        try:
            f.unlink()
        except FileNotFoundError:
            pass


def load(tag: str, source: str) -> object:
    """Write ``source`` once under its identity and import it.

    An existing file is checked first: generated text that differs from
    ``source`` (a garbled or truncated file) is rewritten, and compiled
    artifacts that do not unpickle are removed, each with one warning line,
    so Numba rebuilds them instead of failing on them.
    """
    digest = identity(source)
    name = f"{tag}_{digest}"
    if name in _MODULES:
        return _MODULES[name]
    path = cache_dir() / f"{name}.py"
    try:
        existing = path.read_text()
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError):
        existing = ""
    if existing is None:
        _purge_compiled(path)  # artifacts without their source are not to be trusted
        _write_atomic(path, source, replace=False)
    elif existing != source:
        _warn(f"kernel cache entry {path.name} was damaged; rebuilding it")
        _purge_compiled(path)
        _write_atomic(path, source, replace=True)
    elif not _compiled_ok(path):
        _warn(f"compiled code of kernel {path.name} was damaged; recompiling it")
        _purge_compiled(path)
    modname = f"optlab_kernels.{name}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    module.__optlab_path__ = path
    _MODULES[name] = module
    return module


def compile_signature(dispatcher, sig):
    """Compile (or load from the cache) one signature of a generated kernel.

    If loading the cached code fails (an artifact damaged in a way the
    checks at load time cannot see), the artifacts are removed with one
    warning line and the kernel is compiled afresh; returns the dispatcher
    to use (a new one in that case).
    """
    if sig in dispatcher.overloads:
        return dispatcher
    try:
        dispatcher.compile(sig)
        return dispatcher
    except Exception:
        module = sys.modules.get(dispatcher.py_func.__module__)
        path = getattr(module, "__optlab_path__", None)
        if path is None or not compiled_files(path):
            raise  # a genuine compile error: nothing cached to blame
        _warn(f"compiled code of kernel {path.name} could not be loaded; recompiling it")
        _purge_compiled(path)
        _MODULES.pop(path.stem, None)
        fresh = getattr(load(path.stem.rsplit("_", 1)[0], path.read_text()), dispatcher.py_func.__name__)
        fresh.compile(sig)
        return fresh


def guard_cached_functions(module, names) -> None:
    """Drop Numba's cached code of ``module``'s functions when the code they reach changed.

    Numba keys the cache of an ``@njit(cache=True)`` function on its own source
    file only: when a function it calls in another file changes (the driver's
    ``perturb`` calls ``rng.normal``), it would load stale machine code. The
    digest of everything the functions reach is kept beside their cache files;
    when it differs, their cache files are removed before anything compiles.
    """
    from .jitopts import FINGERPRINT
    path = Path(module.__file__)
    src = "".join(f"from {module.__name__} import {name} as _{name}\n" for name in names)
    # the compile options and vector widths too: Numba's cache does not key on them either
    h = hashlib.sha256((_base_digest() + dependency_digest(src) + FINGERPRINT).encode()).hexdigest()[:16]
    for folder in _numba_cache_dirs(path)[:1]:
        stamp = folder / f"{path.stem}.optlab-digest"
        try:
            if stamp.read_text() == h:
                return
        except OSError:
            pass
        for f in folder.glob(f"{path.stem}.*.nb[ic]") if folder.is_dir() else ():
            f.unlink(missing_ok=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{stamp.name}.{os.getpid()}"
            tmp.write_text(h)
            os.replace(tmp, stamp)
        except OSError:
            pass  # an unwritable folder: Numba does not cache there either


def is_cached(tag: str, source: str) -> bool:
    """True when this kernel's compiled code is on disk (loading it takes no compile)."""
    digest = identity(source)
    module = _MODULES.get(f"{tag}_{digest}")
    if module is not None and getattr(getattr(module, "run", None), "overloads", None):
        return True  # loaded and compiled in this process
    path = cache_dir() / f"{tag}_{digest}.py"
    return path.exists() and bool([f for f in compiled_files(path) if f.suffix == ".nbc"])


# --- the cache as a whole (``optlab cache``) -------------------------------

def entries(folder: Path | None = None) -> list[Path]:
    folder = folder or (user_cache_root() / "kernels")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("."))


def _size(paths) -> int:
    total = 0
    for p in paths:
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def helper_files() -> list[Path]:
    """Numba's cached code of the functions kernels call rather than inline: the driver,
    L-BFGS's helpers and the objectives (kept where Numba keeps a module's cache), with
    their digest stamps (:func:`guard_cached_functions`)."""
    import importlib
    from .. import objectives
    names = {"optlab.engine.driver", "optlab.engine.lbfgs_ops"}
    names |= {s.value_grad_kernel.__module__ for s in objectives.registry}
    out = []
    for name in sorted(names):
        path = Path(importlib.import_module(name).__file__)
        for folder in _numba_cache_dirs(path)[:1]:
            if folder.is_dir():
                out += sorted(folder.glob(f"{path.stem}.*.nb[ic]")) + sorted(folder.glob(f"{path.stem}.optlab-digest"))
    return out


def info() -> dict:
    """Folder, size in bytes, number of kernel files and of compiled ones, compiled helpers."""
    folder = user_cache_root() / "kernels"
    files = entries(folder)
    compiled = [f for p in files for f in compiled_files(p)]
    helpers = helper_files()
    every = set(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else set()
    every |= set(compiled) | set(helpers)  # also where NUMBA_CACHE_DIR puts them
    return dict(folder=str(folder), bytes=_size(every), kernels=len(files),
                helpers=sum(1 for f in helpers if f.suffix == ".nbc"),
                compiled=sum(1 for p in files if any(f.suffix == ".nbc" for f in compiled_files(p))),
                compiled_files=len(compiled))


def clear() -> int:
    """Remove every cached kernel and compiled helper, and the layout check's remembered scans
    (``layout/``, :func:`optlab.optimizers._base.check_layout`); returns the number of kernel
    files removed."""
    folder = user_cache_root() / "kernels"
    files = entries(folder)
    for f in [c for p in files for c in compiled_files(p)] + helper_files():
        f.unlink(missing_ok=True)
    if folder.is_dir():
        shutil.rmtree(folder)
    shutil.rmtree(user_cache_root() / "layout", ignore_errors=True)
    return len(files)


def _current(path: Path) -> bool:
    """Would today's code produce this file? (header, template, imports, digest)"""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    m = _HEADER.match(text.split("\n", 1)[0])
    if not m or _TEMPLATES.get(m.group(1)) != m.group(2):
        return False
    tag_digest = path.stem.rsplit("_", 1)[-1]
    try:
        return identity(text) == tag_digest
    except (ImportError, AttributeError, OSError, TypeError, SyntaxError):
        return False


def prune() -> list[Path]:
    """Remove kernels that no current source produces; returns the removed files."""
    load_templates()
    removed = []
    for path in entries():
        if not _current(path):
            _purge_compiled(path)
            path.unlink(missing_ok=True)
            removed.append(path)
    folder = user_cache_root() / "kernels"
    for tmp in folder.glob(".tmp-*") if folder.is_dir() else ():
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def load_templates() -> None:
    """Import every module that generates kernels, so their templates are registered."""
    from . import compiled, cpu, cpu_lbfgs  # noqa: F401
    importlib.import_module("optlab.optimizers.nesterov_lookahead")
    try:
        from . import cuda  # noqa: F401
    except Exception:  # pragma: no cover - numba-cuda missing or broken
        pass
