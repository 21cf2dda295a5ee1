r"""Easom's function: a needle in a flat plain.

.. math::  f(x, y) = -\cos x \cos y \, \exp\!\left(-(x-\pi)^2 - (y-\pi)^2\right)

Usual domain [-100, 100]^2; plotting domain [-1, 7]^2 (``domain``). Global
minimum f(pi, pi) = -1. Away from the central basin the Gaussian factor makes
f and its gradient vanish (below 1e-8 beyond a distance of ~4.3 from
(pi, pi)): a plateau where gradient methods do not move.
With E = exp(-(x-pi)^2 - (y-pi)^2) and h(t) = sin t + 2(t - pi) cos t:
f_x = cos y E h(x), f_xy = -E h(x) h(y),
f_xx = cos y E [(3 - 4(x-pi)^2) cos x - 4(x-pi) sin x].
Source: Easom, A survey of global optimization techniques (1990);
Surjanovic & Bingham (SFU).
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

_PI = math.pi


def easom(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = a - _PI
        v = b - _PI
        e = libm.exp(-u * u - v * v)
        ca = libm.cos(a)
        cb = libm.cos(b)
        f[j] = -ca * cb * e
        g[0, j] = cb * e * (libm.sin(a) + 2.0 * u * ca)
        g[1, j] = ca * e * (libm.sin(b) + 2.0 * v * cb)


def easom_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = a - _PI
        v = b - _PI
        e = libm.exp(-u * u - v * v)
        ca = libm.cos(a)
        cb = libm.cos(b)
        sa = libm.sin(a)
        sb = libm.sin(b)
        h[0, 0, j] = cb * e * ((3.0 - 4.0 * u * u) * ca - 4.0 * u * sa)
        hxy = -e * (sa + 2.0 * u * ca) * (sb + 2.0 * v * cb)
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = ca * e * ((3.0 - 4.0 * v * v) * cb - 4.0 * v * sb)


SPEC = ObjectiveSpec(
    name="easom",
    value_grad_kernel=easom,
    hess_kernel=easom_hess,
    dim=2,
    domain=((-1.0, 7.0), (-1.0, 7.0)),
    formula="-cos(x) cos(y) exp(-(x - pi)^2 - (y - pi)^2)",
    source="Easom 1990; Surjanovic & Bingham (SFU)",
    minima=(((_PI, _PI), -1.0),),
    starts=((-0.5, 6.5), (6.5, 6.5), (2.0, 2.5), (4.5, 1.5), (0.0, 0.0)),
    notes="a flat plateau (gradient ~ 0) around one narrow basin; usual domain [-100, 100]^2",
)
