r"""Bukin function N. 6: a non-smooth curved valley.

.. math::  f(x, y) = 100 \sqrt{|y - 0.01 x^2|} + 0.01 |x + 10|

Domain x in [-15, -5], y in [-3, 3]; global minimum f(-10, 1) = 0. The
valley floor y = 0.01 x^2 is a crease: sqrt|u| has an infinite slope there,
so the function has *no* smooth stationary point and gradient methods
zig-zag across the crease. The kernels use sign(0) = 0 and take the
derivatives of sqrt|u| as 0 on the crease (u = 0), and d|x+10|/dx = 0 at
x = -10: the returned gradient is exactly 0 only at the minimum, which
``stationary_points`` lists as a (non-smooth) minimum. Off the crease:
d sqrt|u|/du = sign(u) / (2 sqrt|u|), d^2/du^2 = -1 / (4 |u|^{3/2}).
Source: Bukin (1997); Surjanovic & Bingham (SFU).
"""
import math

import numpy as np

from ._base import ObjectiveSpec
from ._vecmath import sign


def bukin6(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = b - 0.01 * a * a
        s = math.sqrt(abs(u))
        ss = s + (s == 0.0)
        sg = sign(u)
        d1 = 50.0 * sg / ss  # 100 d sqrt|u| / du
        w = a + 10.0
        f[j] = 100.0 * s + 0.01 * abs(w)
        g[0, j] = -0.02 * a * d1 + 0.01 * (sign(w))
        g[1, j] = d1


def bukin6_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = b - 0.01 * a * a
        s = math.sqrt(abs(u))
        ss = s + (s == 0.0)
        sg = sign(u)
        d1 = 50.0 * sg / ss
        d2 = -25.0 / (ss * ss * ss) * (s > 0.0)  # 100 d^2 sqrt|u| / du^2
        h[0, 0, j] = d2 * 0.0004 * a * a - 0.02 * d1
        hxy = -0.02 * a * d2
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = d2


SPEC = ObjectiveSpec(
    name="bukin6",
    value_grad_kernel=bukin6,
    hess_kernel=bukin6_hess,
    dim=2,
    domain=((-15.0, -5.0), (-3.0, 3.0)),
    formula="100 sqrt|y - 0.01 x^2| + 0.01 |x + 10|",
    source="Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU)",
    minima=(((-10.0, 1.0), 0.0),),
    starts=((-14.0, 2.5), (-6.0, -2.5), (-12.0, 0.0), (-8.0, 2.0), (-5.5, 0.5)),
    aliases=("bukin", "bukin_6", "bukin_n6"),
    notes="non-smooth curved valley: no smooth stationary point; the gradient blows up near the floor",
)
