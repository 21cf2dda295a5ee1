"""The float32 / bfloat16 helpers of the kernel layer (optlab/optimizers/_lowp.py) and Muon's
Newton-Schulz built on them.

* ``bf16`` (arithmetic rounding) against exact rational rounding and against the bit-level
  rounding of ``optlab.bench.references.bf16_bits``, compiled, on random values over the whole
  float32 range, exact ties, their neighbours, subnormals, overflow, inf and nan; and against
  torch's ``tensor.to(torch.bfloat16)`` when torch is installed;
* ``fma_f32`` against exact rational arithmetic on operands built to land on float32 midpoints;
* ``muon._newton_schulz`` (and, below 16 coordinates, ``muon._newton_schulz_block`` on all the
  rows of one D at once) against torch's ``_zeropower_via_newtonschulz`` on 1 x D rows built so
  that the float32 summation order and every fma decide the bfloat16 result.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from numba import njit

from optlab.bench.references import bf16_bits
from optlab.optimizers import _lowp, muon


@njit
def _many_bf16(v, out):
    for i in range(v.size):
        out[i] = _lowp.bf16(v[i])


@njit
def _many_bf16_f32(v, out):
    for i in range(v.size):
        out[i] = _lowp.bf16(_lowp.f32(v[i]))


@njit
def _many_fma(a, b, c, out):
    for i in range(a.size):
        out[i] = _lowp.fma_f32(a[i], b[i], c[i])


def _exact_bf16(v):
    """Single rounding of a float64 to bfloat16, in rationals (ties to even)."""
    if not math.isfinite(v) or v == 0.0:
        return v
    q = Fraction(abs(v))
    e = math.frexp(abs(v))[1] - 1  # 2**e <= |v| < 2**(e+1)
    ulp = Fraction(2) ** max(e - 7, -133)
    r = round(q / ulp) * ulp  # Python's round: half to even
    r = math.inf if r >= 2 ** 128 else float(r)
    return math.copysign(r, v)


def _values(rng, n):
    """Random float64 values over float32's range, plus bfloat16 ties and their neighbours."""
    mant = rng.uniform(1.0, 2.0, n)
    expo = rng.integers(-150, 129, n)
    v = np.ldexp(mant, expo) * rng.choice([-1.0, 1.0], n)
    # exact ties between two bfloat16 numbers (odd and even below), a float64 ulp either side
    k = rng.integers(128, 256, n // 4).astype(np.float64)
    ties = np.ldexp(k + 0.5, rng.integers(-140, 120, n // 4))
    ties_sub = np.ldexp(rng.integers(0, 128, n // 8) + 0.5, -133)  # subnormal ties
    edge = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0 ** -133, 2.0 ** -134, 3 * 2.0 ** -135,
                     2.0 ** -126, 2.0 ** -126 * (1 - 2.0 ** -9), 3.3895313892515355e38,
                     (2 - 2.0 ** -8) * 2.0 ** 127, (2 - 2.0 ** -8) * 2.0 ** 127 * (1 - 2.0 ** -30),
                     float(np.finfo(np.float32).max), 1e300, -1e-300])
    return np.concatenate([v, ties, np.nextafter(ties, 0), np.nextafter(ties, np.inf), ties_sub, -ties, edge])


def test_bf16_rounds_once_to_nearest_even():
    rng = np.random.default_rng(0)
    v = _values(rng, 40_000)
    out = np.empty_like(v)
    _many_bf16(v, out)
    want = np.array([_exact_bf16(x) for x in v])
    np.testing.assert_array_equal(out, want)
    assert (np.signbit(out) == np.signbit(want)).all()
    # the plain Python function (NUMBA_DISABLE_JIT, the CUDA simulator) gives the same
    assert all(_lowp.bf16(x) == w or (x != x and _lowp.bf16(x) != _lowp.bf16(x)) for x, w in zip(v[::97], want[::97]))


def test_bf16_of_f32_is_torchs_conversion_from_float64():
    rng = np.random.default_rng(1)
    v = _values(rng, 200_000)
    out = np.empty_like(v)
    _many_bf16_f32(v, out)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, bf16_bits(v))  # bit arithmetic on float32: an independent oracle
    torch = pytest.importorskip("torch")
    got = torch.tensor(v, dtype=torch.float64).to(torch.bfloat16).to(torch.float64).numpy()
    np.testing.assert_array_equal(out, got)
    # the double rounding is real: some values differ from a single rounding
    single = np.empty_like(v)
    _many_bf16(v, single)
    assert (single != out).sum() > 0


def test_fma_f32_rounds_once():
    rng = np.random.default_rng(2)
    n = 20_000
    f32 = np.float32
    a = rng.uniform(-4, 4, n).astype(f32).astype(np.float64)
    b = rng.uniform(-4, 4, n).astype(f32).astype(np.float64)
    # c near -a*b plus a float32 half-ulp of the result: products and sums that sit on midpoints
    c = (-(a * b) + np.ldexp(rng.integers(-3, 4, n).astype(np.float64), rng.integers(-60, -20, n)))
    c = c.astype(f32).astype(np.float64)
    c[: n // 4] = rng.uniform(-4, 4, n // 4).astype(f32)
    # a*b = half a float32 ulp of c minus m**2 2**-70 (relative), c odd: float64 rounds the sum to
    # the midpoint, and float32's tie to even then goes up, past the exact result
    q = n // 4
    m = rng.integers(1, 64, q).astype(np.float64)
    odd = 1.0 + (2 * rng.integers(0, 2 ** 22, q) + 1) * 2.0 ** -23
    scale = np.ldexp(rng.choice([-1.0, 1.0], q), rng.integers(-20, 20, q))
    a[-q:] = 2.0 ** -24 * (1 + m * 2.0 ** -23) * scale
    b[-q:] = 1 - m * 2.0 ** -23
    c[-q:] = odd * scale
    assert (a.astype(f32) == a).all() and (b.astype(f32) == b).all() and (c.astype(f32) == c).all()
    out = np.empty(n)
    _many_fma(a, b, c, out)
    want = np.array([_exact_f32(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)])
    np.testing.assert_array_equal(out, want)
    naive = (a * b + c).astype(f32).astype(np.float64)  # double rounding: differs somewhere
    assert (naive != want).sum() > 0


def _exact_f32(q):
    """A rational rounded once to float32 (nearest, ties to even)."""
    if q == 0:
        return 0.0
    x = float(q)
    e = math.frexp(abs(x))[1] - 1
    if Fraction(2) ** e > abs(q):
        e -= 1
    ulp = Fraction(2) ** max(e - 23, -149)
    return float(round(q / ulp) * ulp)


# --- Muon's Newton-Schulz against torch ------------------------------------------------------------

def _crafted_row(rng, dim):
    """A 1 x D bfloat16 row whose squares sum to a bfloat16 (or sqrt) tie plus small terms, so the
    float32 summation order decides the result; random signs, order and scale."""
    big = [1.0, 2.0 ** -4] if rng.random() < 0.5 else [1.0, 2.0 ** -4, 2.0 ** -4, 2.0 ** -8]
    big = big[:dim]
    m = dim - len(big)
    tiny = np.ldexp(1 + rng.integers(0, 2, m) / 2, rng.integers(-14, -11, m))
    tiny[rng.permutation(m)[min(m, 8):]] = 0.0
    x = np.concatenate([big, tiny]) * rng.choice([-1.0, 1.0], dim) * 2.0 ** rng.integers(-3, 3)
    return x[rng.permutation(dim)]


@pytest.mark.parametrize("coefficients", [(3.4445, -4.7750, 2.0315), (3.0, -3.2, 1.2), (2.9, -3.7, 1.7)])
def test_newton_schulz_equals_torchs(coefficients):
    torch = pytest.importorskip("torch")
    from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns
    rng = np.random.default_rng(3)
    ns = njit(muon._newton_schulz)
    block = njit(muon._newton_schulz_block)  # the kernel's path below 16 coordinates: a block of rows at once
    a, b, c = coefficients
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for dim in (1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64):
            rows, wants = [], []
            for trial in range(60):
                row = _crafted_row(rng, dim) if trial % 2 else rng.normal(size=dim) * 10.0 ** rng.uniform(-3, 3)
                want = torch_ns(torch.tensor(row).reshape(1, dim), (a, b, c), 5, 1e-7).double().numpy()[0]
                g = np.array([[_lowp.bf16(_lowp.f32(v))] for v in row])
                ns(g, 0, dim, a, b, c, 1e-7, 5)
                np.testing.assert_array_equal(g[:, 0], want, err_msg=f"D={dim} row={row.tolist()}")
                rows.append(np.array([_lowp.bf16(_lowp.f32(v)) for v in row]))
                wants.append(want)
            if dim < muon._LANES:
                g = np.ascontiguousarray(np.array(rows).T)  # (D, trajectories)
                sc = np.zeros((len(muon.SPEC.scalars), g.shape[1]))
                hp = np.zeros((len(muon.SPEC.vector), g.shape[1]))
                hp[muon.H_NS_A], hp[muon.H_NS_B], hp[muon.H_NS_C], hp[muon.H_EPS] = a, b, c, 1e-7
                block(g, sc, hp, g.shape[1], dim, 5)
                np.testing.assert_array_equal(g.T, np.array(wants), err_msg=f"block, D={dim}")
    finally:
        torch.set_num_threads(threads)
