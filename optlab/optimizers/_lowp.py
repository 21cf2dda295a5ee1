"""float32 and bfloat16 roundings in float64 arithmetic, for kernels that follow torch's bfloat16 code.

Kernel-layer helpers (plain Python in the Numba subset: CPU, CUDA device code, the
simulator, ``NUMBA_DISABLE_JIT=1``). Values stay float64 throughout; these functions
round them as torch's reduced-precision tensors and float32 arithmetic would. No bit
manipulation: every rounding is ordinary IEEE float64 arithmetic (and numpy's float32
conversion, which every Numba target has).

* ``f32(v)``: ``v`` rounded to float32 (to nearest, ties to even).
* ``bf16(v)``: ``v`` rounded once to bfloat16 (8 significant bits, float32's exponent
  range, subnormals down to 2**-133, overflow to inf), ties to even. torch's
  ``tensor.bfloat16()`` of a float64 tensor goes through float32 first (c10::BFloat16
  is built from a float), i.e. ``bf16(f32(v))``: two roundings, which can differ from
  one (tests/test_lowp.py checks both against torch and against exact arithmetic).
* ``fma_f32(a, b, c)``: float32 ``fma(a, b, c)`` (one rounding) of float32 values.
"""
import math

import numpy as np

from ..engine.ops import jitable

_SPLIT = 2.0 ** 45  # 53 - 8: a * 2**45 has its last place where bf16(a) has its last
_SUB = 2.0 ** -81  # 2**-133 (bf16's smallest subnormal) * 2**52
_OVER = 2.0 ** 128


@jitable(inline="never")
def f32(v):
    """float64 ``v`` rounded to float32, as a float64."""
    return float(np.float32(v))


@jitable(inline="never")
def bf16(v):
    """float64 ``v`` rounded to bfloat16 (nearest, ties to even), as a float64.

    With ``s = |v| * 2**45`` (exact), ``s`` and ``s + |v|`` lie in one binade whose last
    place is bfloat16's last place for ``|v|``, so float64's own rounding of ``s + |v|``
    rounds ``|v|`` to 8 significant bits, ties to even (``s`` is an even multiple of
    that place: ``|v|``'s bits shifted up 45 places), and subtracting ``s`` is exact
    (Sterbenz). Below 2**-126 the place is fixed at 2**-133 (subnormals): ``s`` is held
    at 2**-81. Results of 2**128 and above are bf16's overflow, inf; inf and nan pass.
    """
    a = abs(v)
    a = a if a < _OVER else _OVER  # 2**128 and beyond (inf too): overflow, s stays finite
    s = max(a * _SPLIT, _SUB)
    r = (s + a) - s
    r = math.inf if r >= _OVER else r
    a = abs(v)
    r = r if a < math.inf else a
    return math.copysign(r, v)


@jitable(inline="never")
def fma_f32(a, b, c):
    """float32 ``fma(a, b, c)`` of float32 values ``a``, ``b``, ``c``, rounded once.

    ``a * b`` is exact in float64 (48 bits); ``p + c`` is computed with its rounding
    error (TwoSum), so ``h + l`` is the exact result. Rounding ``h`` to float32 is right
    except when ``h`` falls exactly halfway between two floats and ``l`` (nonzero) says
    on which side the exact value lies; then the neighbour on that side is taken.
    """
    p = a * b
    h = p + c
    bb = h - p
    l = (p - (h - bb)) + (c - bb)
    r = float(np.float32(h))
    o = h + (h - r)  # the other float32 neighbour of h when h is a midpoint
    mid = (r != h) & (float(np.float32(o)) == o) & (l != 0.0) & (abs(h) < math.inf)
    toward_o = (o - h) * l > 0.0
    return o if mid & toward_o else r
