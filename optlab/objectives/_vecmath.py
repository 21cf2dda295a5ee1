"""exp-family helpers for the finite-sum kernels: vectorisable and scalar twins.

Why not only ``math.exp``: Numba lowers it to a scalar libm call, which stops
LLVM from vectorising a loop over a block of trajectories (and Numba is not
built with SVML here). The finite-sum kernels spend most of their time in
the full-data loss, a loop over samples x trajectories, so the helpers used
there (``bce_logit_v``, ``tanh_v``, ``sigmoid_e`` on ``exp_neg_abs_v``) use only
+, *, /, comparisons, a floor and bit casts between a float and an integer
(no int <-> float conversion, which AVX2 lacks for 64-bit lanes): a loop
calling them vectorises (about 3x faster than libm per element
on AVX-512 hardware, 1-3 ulp). In scalar code (a minibatch gradient, where
every trajectory gathers its own samples) libm is faster -- a degree-13
polynomial is a long dependency chain -- so ``sigmoid`` and ``bce_logit``
call ``math.exp``/``math.log1p``.

Method of the vectorisable ones (Horner steps as fused multiply-adds,
``optlab.engine.ops.fma``): Cody-Waite range reduction ``t = k ln2 + r``
(|r| <= ln2/2, k an integral float), a degree-13 Taylor polynomial for
exp(-r) - 1, and 2^-k made from its bits (``pow2neg``: LLVM bitcasts in
compiled code, ``math.ldexp`` in plain Python -- the same bits). log1p(u)
on [0, 1] works on v = 1 + u, halved when above sqrt 2, with the atanh
series in w = (v - 1)/(v + 1), |w| <= 0.172.

The helpers share the reduced exponential ``_exp_neg_reduced``, and they
are functions of their own too (``inline="never"``): compiled once per
process and inlined by LLVM, which then vectorises the loops that call them,
where Numba's IR inliner would copy each into every call site before typing
it (the MLP objective calls ``tanh_v`` three times: its cold compile took
5.0 -> 4.2 s, the same speed). Selects are spelled
``(condition) * value``, branch-free. NaN in, NaN out, so a diverged
trajectory keeps a NaN loss. All are ``jitable``: the same code runs compiled
on the CPU, on CUDA and as plain Python (``NUMBA_DISABLE_JIT=1``), with the
same bits.
"""
import math

import numpy as np
from numba import types
from numba.core.extending import intrinsic, overload

import optlab.engine.ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from optlab.engine.ops import fma, jitable

#: loops over data samples: float64 code at the data width (512 bits where the CPU has AVX-512;
#: engine/jitopts.py, docs/DESIGN.md "Vector width per dtype")
VECTOR_WIDTH_CLASS = "data"

_INV_LN2 = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split: k * _LN2_HI is exact for k < 2^11
_LN2_LO = 1.90821492927058770002e-10
_SQRT2M1 = 0.41421356237309503
_TMAX = 708.0  # exp(-708) > 2^-1022: the last argument handled; beyond, exp(-a) -> 0


# --- 2^-k by its bits, floor without integers -------------------------------------------
#
# No float <-> int64 conversion in the vector loops: AVX2 has none for 64-bit integers (AVX-512DQ
# does), so LLVM split each into four scalar conversions and moves. k stays a float (floor of
# t / ln2 + 1/2, llvm.floor: one vector round) and 2^-k comes from the bits of k + 2^52, whose low
# bits are k. A loop of tanh_v on a 2-core AMD EPYC (Zen 1, AVX2), one thread: 13.7 -> 11.75 ns
# an element; the MLP's kernel 7% faster; the same bits (docs/DESIGN.md, "The MLP on AVX2").

_TWO52 = 4503599627370496.0  # 2^52: for an integral 0 <= k < 2^52, the bits of k + 2^52 are 0x433 << 52 | k


def pow2neg(k):
    """2^-k for an integral 0 <= k <= 1022 (an int, or a float holding one)."""
    return math.ldexp(1.0, -int(k))


def floor_nonneg(y):
    """floor(y) as a float, for 0 <= y < 2^52."""
    return float(math.floor(y))


@intrinsic(target="generic")
def _bits(typingctx, x):
    """The 64 bits of ``x`` read as the other kind: a float's as a uint64, an integer's as a float64."""
    if isinstance(x, types.Float):
        src, res = types.float64, types.uint64
    elif isinstance(x, types.Integer):
        src, res = types.int64, types.float64
    else:
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[0], sig.args[0], src)
        return builder.bitcast(v, context.get_value_type(res))

    return res(x), codegen


@intrinsic(target="generic")
def _llvm_floor(typingctx, x):
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        import llvmlite.ir as ir
        v = context.cast(builder, args[0], sig.args[0], types.float64)
        fn = builder.module.declare_intrinsic("llvm.floor", [ir.DoubleType()])
        return builder.call(fn, [v])

    return types.float64(x), codegen


_u1023 = np.uint64(1023)
_u52 = np.uint64(52)


@overload(pow2neg, target="generic", inline="always")
def _pow2neg_jit(k):
    def impl(k):
        # bits(k + 2^52) = 0x433 << 52 | k; 1023 minus it, shifted by 52, is (1023 - k) << 52 mod 2^64:
        # the exponent field of 2^-k, its mantissa 0
        return _bits((_u1023 - _bits(k + _TWO52)) << _u52)
    return impl


@overload(floor_nonneg, target="generic", inline="always")
def _floor_nonneg_jit(y):
    def impl(y):
        return _llvm_floor(y)
    return impl


# --- vectorisable --------------------------------------------------------------------

@jitable(inline="never")
def _exp_neg_reduced(t):
    """``(k, q)`` with ``exp(-t) = 2^-k (1 + q)`` for ``0 <= t <= _TMAX``, k an integral float:
    Cody-Waite ``t = k ln2 + r``, and ``q = exp(-r) - 1`` from the degree-13 Taylor polynomial
    (Horner in FMAs). Shared by the helpers below as a function of its own: LLVM inlines it into
    their loops and vectorises them; Numba's IR inliner is not asked to nest it (compile time)."""
    kf = floor_nonneg(t * _INV_LN2 + 0.5)  # k, as a float: int() then float() was the same number
    r = (t - kf * _LN2_HI) - kf * _LN2_LO
    s = -r
    q = 1.0 / 6227020800.0
    q = fma(q, s, 1.0 / 479001600.0)
    q = fma(q, s, 1.0 / 39916800.0)
    q = fma(q, s, 1.0 / 3628800.0)
    q = fma(q, s, 1.0 / 362880.0)
    q = fma(q, s, 1.0 / 40320.0)
    q = fma(q, s, 1.0 / 5040.0)
    q = fma(q, s, 1.0 / 720.0)
    q = fma(q, s, 1.0 / 120.0)
    q = fma(q, s, 1.0 / 24.0)
    q = fma(q, s, 1.0 / 6.0)
    q = fma(q, s, 0.5)
    q = fma(q, s, 1.0)
    return kf, q * s

@jitable(inline="never")
def exp_neg_abs_v(z):
    """exp(-|z|) in [0, 1] (0 beyond _TMAX), the exponential of the sigmoid and of the loss: a
    finite sum that needs both for one logit (the gradient's sigmoid, the loss's softplus) takes
    it once and calls ``sigmoid_e`` and ``bce_logit_e``; ``bce_logit_v`` composes the two."""
    a = abs(z)
    t = min(_TMAX, a)
    k, q = _exp_neg_reduced(t)
    return pow2neg(k) * (1.0 + q) * (a <= _TMAX)


@jitable(inline="never")
def bce_logit_e(z, y, u):
    """``bce_logit_v(z, y)`` given ``u = exp_neg_abs_v(z)``."""
    # log1p(u): v = 1 + u; above sqrt 2 use log v = ln 2 + log(v / 2)
    hi = u > _SQRT2M1
    w = (u - hi * 1.0) / (u + 2.0 + hi * 1.0)
    w2 = w * w
    p = 1.0 / 21.0
    p = fma(p, w2, 1.0 / 19.0)
    p = fma(p, w2, 1.0 / 17.0)
    p = fma(p, w2, 1.0 / 15.0)
    p = fma(p, w2, 1.0 / 13.0)
    p = fma(p, w2, 1.0 / 11.0)
    p = fma(p, w2, 1.0 / 9.0)
    p = fma(p, w2, 1.0 / 7.0)
    p = fma(p, w2, 1.0 / 5.0)
    p = fma(p, w2, 1.0 / 3.0)
    p = fma(p, w2, 1.0)
    lg = 2.0 * w * p + hi * _LN2
    return (0.5 * (z + abs(z)) - y * z) + lg


@jitable(inline="never")
def bce_logit_v(z, y):
    """Binary cross-entropy of the logit z for a label y in [0, 1]:
    softplus(z) - y z, summed as (max(z, 0) - y z) + log1p(e^-|z|) so that a
    well-classified sample's tiny loss is not lost to cancellation."""
    return bce_logit_e(z, y, exp_neg_abs_v(z))


@jitable(inline="never")
def tanh_v(z):
    """tanh z = -expm1(-2|z|) / (2 + expm1(-2|z|)) with the sign of z.

    expm1 is the reduced polynomial q itself when k = 0, so small arguments
    keep full relative accuracy."""
    a = abs(z)
    t = min(_TMAX, 2.0 * a)
    k, q = _exp_neg_reduced(t)
    k0 = k == 0.0
    em1 = k0 * q + (1.0 - k0) * (pow2neg(k) * (1.0 + q) - 1.0)
    th = -em1 / (2.0 + em1)
    return th * ((z >= 0.0) * 2.0 - 1.0) + 0.0 * max(min(z, 1.0), -1.0)


@jitable(inline="never")
def sigmoid_e(z, e):
    """1 / (1 + e^-z) given ``e = exp_neg_abs_v(z)`` in (0, 1]: 1 / (1 + e) for z >= 0,
    e / (1 + e) below, so that a tiny value keeps its relative accuracy."""
    inv = 1.0 / (1.0 + e)
    neg = z < 0.0
    return (1.0 - neg) * inv + neg * (e * inv) + 0.0 * max(min(z, 1.0), -1.0)


# --- scalar (libm) -------------------------------------------------------------------

@jitable
def sigmoid(z):
    """1 / (1 + e^-z); exp overflows to inf for z < -709, giving 0."""
    return 1.0 / (1.0 + libm.exp(-z))


@jitable
def bce_logit(z, y):
    """``bce_logit_v`` through libm, for scalar code."""
    return (max(z, 0.0) - y * z) + libm.log1p(libm.exp(-abs(z)))


@jitable
def sign(v):
    """sign(v) with sign(0) = 0: the subgradient convention of every
    non-smooth objective here (0 for NaN as well)."""
    return (v > 0.0) * 1.0 - (v < 0.0) * 1.0


@jitable(inline="never")
def nan_out(g, f, n, D):
    """The answer of a block kernel to what it cannot compute (a ctx without its scratch rows, a
    minibatch run given to a full-batch kernel): NaN, never a read past the ctx."""
    for j in range(n):
        f[j] = math.nan
        for a in range(D):
            g[a, j] = math.nan


@jitable(inline="never")
def add_l2(x, g, f, l2, D, n):
    """f += l2/2 |theta|^2 and g += l2 theta over the block's first n columns (rows 0 .. D-1);
    nothing when l2 is 0 (the finite sums' weight decay term)."""
    if l2 != 0.0:
        for a in range(D):
            for j in range(n):
                v = x[a, j]
                f[j] += 0.5 * l2 * v * v
                g[a, j] += l2 * v
