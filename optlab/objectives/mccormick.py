r"""McCormick's function.

.. math::  f(x, y) = \sin(x + y) + (x - y)^2 - 1.5 x + 2.5 y + 1

Domain x in [-1.5, 4], y in [-3, 4]. Global minimum at
(1/2 - pi/3, -1/2 - pi/3) = (-0.5471975512, -1.5471975512) with
f = -sqrt(3)/2 - pi/3 = -1.9132229550 (from grad f = 0: x - y = 1 and
cos(x + y) = -1/2). Not unimodal despite some listings: along x - y = 1 the
sine leaves further local minima (x + y = -2pi/3 + 2pi k).
Source: McCormick, Math. Programming 10 (1976); Surjanovic & Bingham (SFU).
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec


def mccormick(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        d = a - b
        c = libm.cos(a + b)
        f[j] = libm.sin(a + b) + d * d - 1.5 * a + 2.5 * b + 1.0
        g[0, j] = c + 2.0 * d - 1.5
        g[1, j] = c - 2.0 * d + 2.5


def mccormick_hess(x, h, p, n):
    for j in range(n):
        s = libm.sin(np.float64(x[0, j]) + np.float64(x[1, j]))
        h[0, 0, j] = 2.0 - s
        h[0, 1, j] = -2.0 - s
        h[1, 0, j] = -2.0 - s
        h[1, 1, j] = 2.0 - s


_X = 0.5 - math.pi / 3.0
_F = -math.sqrt(3.0) / 2.0 - math.pi / 3.0

SPEC = ObjectiveSpec(
    name="mccormick",
    value_grad_kernel=mccormick,
    hess_kernel=mccormick_hess,
    dim=2,
    domain=((-1.5, 4.0), (-3.0, 4.0)),
    formula="sin(x + y) + (x - y)^2 - 1.5x + 2.5y + 1",
    source="McCormick 1976; Surjanovic & Bingham (SFU)",
    minima=(((_X, _X - 1.0), _F),),
    f_min=_F,
    starts=((3.5, 3.5), (-1.0, 3.0), (3.0, -2.5), (0.0, 0.0), (2.0, 1.0)),
    notes="a tilted valley along x - y = 1 with a sine ripple: several local minima",
)
