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

_NAMES = ("start", "observe", "books", "record", "perturb", "finish", "schedule_start", "schedule_load",
          "plateau_start", "plateau_step", "record_lr")
codegen.guard_cached_functions(driver, _NAMES)  # their cached code follows rng and ops too

_cpu = njit(**jitopts.CPU)  # cached, nogil, numpy error model, noalias arguments

start = _cpu(driver.start)
books = _cpu(driver.books)
record = _cpu(driver.record)
observe = _cpu(driver.observe)
perturb = _cpu(driver.perturb)
finish = _cpu(driver.finish)
schedule_start = _cpu(driver.schedule_start)
schedule_load = _cpu(driver.schedule_load)
plateau_start = _cpu(driver.plateau_start)
plateau_step = _cpu(driver.plateau_step)
record_lr = _cpu(driver.record_lr)
