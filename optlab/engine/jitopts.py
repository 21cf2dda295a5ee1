"""Compile options the engine's CPU code shares.

``noalias``: Numba compiles the body of a ``prange`` loop with its array
arguments marked ``noalias`` (numba/parfors/parfor_lowering.py sets
``flags.noalias`` when it finds no aliases); that is what lets LLVM vectorise
a loop over several arrays without runtime overlap checks. A plain ``@njit``
function does not get it, and Numba exposes no decorator option for it: this
module maps ``noalias=`` onto that compiler flag. Measured on the 2-core AMD
EPYC (AVX-512), a blocked Adam with its block arrays passed as arguments,
one thread: 3.9e8 trajectory-steps/s without, 5.3e8-5.8e8 with.

Only functions whose array arguments never overlap get it: the generated CPU
kernels, the driver and the objectives (the engine passes distinct arrays).
When this Numba has no such flag, the option is left out (``CPU`` then holds
the options without it) and the code is only slower.
"""
from __future__ import annotations


def _register() -> bool:
    try:
        from numba.core import cpu, options
        from numba.core.compiler import Flags
        if not hasattr(Flags, "noalias"):
            return False
        if not hasattr(cpu.CPUTargetOptions, "noalias"):
            cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
        return True
    except Exception:  # pragma: no cover - Numba's internals moved
        return False


NOALIAS = _register()

#: keyword options of every engine-side @njit whose array arguments never overlap
CPU = dict(cache=True, nogil=True, error_model="numpy", **({"noalias": True} if NOALIAS else {}))


def decorator_text() -> str:
    """The same options, as the generated kernels' source spells them."""
    return ", ".join(f"{k}={v!r}" for k, v in CPU.items())
