"""``b ** t`` for integer step counters, bit-identical to libm's pow, in vector loops.

torch computes Adam's bias corrections as ``1 - beta ** step`` with Python's float
pow, i.e. the C library's ``pow()``; the kernels match it with ``b ** tf`` (Numba
emits a call to the same libm ``pow``). That call is scalar (10-15 ns on this
machine), and with one beta per trajectory (a sweep) it costs two calls per
trajectory and step. Here the same bits come from a running product that
vectorises: ``pow_block`` measured 1.8-2.7 ns per power against 10-15 ns for a
loop of ``b[j] ** tf``, 4.5-6x (block of 256, 1000 steps, one thread, loaded
2-core AMD EPYC with AVX-512; the vector loop alone is 0.5-0.6 ns).

Method
------
Each trajectory keeps ``P = b**t`` as an unevaluated double-double ``hi + lo``
(``|lo| <= ulp(hi)/2``), multiplied by ``b`` once per step (``pow_dd_step``):
an exact product ``p + e = hi*b`` (``e = fma(hi, b, -p)``), the tail
``l = fma(lo, b, e)`` (one rounding), and Fast2Sum ``hi' = p + l``,
``lo' = l - (hi' - p)`` (exact). One step adds a relative error below
``2**-105`` (the rounding of ``l``, whose size is at most ``2**-52 |hi b|``), so
after ``t`` steps ``|P / b**t - 1| <= t * 2**-105`` (to first order), i.e. at
most ``t * 2**-52`` units in the last place of ``b**t``: below ``2**-28`` ulp for
``t <= 10**7`` and below 0.001 ulp for ``t < 4e12``.

``hi`` is the double nearest to ``P``. libm's ``pow`` is not correctly rounded,
so ``hi`` is its result only where the true ``b**t`` is not too close to a
midpoint between two doubles (a rounding boundary). ``pow_dd_round`` accepts
``hi`` (``ok``) when ``P`` lies at least a band of ``w`` ulp from the nearest
midpoint, measured in the spacing of the binade that holds ``b**t`` (the
spacing halves below a power of two): ``w = BAND_NEAR`` (0.02) for
``b**t >= NEAR`` (2**-64), ``w = BAND`` (0.05) below. The test is two flops:
``hi + K*lo == hi`` with ``K = 0.5 / (0.5 - w)``, true exactly when ``|lo|`` is
below ``(0.5 - w)`` times the spacing on ``lo``'s side of ``hi`` (a tie is
accepted only when ``hi`` is even, and is then ``w`` from the midpoint).
Otherwise ``ok`` is False and the caller computes ``b ** float(t)`` with libm
(``pow_block`` shows the pattern: a vector loop, then a scalar loop over the
rejected entries). About ``2 * w`` of the entries are rejected: 4% near 1, 10%
below 2**-64; the libm calls for them are most of ``pow_block``'s time.

The bound relied on
-------------------
glibc's double ``pow`` (sysdeps/ieee754/dbl-64/e_pow.c, the implementation in
glibc since 2.28; this machine has 2.36) states in its header comment::

    Worst-case error: 0.54 ULP (~= ulperr_exp + 1024*Ln2*relerr_log*2^53)
    relerr_log: 1.3 * 2^-68 (Relative error of log, 1.5 * 2^-68 without fma)
    ulperr_exp: 0.509 ULP (ULP error of exp, 0.511 ULP without fma)

Its last step rounds an internal approximation of ``b**t`` to nearest (one
fused ``scale + scale*tmp``; without FMA the extra rounding is inside the
stated exp error), and everything above 0.5 ulp is that approximation's error,
counted as a relative error times ``2**53`` (the large end of a binade, so it
bounds the error in ulp of ``b**t`` anywhere in the binade). A value within
``E`` ulp of ``b**t``, rounded to nearest, is the double nearest ``b**t``
unless ``b**t`` lies within ``E`` ulp of a midpoint. The header's formula
gives ``E`` as the exp term plus ``|log(b**t)| * relerr_log * 2**53`` (the log's
relative error, scaled by ``|t log b|``; 1024 Ln2 is its largest value):

* everywhere: ``E <= 0.04`` (the stated 0.54). ``BAND = 0.05``: 0.01 margin.
* ``b**t >= 2**-64`` (``|log| <= 44.4``), with the no-FMA figures:
  ``E <= 0.011 + 44.4 * 1.5 * 2**-15 = 0.013``. ``BAND_NEAR = 0.02``: 0.007
  margin (over half of E). This range is where a bias correction ``1 - b**t``
  depends on ``b**t`` at all.

Both margins also hold the double-double's error (``t * 2**-52`` ulp). Measured
on glibc 2.36 (AMD EPYC, FMA) over 10**8 (beta, step) pairs, 75% of them in
the fast path's range (tests/test_powexact.py, slow test): every result equals
libm's; libm was not correctly rounded for 0.09% of them, with ``b**t`` at
most 0.0090 ulp from a midpoint (0.0090 from 2**-64 up, 0.0086 below), i.e.
libm's largest error seen was 0.509 ulp: the exp term alone. Rejected: 4.00%
from 2**-64 up, 10.00% below.

Range: the fast path covers ``2**-960 <= b**t <= 1`` (``b`` in ``[0, 1]``),
where every double involved is normal. Once ``b**t`` falls below ``2**-960``
the state is parked at ``2**-961`` (``ok`` False from then on: libm decides,
and no subnormal operand slows the vector loop); ``r`` then is an upper bound,
so ``1 - r == 1 - b**t == 1.0`` still holds for a caller that only needs a bias
correction. Such a caller can skip libm for any rejected ``r < 2**-55`` too:
libm returns ``r`` or a neighbour, and ``1 - x`` is 1.0 for both.
``b == +0.0`` gives exactly ``+0.0`` on the fast path; ``-0.0`` (from step 2),
negative, NaN and ``b > 1`` (results above 1) always go to libm.

Other C libraries
-----------------
The fallback is always libm, whatever it is. The fast path assumes glibc's
error budget (pre-rounding error <= 0.04 ulp, 0.013 ulp from 2**-64 to 1,
result rounded to nearest). A libm with a looser bound (some are only
faithful, < 1 ulp) can differ from ``hi`` outside the band. ``EXACT_FAST``
says whether this module trusts the platform: True on glibc >= 2.28 (checked
at import), False elsewhere. ``pow_block`` consults it (compiled in as a
constant: all entries go to libm when False); a caller using the ``pow_dd_*``
helpers directly must do the same.
"""
from __future__ import annotations

import math
import platform

from .ops import fma, jitable

BAND = 0.05
"""Minimum distance, in ulp of ``b**t``, from a rounding midpoint for the fast
path below NEAR: glibc's documented 0.54 ulp bound needs 0.04; 0.01 is margin."""

BAND_NEAR = 0.02
"""The same for ``b**t >= NEAR``: the header's error formula needs 0.013 there."""

NEAR = 2.0 ** -64

TINY = 2.0 ** -960
"""Smallest ``hi`` on the fast path: every term of the step is a normal double."""

PARKED = 2.0 ** -961
"""Where the state rests once ``b**t < TINY`` (always rejected, never subnormal)."""

_K = 0.5 / (0.5 - BAND)
_K_NEAR = 0.5 / (0.5 - BAND_NEAR)


def _glibc_at_least(major, minor):
    try:
        lib, ver = platform.libc_ver()
        parts = tuple(int(x) for x in ver.split(".")[:2])
    except (ValueError, OSError):
        return False
    return lib == "glibc" and len(parts) == 2 and parts >= (major, minor)


EXACT_FAST = _glibc_at_least(2, 28)
"""True when libm's pow is glibc's (>= 2.28) with the error bound relied on above."""


@jitable(inline="never")
def pow_dd_init(b):
    """The state for step 1: ``b**1 = b`` exactly."""
    return b * 1.0, 0.0


@jitable(inline="never")
def pow_dd_step(hi, lo, b):
    """``(hi + lo) * b`` as a normalised double-double (relative error < 2**-105).

    Below TINY (and for inputs outside [+0, 1]) the state parks at PARKED;
    ``b == +0.0`` keeps an exact zero."""
    p = hi * b
    e = fma(hi, b, -p)        # hi*b = p + e exactly
    l = fma(lo, b, e)         # lo*b + e, one rounding
    s = p + l                 # Fast2Sum: |p| >= |l|
    q = l - (s - p)
    keep = (s >= TINY) | ((b == 0.0) & (math.copysign(1.0, b) > 0.0))
    return (s if keep else PARKED), (q if keep else 0.0)


@jitable(inline="never")
def pow_dd_round(hi, lo):
    """``(r, ok)``: ``r`` the double nearest ``hi + lo``; ``ok`` when ``r`` is
    certainly libm's ``pow`` (``hi + lo`` at least BAND_NEAR (from NEAR up) or
    BAND (below) ulp from a midpoint, and
    inside the fast path's range ``[TINY, 1]``). Exact zero (``b == +0.0``) is ok."""
    k = _K_NEAR if hi >= NEAR else _K
    ok = (hi + k * lo == hi) & (((hi >= TINY) & (hi <= 1.0)) | (hi == 0.0))
    return hi, ok


@jitable(inline="never")
def pow_block(b, hi, lo, out, n, t):
    """``out[j] = b[j] ** float(t)`` for ``j < n``, as libm computes it.

    ``hi[j], lo[j]`` hold the running product for step ``t - 1`` and are
    advanced to step ``t`` (for ``t == 1`` they are initialised; any content is
    ignored). ``t`` must advance by one per call. The first loop is branch-free
    and vectorises; the second calls libm for the rejected entries only.
    Returns how many entries went to libm (all of them when EXACT_FAST is
    False: then the state is not used)."""
    if not EXACT_FAST:
        tf = float(t)
        for j in range(n):
            out[j] = b[j] ** tf
        return n
    bad = 0
    if t == 1:
        for j in range(n):
            h, l = pow_dd_init(b[j])
            hi[j] = h
            lo[j] = l
            r, ok = pow_dd_round(h, l)
            out[j] = r if ok else math.nan   # marks the entry for libm
            bad += not ok
    else:
        for j in range(n):
            h, l = pow_dd_step(hi[j], lo[j], b[j])
            hi[j] = h
            lo[j] = l
            r, ok = pow_dd_round(h, l)
            out[j] = r if ok else math.nan
            bad += not ok
    # The early exit matters beyond saving the scan: without it LLVM if-converts
    # this loop, vectorises it and calls pow for every lane (pow has no side
    # effects), i.e. for all n entries instead of the few rejected ones. The NaN
    # mark halves the scan's cost against recomputing ok (a NaN b is rejected
    # too, and libm returns NaN for it).
    left = bad
    tf = float(t)
    for j in range(n):
        if left == 0:
            break
        if out[j] != out[j]:
            out[j] = b[j] ** tf
            left -= 1
    return bad
