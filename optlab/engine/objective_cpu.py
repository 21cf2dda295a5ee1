"""Objectives as compiled first-class functions for the CPU engine.

The CPU kernel is generated per optimizer (and block width); the objective
reaches it as an argument of Numba's ``FunctionType`` -- one compiled
function per objective and dtype, called through a pointer -- so a kernel
compiles once per optimizer, not once per (optimizer, objective) pair: the
optimizer race compiles 13 kernels and 3 objectives instead of 39 pairs. The
objective's loops run over the block inside the call, so the indirect call
costs one call per block and step (docs/DESIGN.md has the measurements).

Each function is compiled once per dtype and kept in Numba's disk cache;
:func:`optlab.engine.codegen.guard_cached_functions` drops that cache when
the code the objective reaches (its helpers, ``ops``, ``rng``) changes.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

_DISPATCHERS: dict = {}
_GUARDED: set = set()


@functools.lru_cache(maxsize=None)
def _signature(dtype_str):
    from numba import from_dtype, types
    dt = from_dtype(np.dtype(dtype_str))
    a2 = types.Array(dt, 2, "C")
    return types.void(a2, a2, types.Array(dt, 1, "C"), types.Array(types.float64, 1, "C"), types.int64,
                      types.Array(types.int64, 1, "C"))


def signature(dtype):
    """``value_grad(x, g, f, p, n, ctx)`` for blocks of ``dtype``: x, g (D, B); f (B,); p float64; ctx int64."""
    return _signature(np.dtype(dtype).str)


class Address:
    """A compiled first-class function as a kernel argument, by Numba's wrapper-address protocol:
    its address looked up once. Passed as a Dispatcher, each call of the kernel looked up two
    compile results per such argument and chunk (about 10 us each), under the GIL.

    The kernel then calls the function through its C wrapper (no jit address): the same
    compiled code, so the same numbers."""

    __slots__ = ("disp", "sig", "addr")

    def __init__(self, disp, sig):
        from numba.experimental.function_type import _get_wrapper_address
        self.disp = disp  # keeps the compiled code alive
        self.sig = sig
        self.addr = _get_wrapper_address(disp, sig)

    def __wrapper_address__(self):
        return self.addr

    def signature(self):
        return self.sig


_ADDRESSES: dict = {}


def address(disp, sig):
    """``Address(disp, sig)``, kept per (dispatcher, signature) while the overload stays compiled."""
    key = (id(disp), sig)
    a = _ADDRESSES.get(key)
    if a is None or a.disp is not disp:
        a = _ADDRESSES[key] = Address(disp, sig)
    return a


def function_type(dtype):
    """The Numba type a kernel's ``obj_fg`` argument has."""
    from numba import types
    return types.FunctionType(signature(dtype))


def _guard(fn) -> None:
    module = sys.modules[fn.__module__]
    if module.__name__ in _GUARDED:
        return
    from .. import objectives
    from . import codegen
    names = sorted({k.__name__ for s in objectives.registry for k in _kernels(s)
                    if k.__module__ == module.__name__})
    codegen.guard_cached_functions(module, names or [fn.__name__])
    _GUARDED.add(module.__name__)


def _kernels(obj_spec) -> tuple:
    """Every function of the spec the CPU engine or the evaluators compile through this module."""
    out = (obj_spec.value_grad_kernel, obj_spec.cpu_kernel)
    return out + ((obj_spec.full_batch_kernel,) if obj_spec.full_batch_kernel is not None else ())


def kernel_for(obj_spec, p=None):
    """The function the CPU engine compiles for a run with parameters ``p``: the spec's
    ``full_batch_kernel`` for a full-batch run (``p[2]``, the batch size, 0), unless it is not
    compiled or cached and the general ``cpu_kernel`` is (a study that compiled that one up front
    runs on it: the same bits); else ``cpu_kernel``."""
    fn = obj_spec.cpu_kernel
    full = obj_spec.full_batch_kernel
    if full is None or p is None or p[2] != 0.0:
        return fn
    pick = _FULL_PICK.get(full)
    if pick is None:  # decided once per process: the cache folder is not read again on every run
        pick = _FULL_PICK[full] = fn if not _fn_cached(full) and _fn_cached(fn) else full
    return pick


#: kernel_for's choice for each full-batch kernel, once made in this process
_FULL_PICK: dict = {}


def forget_choices() -> None:
    """Let :func:`kernel_for` choose again from what is on disk (after a precompile)."""
    _FULL_PICK.clear()


def dispatcher(obj_spec, fn=None):
    """The objective's engine function (``fn``, default ``cpu_kernel``) as a disk-cached Numba
    dispatcher (compiled per dtype on demand)."""
    import numba
    fn = obj_spec.cpu_kernel if fn is None else fn
    if numba.config.DISABLE_JIT:
        return fn
    disp = _DISPATCHERS.get(fn)
    if disp is None:
        _guard(fn)
        from .jitopts import CPU
        disp = numba.njit(**CPU)(fn)  # noalias: x, g, f, p and ctx never overlap
        _DISPATCHERS[fn] = disp
    return disp


def function(obj_spec, dtype, p=None, fn=None):
    """The objective, compiled (or loaded) for ``dtype``: pass it as a kernel's ``obj_fg``
    (:func:`kernel_for` the run's parameters ``p``; ``fn``: that function of the spec instead)."""
    disp = dispatcher(obj_spec, kernel_for(obj_spec, p) if fn is None else fn)
    if hasattr(disp, "compile"):
        sig = signature(dtype)
        if sig.args not in disp.overloads:
            disp.compile(sig)
    return disp


def argument(obj_spec, dtype, p=None):
    """:func:`function` as the CPU kernel takes it: an :class:`Address` when compiled."""
    key = (kernel_for(obj_spec, p), np.dtype(dtype).str)
    a = _ARGUMENTS.get(key)
    if a is not None and _DISPATCHERS.get(key[0]) is a.disp:
        return a  # asked on every run: Numba's overload lookup by signature cost ~10 us
    disp = function(obj_spec, dtype, p)
    if not hasattr(disp, "compile"):
        return disp
    a = _ARGUMENTS[key] = address(disp, signature(dtype))
    return a


#: argument's Address by (function, dtype), while its dispatcher is the one in _DISPATCHERS
_ARGUMENTS: dict = {}


def _fn_cached(fn) -> bool:
    if getattr(_DISPATCHERS.get(fn), "overloads", None):
        return True  # compiled or loaded in this process
    from .codegen import _numba_cache_dirs
    path = Path(sys.modules[fn.__module__].__file__)
    for folder in _numba_cache_dirs(path)[:1]:
        if folder.is_dir() and list(folder.glob(f"{path.stem}.{fn.__name__}-*.nbc")):
            return True
    return False


def is_cached(obj_spec, p=None) -> bool:
    """True when the objective's compiled code for a run with parameters ``p`` is on disk (any dtype)."""
    return _fn_cached(kernel_for(obj_spec, p))
