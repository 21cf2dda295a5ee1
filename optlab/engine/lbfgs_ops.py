"""L-BFGS's scalar helpers in torch's rounding: kernel layer (imports nothing from optlab).

``torch.dot`` on CPU float64 sums the products in four interleaved
accumulators combined as ``(a0 + a2) + (a1 + a3)``; ``Tensor.sum`` of |g| adds
four interleaved accumulators in order; the cubic interpolation of the
strong-Wolfe line search tracks whether each step value is a 0-dim tensor
(see :mod:`optlab.engine.cpu_lbfgs`). Compiled once and disk-cached: the
generated L-BFGS kernels call them.
"""
import math

from numba import njit


C1 = 1e-4
C2 = 0.9


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def tdot(a, b, n):
    """``torch.dot`` of two float64 vectors on CPU: four interleaved partial sums."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        i += 4
    if i < n:
        s0 += a[i] * b[i]
    if i + 1 < n:
        s1 += a[i + 1] * b[i + 1]
    if i + 2 < n:
        s2 += a[i + 2] * b[i + 2]
    return (s0 + s2) + (s1 + s3)


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def tabssum(a, n):
    """``a.abs().sum()`` as torch adds a short vector: four lanes, then in order."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += abs(a[i])
        s1 += abs(a[i + 1])
        s2 += abs(a[i + 2])
        s3 += abs(a[i + 3])
        i += 4
    if i < n:
        s0 += abs(a[i])
    if i + 1 < n:
        s1 += abs(a[i + 1])
    if i + 2 < n:
        s2 += abs(a[i + 2])
    return ((s0 + s1) + s2) + s3


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def tabsmax(a, n):
    """``a.abs().max()`` (NaN propagates, as in torch)."""
    m = abs(a[0])
    for i in range(1, n):
        v = abs(a[i])
        m = v if (v > m or v != v) else m
    return m


@njit(cache=True, nogil=True, no_cpython_wrapper=True)
def cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi, bounded, tx1, tx2, tlo, thi):
    """torch's ``_cubic_interpolate``; returns (t, t_is_tensor).

    ``tx1``/``tx2``/``tlo``/``thi`` say whether x1, x2 and the bounds are 0-dim
    tensors in torch (which changes one division). Without ``bounded`` the
    bounds are (x1, x2) in increasing order.
    """
    if not bounded:
        if x1 <= x2:
            lo, hi, tlo, thi = x1, x2, tx1, tx2
        else:
            lo, hi, tlo, thi = x2, x1, tx2, tx1
    if tx1 or tx2:  # float / tensor is reciprocal(tensor) * float in torch
        q = (1.0 / (x1 - x2)) * (3.0 * (f1 - f2))
    else:
        q = 3.0 * (f1 - f2) / (x1 - x2)
    d1 = g1 + g2 - q
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0.0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        # min(max(min_pos, lo), hi) with Python's choice of which object is returned
        r = min_pos
        tr = True
        if lo > r:
            r = lo
            tr = tlo
        if hi < r:
            r = hi
            tr = thi
        return r, tr
    return (lo + hi) / 2.0, (tlo or thi)

