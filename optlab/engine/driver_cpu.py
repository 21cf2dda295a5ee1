"""The driver rules (:mod:`optlab.engine.driver`) compiled for the CPU engine.

Each is compiled on its own, once per argument types, and kept in Numba's
disk cache; the generated kernels call them rather than inline them, so the
rules cost a kernel nothing to compile (LLVM still inlines the small ones
where it pays). ``error_model="numpy"``: a division by zero gives inf/nan, as
in the kernels (Python's model would add a branch per division and keep the
loops scalar).
"""
import functools

import numpy as np
from numba import njit

from . import codegen, driver, jitopts

_NAMES = ("start", "observe", "books", "record", "perturb", "no_perturb", "finish", "schedule_start", "schedule_load",
          "plateau_start", "plateau_step", "record_lr")
codegen.guard_cached_functions(driver, _NAMES)  # their cached code follows rng, ops and this file too

_cpu = njit(**jitopts.CPU)  # cached, nogil, numpy error model, noalias arguments
# called from kernels only: no CPython wrapper to generate (unboxing 15-20 arrays: 0.1 s cold)
_inner = njit(**jitopts.CPU, no_cpython_wrapper=True)

start = _inner(driver.start)
# books runs every step: no reference counting of its own (it allocates nothing and makes no
# view). With it, its machine code called NRT_incref/NRT_decref (atomic adds) for its array
# arguments at every call: a call from a compiled loop 1.9-2.1 -> 1.36-1.38 ns a trajectory,
# Adam's lr sweep (N = 100,000, two threads) about 1% faster, on a 2-core AMD EPYC (Zen 1)
books = njit(**jitopts.CPU, no_cpython_wrapper=True, _nrt=False)(driver.books)
record = _inner(driver.record)
observe = _inner(driver.observe)
perturb = _cpu(driver.perturb)
no_perturb = _cpu(driver.no_perturb)
finish = _inner(driver.finish)
schedule_start = _inner(driver.schedule_start)
schedule_load = _inner(driver.schedule_load)
plateau_start = _inner(driver.plateau_start)
plateau_step = _inner(driver.plateau_step)
record_lr = _inner(driver.record_lr)


def perturb_signature(dtype):
    """``perturb(g, noise, clip, seed, traj0, t, w)`` for blocks ``g`` (D, B) of ``dtype``."""
    import numpy as np
    return _perturb_signature(np.dtype(dtype).str)


@functools.lru_cache(maxsize=None)
def _perturb_signature(dtype):
    import numpy as np
    from numba import from_dtype, types
    return types.void(types.Array(from_dtype(np.dtype(dtype)), 2, "C"), types.float64, types.float64,
                      types.int64, types.int64, types.int64, types.int64)


def perturb_type(dtype):
    """The Numba type of the CPU kernel's ``pert`` argument."""
    from numba import types
    return types.FunctionType(perturb_signature(dtype))


def perturb_function(dtype, active: bool):
    """What a run passes as the kernel's ``pert``: :func:`perturb` when it adds gradient noise or
    clips, else :func:`no_perturb`, compiled (or loaded) for ``dtype``. A first-class function:
    the kernel calls it through a pointer and compiles neither."""
    import numba
    disp = perturb if active else no_perturb
    if numba.config.DISABLE_JIT or not hasattr(disp, "compile"):
        return disp
    key = (disp, np.dtype(dtype).str)
    a = _PERTURB.get(key)
    if a is not None:
        return a  # asked on every run: Numba's overload lookup by signature cost ~10 us
    sig = perturb_signature(dtype)
    if sig.args not in disp.overloads:
        disp.compile(sig)
    from .objective_cpu import address
    a = _PERTURB[key] = address(disp, sig)
    return a


#: perturb_function's compiled entry points by (function, dtype)
_PERTURB: dict = {}
