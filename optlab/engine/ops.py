"""Scalar helpers shared by every kernel, with torch's exact rounding.

torch's CPU kernels fuse ``a.add(b, alpha=s)``, ``addcmul`` and ``lerp`` into
one fused multiply-add (see docs/DESIGN.md, "Torch parity"). The helpers here
are plain Python functions (so kernels run under ``NUMBA_DISABLE_JIT=1`` and in
the CUDA simulator) with Numba overloads that emit the hardware instruction:

* ``fma(a, b, c)`` = a*b + c rounded once.  Python: exact rational arithmetic.
  CPU: ``llvm.fma``.  CUDA: ``cuda.fma`` (registered by ``optlab.engine.cuda``).
* ``lerp(a, b, w)`` = torch.lerp: ``fma(w, b-a, a)`` for |w| < 0.5, else
  ``fma(-(b-a), 1-w, b)``, in the type of its arguments.
* ``like(v, ref)``: ``v`` in ``ref``'s float type, i.e. rounded to float32 when ``ref`` is a
  float32 (a coordinate of a float32 run), else ``v`` itself; how a kernel passes a
  float64 scalar (a hyperparameter, a bias correction) to float32 arithmetic, as torch
  casts a Python float to a float32 tensor's type. ``single(ref)``: whether ``ref`` is a
  float32, a constant for the compiler.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np

from numba import types
from numba.core.extending import intrinsic, overload
from numba.core.typing.templates import _OverloadFunctionTemplate


#: an objective's ``ctx`` (int64): ctx[0] the run's seed, ctx[1] the step, ctx[2] the first
#: trajectory's index, then -- where the caller has room, as the CPU engine's blocks do --
#: ``CTX_SCRATCH + CTX_PERM + D`` rows of ``n`` int64 values (``ctx_length``) that the finite-sum
#: kernels use as per-trajectory scratch (float rows through ``.view(np.float64)``) to run their
#: sample loops with the block's trajectories innermost, where they vectorise; the last CTX_PERM
#: rows keep the minibatch permutation's tables from step to step. A caller with a ctx of 3
#: (the CUDA engine, the evaluators, L-BFGS) gets the same numbers from the kernels'
#: trajectory-at-a-time loops.
CTX_HEAD = 3
CTX_SCRATCH = 6
#: the last rows of such a ctx: the minibatch permutation's round tables of the block's current
#: epoch and their tag (``optlab.objectives._sampling.perm_tables``)
CTX_PERM = 17


def ctx_length(dim: int, width: int) -> int:
    """The length of a ctx with scratch rows for blocks of ``width`` trajectories in ``dim``."""
    return CTX_HEAD + (CTX_SCRATCH + CTX_PERM + dim) * width


def jitable(fn=None, *, inline="always"):
    """Let a plain function be called from kernels on every Numba target.

    Like ``numba.extending.register_jitable`` but for the generic target, so
    the same helper compiles for the CPU and for CUDA device code, and stays
    a plain Python function for ``NUMBA_DISABLE_JIT=1`` and the simulator.
    ``inline="never"`` leaves inlining to LLVM (which still inlines small
    helpers before vectorising): Numba's IR inliner warns on a conditional
    expression in a helper called twice (numba/numba#9489).
    """
    if fn is None:
        return lambda f: jitable(f, inline=inline)
    if inline != "always":
        overload(fn, target="generic", inline=inline, strict=False)(lambda *args: fn)
        return fn
    from numba.core.extending import _overload_default_jit_options
    from numba.core.typing.templates import infer, infer_global, make_overload_template
    base = make_overload_template(fn, lambda *args: fn, dict(_overload_default_jit_options), False, inline,
                                  target="generic")
    template = type(base)(base.__name__, (base,), {"_build_impl": _inline_build_impl, "generic": _inline_generic})
    infer(template)
    infer_global(fn, types.Function(template))
    return fn


# Numba types and inlines an ``inline="always"`` overload at the call, but first compiles it in full
# (its own LLVM module and machine code, never used): Numba's ``_build_impl`` "makes sure that the
# implementation can be fully compiled", and ``generic`` asks the dispatcher for a call template,
# which compiles too. For the helpers here that compile was 0.37 s of a 2.9 s cold Adam kernel
# (docs/DESIGN.md, "Compile time"). These two overrides skip it on the CPU and change nothing else:
# the typing and the inlining are Numba's own; any other target (CUDA), or a Numba whose internals
# differ, takes Numba's path.
def _inline_build_impl(self, cache_key, args, kws):
    from numba.core.registry import CPUDispatcher
    disp = self._get_jit_decorator()(**self._jit_options)(self._overload_func(*args, **kws))
    if not (isinstance(disp, CPUDispatcher) and hasattr(disp, "_can_compile")):
        return _OverloadFunctionTemplate._build_impl(self, cache_key, args, kws)
    self._impl_cache[cache_key] = disp, args
    return disp, args


def _inline_generic(self, args, kws):
    disp, _ = self._get_impl(args, kws)
    if disp is None or not getattr(disp, "_can_compile", False) or not self._inline.is_always_inline:
        return _OverloadFunctionTemplate.generic(self, args, kws)
    disp._can_compile = False  # the call template then only folds the arguments; Numba types the IR
    try:
        return _OverloadFunctionTemplate.generic(self, args, kws)
    finally:
        disp._can_compile = True


def fma(a, b, c):
    """a*b + c with a single rounding (the Python fallback is exact)."""
    if math.isfinite(a) and math.isfinite(b) and math.isfinite(c):
        # float(): numpy float32 scalars are not Rational; overflow rounds to inf as in IEEE
        r = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        if r == 0:  # a Fraction has no sign: IEEE's zero is -0 only for (-0) + (-0) (an exact a*b of -0 and c -0)
            ab, cz = math.copysign(1.0, float(a)) * math.copysign(1.0, float(b)), math.copysign(1.0, float(c))
            zero = -0.0 if (float(a) * float(b) == 0.0 and float(c) == 0.0 and ab < 0 and cz < 0) else 0.0
            return np.float32(zero) if all(isinstance(v, np.float32) for v in (a, b, c)) else np.float64(zero)
        if isinstance(a, np.float32) and isinstance(b, np.float32) and isinstance(c, np.float32):
            return _fraction_to_f32(r)  # the CUDA simulator's float32 runs: one rounding, to float32
        # np.float64, not float: compiled, a mixed fma is a float64 and takes a float32 operand
        # met next into float64 arithmetic; a Python float would take numpy's float32 (NEP 50)
        try:
            return np.float64(float(r))
        except OverflowError:
            return np.float64(math.inf if r > 0 else -math.inf)
    if math.isinf(c) and math.isfinite(a) and math.isfinite(b):
        return c  # a*b is finite when exact: the sum is c (rounding a*b first made inf - inf = NaN)
    with np.errstate(all="ignore"):
        if isinstance(a, np.float32) and isinstance(b, np.float32) and isinstance(c, np.float32):
            return a * b + c
        return np.float64(a) * np.float64(b) + np.float64(c)


def _fraction_to_f32(r):
    """The float32 nearest the rational ``r`` (ties to even; beyond float32's range, inf)."""
    with np.errstate(over="ignore"):
        try:
            near = np.float32(float(r))  # within an ulp of the answer (two roundings)
        except OverflowError:
            near = np.float32(math.inf if r > 0 else -math.inf)
        if not np.isfinite(near):
            big = Fraction(float(np.finfo(np.float32).max)) + Fraction(2) ** 103  # the overflow threshold
            return near if abs(r) >= big else np.float32(math.copysign(float(np.finfo(np.float32).max), r))
        best = near
        for c in (np.nextafter(near, np.float32(-np.inf)), np.nextafter(near, np.float32(np.inf))):
            if not np.isfinite(c):
                continue
            dc, db = abs(Fraction(float(c)) - r), abs(Fraction(float(best)) - r)
            if dc < db or (dc == db and (int(np.array(c).view(np.uint32)) & 1) == 0):
                best = c
        return best


def lerp(a, b, w):
    """torch.lerp(a, b, w) for scalars, with torch's two FMA branches."""
    d = b - a
    if abs(w) < 0.5:
        return fma(w, d, a)
    return fma(-d, like(1.0, w) - w, b)


def like(v, ref):
    """``v`` as ``ref``'s float type: float32 when ``ref`` is a float32, else ``v`` unchanged."""
    return np.float32(v) if isinstance(ref, np.float32) else v


def single(ref):
    """True when ``ref`` is a float32 (compiled: a constant, so the other branch is dropped)."""
    return isinstance(ref, np.float32)


@jitable
def opaque_one(v):
    """1.0, from a finite ``v`` whose value LLVM cannot know: one loaded from an array or given
    to the kernel at run time (an integer or a loop counter will not do: ``0.0 * float(t)``
    folds, as a converted integer is never NaN or inf). A kept value written back as
    ``old * opaque_one(v)`` is not the loaded ``old`` to LLVM, so ``a[j] = new if c else old``
    stays an unconditional store: kept as the loaded value, LLVM drops that store on one path
    and its x86 back end stores under a mask (vmaskmovpd, vpmaskmovq), cheap with AVX-512 and
    microcoded by AMD's cores (docs/DESIGN.md, "Division: the divider or four FMAs")."""
    return 1.0 + 0.0 * v


@jitable
def libm_half(v):
    """0.5 for torch's ``x ** 0.5``, which is libm's ``pow``, not always the correctly rounded root
    (they differ where ``1 - beta2**t`` is ``1 - 2**-53``, at t = 1270, 2582, 3069 for beta2 = 0.999,
    at ``step ** 0.5`` for t = 2921 ...). LLVM rewrites ``pow(x, 0.5)`` with a constant 0.5 as
    ``sqrt(x)``, so the exponent comes from :func:`opaque_one` of a finite ``v`` loaded at run time:
    ``0.5 + 0.0 * float(t)`` folds inside a kernel (a converted integer is never NaN or inf)."""
    return 0.5 * opaque_one(v)


def host_cpu() -> str:
    """LLVM's name for this CPU (``znver1``, ``rocketlake``, ...), or empty."""
    try:
        import llvmlite.binding as ll
        return ll.get_host_cpu_name()
    except Exception:  # pragma: no cover - llvmlite moved
        return ""


_AMD = ("znver", "bdver", "btver", "amdfam")


def parse_division(text, cpu_name):
    """``"fma"`` or ``"divider"`` from an ``OPTLAB_DIVISION`` value: how a float64 quotient by a
    divisor shared along a loop (a bias correction) is taken. Both give the same bits
    (:func:`div_rn`); which is faster depends on the CPU. ``auto``: the divider on AMD (LLVM's
    CPU name ``znver*`` and the older AMD families), four FMAs elsewhere, as measured in
    docs/DESIGN.md ("Division: the divider or four FMAs"). Raises ValueError naming the value
    and what is allowed."""
    text = (text or "auto").strip().lower()
    if text == "auto":
        return "divider" if cpu_name.startswith(_AMD) else "fma"
    if text in ("fma", "divider"):
        return text
    raise ValueError(f"OPTLAB_DIVISION={text!r} is not one of auto, fma, divider")


#: the division in use (:func:`parse_division` of ``OPTLAB_DIVISION``), and the message of a bad
#: value (None when good): optlab.engine.jitopts puts both in every kernel identity and in the
#: checks that stop a run
DIVISION_ERROR = None
try:
    DIVISION = parse_division(os.environ.get("OPTLAB_DIVISION"), host_cpu())
except ValueError as _e:
    DIVISION_ERROR = str(_e)
    DIVISION = "fma"

#: div_rn divides with the divider (a compile-time constant)
HW_DIVISION = DIVISION == "divider"


@jitable
def div_rn(a, c, rc):
    """``a / c``, from ``c`` and ``rc = 1.0 / c``: for a divisor shared by many quotients (a bias
    correction). The divider or :func:`div_fma`, whichever this CPU runs faster
    (:data:`DIVISION`, decided once per process and part of every kernel's identity): the
    same bits either way."""
    if HW_DIVISION:
        return a / c
    return div_fma(a, c, rc)


@jitable(inline="never")
def div_fma(a, c, rc):
    """``a / c`` correctly rounded, from ``rc = 1.0 / c``, with no division.

    For a divisor shared by many quotients (a bias correction: one per
    trajectory and step, against one quotient per coordinate) the hardware
    divider is the bottleneck of a vectorised loop; this costs one multiply
    and four FMAs instead. q0 = a*rc is within ~2 ulp of a/c; one residual
    correction makes it faithful (error below 1 ulp), and a second is
    Markstein's theorem: with rc = RN(1/c) and a faithful q1, the residual
    a - q1*c is exact in an FMA and RN(q1 + r*rc) = RN(a/c) (Markstein, IBM
    J. Res. Dev. 34 (1990); Muller et al., Handbook of Floating-Point
    Arithmetic, 2nd ed., sec. 4.7). Valid when no intermediate overflows or
    underflows, which holds for every use here (c a bias correction in
    (0, 1], |a| <= 2**900); a tiny |a| is scaled by 2**200 first, so the only
    case that can differ from ``a / c`` is a subnormal quotient (a subnormal
    a), by at most one unit in its last place. A non-finite quotient is
    returned as a*rc (inf or nan, as a / c would give). tests/test_ops.py
    checks the result bit for bit against ``a / c`` on millions of random and
    edge operands.
    """
    tiny = abs(a) < 2.0 ** -900  # scale up so the residuals stay normal (exact)
    s = 2.0 ** 200 if tiny else 1.0
    a = a * s
    q0 = a * rc
    q1 = fma(fma(-q0, c, a), rc, q0)
    q2 = fma(fma(-q1, c, a), rc, q1)
    q2 = q2 * (2.0 ** -200 if tiny else 1.0)
    return q2 if (abs(q0) < math.inf) & (a != 0.0) else q0  # q0 keeps inf, nan and the sign of 0


@jitable(inline="never")
def uniform(a, k, n):
    """True when ``a[k, :n]`` holds a single value: a block of trajectories that
    share a hyperparameter, so per-step scalars (bias corrections, decayed
    rates) are computed once and broadcast instead of per trajectory. A NaN
    makes it False (the per-trajectory path then handles it). The row is
    indexed in place rather than sliced: a view inside the time loop costs a
    reference-count update per step, which measured 10-30% of Adam's step
    on two threads."""
    c = 0
    for j in range(n):
        c += a[k, j] != a[k, 0]
    return c == 0


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
        hi = fma(-d, like(1.0, w) - w, b)
        return lo if abs(w) < 0.5 else hi
    return impl


def _is_f32(t):
    return isinstance(t, types.Float) and t.bitwidth == 32


@overload(like, target="generic", inline="never")
def _like_jit(v, ref):
    if _is_f32(ref):
        return lambda v, ref: np.float32(v)
    return lambda v, ref: v


@overload(single, target="generic", inline="never")
def _single_jit(ref):
    if _is_f32(ref):
        return lambda ref: True
    return lambda ref: False


# --- libm, IEEE 754 in plain Python too -------------------------------------------------------
# Compiled (CPU, CUDA), ``cos`` is ``math.cos`` (libm). As plain Python (``NUMBA_DISABLE_JIT=1``,
# the CUDA simulator), Python's ``math`` raises where libm returns inf or NaN (``math.cos(inf)``,
# ``math.exp(1000)``), which ended a diverging run there with "math domain error"; these return
# numpy's inf or NaN instead, and a float64 (a float32 for a float32) as compiled code does.

def _ieee(fn, npfn, v):
    try:
        r = fn(v)
    except (ValueError, OverflowError):
        with np.errstate(all="ignore"):
            r = npfn(np.float64(v))
    return np.float32(r) if isinstance(v, np.float32) else np.float64(r)


def _libm_function(name: str):
    """``name`` (cos, sin, ...): ``math.<name>`` compiled (an inlined overload), :func:`_ieee` as Python."""
    fn, npfn = getattr(math, name), getattr(np, name)

    def f(v):
        return _ieee(fn, npfn, v)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``math.{name}``; as plain Python, numpy's inf or NaN where Python's math raises."
    overload(f, target="generic", inline="always")(lambda v: (lambda v: fn(v)))
    return f


cos, sin, exp, log, log1p, tanh = map(_libm_function, ("cos", "sin", "exp", "log", "log1p", "tanh"))
