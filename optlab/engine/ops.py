"""Scalar helpers shared by every kernel, with torch's exact rounding.

torch's CPU kernels fuse ``a.add(b, alpha=s)``, ``addcmul`` and ``lerp`` into
one fused multiply-add (see docs/DESIGN.md, "Torch parity"). The helpers here
are plain Python functions (so kernels run under ``NUMBA_DISABLE_JIT=1`` and in
the CUDA simulator) with Numba overloads that emit the hardware instruction:

* ``fma(a, b, c)`` = a*b + c rounded once.  Python: exact rational arithmetic.
  CPU: ``llvm.fma``.  CUDA: ``cuda.fma`` (registered by ``optlab.engine.cuda``).
* ``lerp(a, b, w)`` = torch.lerp: ``fma(w, b-a, a)`` for |w| < 0.5, else
  ``fma(-(b-a), 1-w, b)``.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from numba import types
from numba.core.extending import intrinsic, overload


def jitable(fn):
    """Let a plain function be called from kernels on every Numba target.

    Like ``numba.extending.register_jitable`` but for the generic target, so
    the same helper compiles for the CPU and for CUDA device code, and stays
    a plain Python function for ``NUMBA_DISABLE_JIT=1`` and the simulator.
    """
    overload(fn, target="generic", inline="always", strict=False)(lambda *args: fn)
    return fn


def fma(a, b, c):
    """a*b + c with a single rounding (the Python fallback is exact)."""
    if math.isfinite(a) and math.isfinite(b) and math.isfinite(c):
        # float(): numpy float32 scalars are not Rational; overflow rounds to inf as in IEEE
        r = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        try:
            return float(r)
        except OverflowError:
            return math.inf if r > 0 else -math.inf
    return a * b + c


def lerp(a, b, w):
    """torch.lerp(a, b, w) for scalars, with torch's two FMA branches."""
    d = b - a
    if abs(w) < 0.5:
        return fma(w, d, a)
    return fma(-d, 1.0 - w, b)


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    if not (isinstance(a, types.Float) and a == b == c):
        return None
    sig = a(a, b, c)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@overload(fma, target="cpu", inline="always")
def _fma_cpu(a, b, c):
    if isinstance(a, types.Float) and a == b == c:
        def impl(a, b, c):
            return _llvm_fma(a, b, c)
        return impl
    if all(isinstance(v, (types.Float, types.Integer)) for v in (a, b, c)):
        def impl(a, b, c):  # mixed types: promote to float64
            return _llvm_fma(np.float64(a), np.float64(b), np.float64(c))
        return impl
    return None


@overload(lerp, target="generic", inline="always")
def _lerp_jit(a, b, w):
    def impl(a, b, w):  # both branches, then a select: keeps loops vectorised
        d = b - a
        lo = fma(w, d, a)
        hi = fma(-d, 1.0 - w, b)
        return lo if abs(w) < 0.5 else hi
    return impl
