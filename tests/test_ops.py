"""The scalar helpers of optlab.engine.ops against plain IEEE arithmetic."""
import math

import numpy as np
import pytest
from numba import njit

from optlab.engine import ops
from optlab.engine.ops import div_fma, div_rn, fma


@njit(cache=True)
def _div_rn_many(a, c):
    out = np.empty((a.size, c.size))
    for i in range(a.size):
        for k in range(c.size):
            rc = 1.0 / c[k]
            out[i, k] = div_fma(a[i], c[k], rc)
    return out


def _operands(rng, n):
    # dividends: square roots of second moments, learning rates, wide exponents
    a = np.concatenate([
        np.sqrt(rng.uniform(0, 1, n) * 10.0 ** rng.uniform(-300, 300, n)),
        rng.uniform(0, 1, n) * 10.0 ** rng.integers(-12, 3, n),
        np.ldexp(rng.uniform(1, 2, n), rng.integers(-900, 900, n)),
        np.nextafter(np.ldexp(1.0, rng.integers(-60, 60, n)), 0),  # just below powers of two
        np.ldexp(rng.uniform(1, 2, n), rng.integers(-1020, -850, n)),  # tiny moments: the scaled path
        [0.0, 1.0, 3.0, 1e-3, 5e-324 ** 0.5, 2.0 ** -900, np.nextafter(2.0 ** -900, 0), 2.0 ** -1022],
    ])
    # divisors: bias corrections 1 - beta**t and their square roots, and uniform (0, 1]
    betas = np.array([0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.95, 0.8, 1 - 2.0 ** -30])
    t = np.arange(1.0, 2001.0)
    bc = (1.0 - betas[:, None] ** t[None, :]).ravel()
    c = np.concatenate([bc, np.sqrt(bc), rng.uniform(2.0 ** -30, 1.0, n),
                        np.nextafter(np.ldexp(1.0, -rng.integers(0, 30, 50)), 0), [1.0]])
    a = np.concatenate([a, -a[::5]])  # first moments are signed
    return a, np.unique(c[c > 0])


def test_div_fma_is_the_correctly_rounded_quotient():
    rng = np.random.default_rng(0)
    a, c = _operands(rng, 400)
    got = _div_rn_many(a, c)
    want = a[:, None] / c[None, :]
    assert got.size > 5_000_000
    bad = got.view(np.int64) != want.view(np.int64)
    assert not bad.any(), f"{bad.sum()} quotients differ, e.g. a={a[np.nonzero(bad)[0][0]]!r}"


def test_div_fma_non_finite_and_zero():
    a = np.array([0.0, -0.0, math.inf, -math.inf, math.nan])
    c = np.array([0.3, 1.0])
    got = _div_rn_many(a, c)
    want = a[:, None] / c[None, :]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_div_rn_python_fallback_agrees():
    """The plain-Python path (NUMBA_DISABLE_JIT, the CUDA simulator) is the same algorithm."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        a = float(rng.uniform(0, 1) * 10.0 ** rng.uniform(-20, 20))
        c = float(1.0 - rng.choice([0.9, 0.999, 0.5]) ** rng.integers(1, 3000))
        assert div_fma(a, c, 1.0 / c) == a / c
        assert div_rn(a, c, 1.0 / c) == a / c


@njit  # not cached: Numba's cache of a test function does not know the division it was compiled with
def _div_rn_row(a, c):
    out = np.empty_like(a)
    rc = 1.0 / c
    for i in range(a.size):
        out[i] = div_rn(a[i], c, rc)
    return out


def test_div_rn_under_this_process_division():
    """div_rn compiled with the division this process chose (the divider or div_fma) gives the
    hardware quotient's bits."""
    rng = np.random.default_rng(2)
    a, c = _operands(rng, 200)
    for ck in c[:: max(1, c.size // 50)]:
        got = _div_rn_row(a, ck)
        assert np.array_equal(got.view(np.int64), (a / ck).view(np.int64)), ck
    assert ops.HW_DIVISION == (ops.DIVISION == "divider")


@pytest.mark.parametrize("text,cpu,want", [
    (None, "znver1", "divider"), ("auto", "znver4", "divider"), ("", "bdver2", "divider"),
    (None, "rocketlake", "fma"), ("auto", "skylake-avx512", "fma"), (None, "", "fma"),
    ("FMA", "znver1", "fma"), (" divider ", "icelake-server", "divider"),
])
def test_division_rule(text, cpu, want):
    from optlab.engine.ops import parse_division
    assert parse_division(text, cpu) == want


def test_division_bad_value():
    from optlab.engine.ops import parse_division
    with pytest.raises(ValueError, match=r"OPTLAB_DIVISION='slow' is not one of auto, fma, divider"):
        parse_division("slow", "znver1")


def test_division_is_in_every_kernel_identity():
    from optlab.engine import jitopts
    assert f"|div={jitopts.DIVISION}" in jitopts.FINGERPRINT


@pytest.mark.parametrize("a,b,c", [(0.1, 3.0, -0.3), (1e308, 10.0, -1e308), (2.0 ** -600, 2.0 ** -600, 0.0)])
def test_fma_python_rounds_once(a, b, c):
    from fractions import Fraction
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    try:
        want = float(exact)
    except OverflowError:
        want = math.inf
    assert fma(a, b, c) == want


def test_fma_python_float32_rounds_once_to_float32():
    """float32 operands (the CUDA simulator's float32 runs): the exact a*b + c rounded once to
    float32, ties to even, against the compiled float32 FMA (llvm.fma.f32) and rational
    arithmetic; the ties are built so that rounding through float64 first would break them."""
    from fractions import Fraction
    f32 = np.float32
    compiled = njit(lambda a, b, c: fma(a, b, c))
    rng = np.random.default_rng(3)
    cases = [tuple(f32(v) for v in rng.normal(size=3) * 10.0 ** rng.integers(-8, 8, 3)) for _ in range(2000)]
    # a*b = 1 + 2**-24 + 2**-48 exactly: c = -2**-48 leaves the tie 1 + 2**-24 (to even: 1.0); the
    # products' low part sits below float64's precision only after c removes it
    one_ulp = f32(1.0 + 2.0 ** -23)
    cases += [(one_ulp, f32(1.0 + 2.0 ** -23), f32(-2.0 ** -23)), (f32(3.0), f32(1.0 / 3.0), f32(0.0)),
              (f32(1e30), f32(1e30), f32(-1e30)), (f32(-3e38), f32(2.0), f32(1.0))]
    for a, b, c in cases:
        got = fma(a, b, c)
        assert isinstance(got, np.float32)
        want = compiled(a, b, c)
        assert got == want or (np.isnan(got) and np.isnan(want)), (a, b, c, got, want)
        if np.isfinite(got):
            r = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
            for other in (np.nextafter(got, f32(-np.inf)), np.nextafter(got, f32(np.inf))):
                assert abs(Fraction(float(other)) - r) >= abs(Fraction(float(got)) - r)


@pytest.mark.parametrize("a, b, c", [(1e308, 10.0, -np.inf), (-0.0, 1.0, -0.0), (0.0, -1.0, -0.0), (-0.0, -1.0, -0.0),
                                     (1.0, 1.0, -1.0), (-1e-200, 1e-200, -0.0), (np.inf, 0.0, 1.0), (2.0, 3.0, np.inf)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plain_python_fma_keeps_the_sign_of_zero_and_an_infinite_addend(a, b, c, dtype):
    """As plain Python, fma(-0, 1, -0) was +0 (a Fraction has no sign) and fma(1e308, 10, -inf) NaN
    (a*b rounded to inf first); compiled, -0 and -inf."""
    import numba
    jit = numba.njit(lambda a, b, c: ops.fma(a, b, c))
    with np.errstate(all="ignore"):
        args = [dtype(v) for v in (a, b, c)]
    want, got = jit(*args), ops.fma(*args)
    assert type(got) is dtype or isinstance(got, dtype)
    assert (np.isnan(want) and np.isnan(got)) or (want == got and np.signbit(want) == np.signbit(got)), (want, got)
