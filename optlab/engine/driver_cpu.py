"""The driver rules (:mod:`optlab.engine.driver`) compiled for the CPU engine.

Each is compiled on its own, once per argument types, and kept in Numba's
disk cache; the generated kernels call them rather than inline them, so the
rules cost a kernel nothing to compile (LLVM still inlines the small ones
where it pays). ``error_model="numpy"``: a division by zero gives inf/nan, as
in the kernels (Python's model would add a branch per division and keep the
loops scalar).
"""
from numba import njit

from . import codegen, driver, jitopts

_NAMES = ("start", "observe", "books", "record", "perturb", "no_perturb", "finish", "schedule_start", "schedule_load",
          "plateau_start", "plateau_step", "record_lr")
codegen.guard_cached_functions(driver, _NAMES)  # their cached code follows rng and ops too

_cpu = njit(**jitopts.CPU)  # cached, nogil, numpy error model, noalias arguments

start = _cpu(driver.start)
books = _cpu(driver.books)
record = _cpu(driver.record)
observe = _cpu(driver.observe)
perturb = _cpu(driver.perturb)
no_perturb = _cpu(driver.no_perturb)
finish = _cpu(driver.finish)
schedule_start = _cpu(driver.schedule_start)
schedule_load = _cpu(driver.schedule_load)
plateau_start = _cpu(driver.plateau_start)
plateau_step = _cpu(driver.plateau_step)
record_lr = _cpu(driver.record_lr)


def perturb_signature(dtype):
    """``perturb(g, noise, clip, seed, traj0, t, w)`` for blocks ``g`` (D, B) of ``dtype``."""
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
    sig = perturb_signature(dtype)
    if sig.args not in disp.overloads:
        disp.compile(sig)
    return disp
