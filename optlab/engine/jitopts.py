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

**Vector width.** LLVM picks a preferred vector width per CPU model: 512 bits
on AMD Zen 4 and 5, 256 on Intel's AVX-512 cores (its tuning for their
frequency licences). Where the width pays depends on the dtype and the loop, so
the engine's functions (those compiled with ``CPU`` from optlab's modules)
carry LLVM's ``prefer-vector-width`` attribute chosen by :func:`vector_widths`:
a function with a float32 array argument takes the float32 width; a float64
one from a module that declares ``VECTOR_WIDTH_CLASS = "data"`` (the finite
sums: loops over data samples, gathers) the data width; others the float64
width. ``OPTLAB_VECTOR_WIDTH``: ``auto`` (default: float32 and data at 512
where the CPU has AVX-512, float64 as LLVM tunes it), ``llvm`` (LLVM's choice
for all), or ``256`` / ``512`` / ``float32:512,float64:256,data:512`` (a list
without ``data`` gives the data loops its float64 width). The widths change
machine code only, never results (elementwise IEEE operations, no reordered
sums); they are part of every kernel's cache key (:data:`FINGERPRINT`).
Measured in docs/DESIGN.md ("Vector width per dtype").

**Division.** A float64 quotient by a divisor shared along a loop (Adam's, NAdam's and RAdam's
bias corrections) is taken either by the divider or by :func:`optlab.engine.ops.div_rn`'s four
FMAs from the reciprocal: the same bits, a speed that depends on the CPU (:func:`optlab.engine.ops.parse_division`,
``OPTLAB_DIVISION=auto|fma|divider``; part of :data:`FINGERPRINT`).
"""
from __future__ import annotations

import os
import sys


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


_WIDTHS = (128, 256, 512)


def _avx512() -> bool:
    try:
        import llvmlite.binding as ll
        return bool(ll.get_host_cpu_features().get("avx512f"))
    except Exception:  # pragma: no cover - not x86, or llvmlite moved
        return False


def parse_vector_width(text: str | None, avx512: bool) -> dict:
    """``{"float32": width or None, "float64": ..., "data": ...}`` from an ``OPTLAB_VECTOR_WIDTH``
    value (None: LLVM's choice for the CPU). Raises ValueError naming the value and what is allowed."""
    text = (text or "auto").strip().lower()
    if text == "auto":
        return {"float32": 512 if avx512 else None, "float64": None, "data": 512 if avx512 else None}
    if text == "llvm":
        return {"float32": None, "float64": None, "data": None}
    allowed = "auto, llvm, 128, 256, 512 or a list like float32:512,float64:256,data:512"
    if text.isdigit():
        if int(text) not in _WIDTHS:
            raise ValueError(f"OPTLAB_VECTOR_WIDTH={text!r} is not one of {allowed}")
        return {"float32": int(text), "float64": int(text), "data": int(text)}
    out = {"float32": None, "float64": None, "data": None}
    given = set()
    for item in text.split(","):
        key, _, value = item.strip().partition(":")
        if key not in out or not (value == "llvm" or value.isdigit() and int(value) in _WIDTHS):
            raise ValueError(f"OPTLAB_VECTOR_WIDTH={text!r} is not one of {allowed}")
        out[key] = None if value == "llvm" else int(value)
        given.add(key)
    if "data" not in given:
        out["data"] = out["float64"]  # a list that sets float64 only sets the data loops too
    return out


def vector_widths() -> dict:
    """The preferred vector width per dtype for the engine's CPU functions (see the module doc)."""
    return parse_vector_width(os.environ.get("OPTLAB_VECTOR_WIDTH"), _avx512())


#: the message of a bad ``OPTLAB_VECTOR_WIDTH`` (None when it is good): every run refuses to start
#: with it (``core.check_options``); importing optlab does not fail on it
WIDTH_ERROR = None
try:
    WIDTHS = vector_widths()
except ValueError as _e:
    WIDTH_ERROR = str(_e)
    WIDTHS = {"float32": None, "float64": None, "data": None}


def _width_of(argtypes, modname=""):
    """The width of a function with these Numba argument types from module ``modname``:
    float32's when an array of float32 is among them, else the data width for a module with
    ``VECTOR_WIDTH_CLASS = "data"``, else float64's."""
    if any(str(getattr(t, "dtype", "")) == "float32" for t in argtypes):
        return WIDTHS["float32"]
    data = getattr(sys.modules.get(modname), "VECTOR_WIDTH_CLASS", None) == "data"
    return WIDTHS["data" if data else "float64"]


def _install_width_hook() -> bool:
    """Give optlab's CPU functions (compiled with ``noalias``, from optlab's modules) the
    ``prefer-vector-width`` attribute of their dtype. Only Numba's CPU context is touched."""
    if not NOALIAS or all(w is None for w in WIDTHS.values()):
        return False
    try:
        from numba.core import cpu
        base = cpu.CPUContext.declare_function
        if getattr(base, "_optlab_width", False):
            return True

        def declare_function(self, module, fndesc):
            fn = base(self, module, fndesc)
            if fndesc.noalias and fndesc.modname.startswith("optlab"):
                width = _width_of(fndesc.argtypes, fndesc.modname)
                if width is not None:
                    # a string attribute: llvmlite's FunctionAttributes accepts enum names only
                    set.add(fn.attributes, f'"prefer-vector-width"="{width}"')
            return fn

        declare_function._optlab_width = True
        cpu.CPUContext.declare_function = declare_function
        return True
    except Exception:  # pragma: no cover - Numba's internals moved: LLVM's widths
        return False


WIDTH_HOOK = _install_width_hook()

# the division in use (see optlab.engine.ops.parse_division): decided in the kernel layer, which
# imports nothing else from optlab; a bad ``OPTLAB_DIVISION`` stops every run like a bad width
from .ops import DIVISION, DIVISION_ERROR  # noqa: E402

WIDTH_ERROR = WIDTH_ERROR or DIVISION_ERROR

#: what the compiled code depends on beyond its source: the options, the vector widths and the
#: division in use (kernel identities and the guarded Numba caches include it)
FINGERPRINT = repr(sorted(CPU.items())) + (
    f"|vw={WIDTHS['float32']},{WIDTHS['float64']},data={WIDTHS['data']}" if WIDTH_HOOK else "") + (
    f"|div={DIVISION}")


def decorator_text() -> str:
    """The same options, as the generated kernels' source spells them."""
    return ", ".join(f"{k}={v!r}" for k, v in CPU.items())
