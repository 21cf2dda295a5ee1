"""CUDA-side helpers of the engine (this module imports numba.cuda).

Imported only by :mod:`optlab.engine.cuda` and by its generated kernel
modules, never by ``import optlab``.

* ``fma`` of :mod:`optlab.engine.ops` gets a CUDA overload: ``cuda.fma``
  (PTX ``fma.rn``: one rounding, the same value as ``llvm.fma`` on the CPU).
* :func:`register_overloads` gives the inlined generic overloads of optlab's
  helpers (``lerp``, the RNG, ``ops.jitable`` helpers of objectives) CUDA
  twins that numba-cuda can compile.
* In the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) kernels run as Python
  and call the plain functions (``ops.fma``: exact rational arithmetic);
  nothing is registered.
* :func:`device_function` wraps a plain kernel function as a CUDA device
  function (inlined at the NVVM level).
* :func:`exact_fp` keeps NVVM from contracting ``a*b + c`` into an FMA, which
  it does by default even without fastmath; the CPU engine never contracts,
  so without this the two engines would differ in the last bits.
"""
from __future__ import annotations

import contextlib
import os

from numba import cuda, types
from numba.core.extending import overload

from .ops import fma


def simulating() -> bool:
    """True when numba.cuda is the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba.cuda.core import config
    except ImportError:  # older numba-cuda
        from numba.core import config
    return bool(config.ENABLE_CUDASIM)


SIMULATOR = simulating()

# OPTLAB_CUDA_CONTRACT=1 lets NVVM fuse a*b + c (a little faster, last-bit differences from the CPU).
CONTRACT = os.environ.get("OPTLAB_CUDA_CONTRACT", "0") not in ("", "0", "false", "False")


def _fma_cuda(a, b, c):
    if isinstance(a, types.Float) and a == b == c:
        def impl(a, b, c):
            return cuda.fma(a, b, c)
        return impl
    if all(isinstance(v, (types.Float, types.Integer)) for v in (a, b, c)):
        def impl(a, b, c):  # mixed types: promote to float64, as the CPU overload does
            return cuda.fma(float(a), float(b), float(c))
        return impl
    return None


if not SIMULATOR:
    overload(fma, target="cuda")(_fma_cuda)

_TWINS: set = set()


def register_overloads() -> int:
    """Give every optlab helper with an inlined generic overload a CUDA twin.

    Helpers that kernels call (``ops.lerp``, the RNG, objective helpers made
    with ``ops.jitable`` ...) carry ``overload(fn, target="generic",
    inline="always")``, so the CPU engine inlines them at the Numba IR level.
    With numba 0.68 + numba-cuda 0.30 that IR-level inlining breaks CUDA
    typing (every operator inside the helper fails to type: numba-cuda runs
    its own copy of Numba's IR). A ``target="cuda"`` overload with the same
    implementation and no IR inlining is preferred on CUDA (a more specific
    target wins) and is inlined later by NVVM; the CPU keeps its overloads.
    Idempotent; call it after the modules defining helpers are imported.
    Returns the number of twins registered by this call.
    """
    if SIMULATOR:
        return 0
    from numba.core.typing import templates

    from . import ops, rng  # noqa: F401  (their overloads must exist)
    added = 0
    for func, fty in list(templates.builtin_registry.globals):
        if func in _TWINS or not str(getattr(func, "__module__", "")).startswith("optlab"):
            continue
        for tmpl in getattr(fty, "templates", ()):
            inline = getattr(tmpl, "_inline", None)
            impl_factory = getattr(tmpl, "_overload_func", None)
            if (getattr(tmpl, "metadata", {}).get("target") == "generic" and impl_factory is not None
                    and inline is not None and inline.is_always_inline):
                overload(func, target="cuda", strict=getattr(tmpl, "_strict", True))(impl_factory)
                _TWINS.add(func)
                added += 1
                break
    return added


def device_function(fn):
    """``fn`` (a plain kernel function) as a CUDA device function."""
    register_overloads()
    if SIMULATOR:
        return cuda.jit(device=True)(fn)
    return cuda.jit(device=True, forceinline=True)(fn)


@contextlib.contextmanager
def exact_fp():
    """Compile with NVVM's ``-fma=0`` (no contraction), unless ``CONTRACT``.

    numba-cuda passes no ``fma`` option to NVVM, whose default is to contract;
    while this context is active its ``compile_ir`` gets ``fma=False`` for
    non-fastmath code, so ``a*b + c`` becomes ``mul.rn`` + ``add.rn`` as on
    the CPU. Explicit FMAs (``ops.fma``) stay ``fma.rn``.
    """
    if SIMULATOR or CONTRACT:
        yield
        return
    from numba.cuda.cudadrv import nvvm
    orig = getattr(nvvm, "compile_ir", None)
    if orig is None:  # numba-cuda changed its internals: compile as it likes
        yield
        return

    def compile_ir(llvmir, **options):
        if not options.get("fastmath"):
            options.setdefault("fma", False)
        return orig(llvmir, **options)

    nvvm.compile_ir = compile_ir
    try:
        yield
    finally:
        nvvm.compile_ir = orig
