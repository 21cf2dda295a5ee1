r"""Matyas' function: an ill-conditioned convex quadratic.

.. math::  f(x, y) = 0.26 (x^2 + y^2) - 0.48 x y

Domain [-10, 10]^2; global minimum f(0, 0) = 0. Hessian [[0.52, -0.48],
[-0.48, 0.52]], eigenvalues 0.04 (along x = y) and 1.0 (across): condition
number 25, so GD crawls along the diagonal.
Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU).
"""
import numpy as np

from ._base import ObjectiveSpec


def matyas(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        f[j] = 0.26 * (a * a + b * b) - 0.48 * a * b
        g[0, j] = 0.52 * a - 0.48 * b
        g[1, j] = 0.52 * b - 0.48 * a


def matyas_hess(x, h, p, n):
    for j in range(n):
        h[0, 0, j] = 0.52
        h[0, 1, j] = -0.48
        h[1, 0, j] = -0.48
        h[1, 1, j] = 0.52


SPEC = ObjectiveSpec(
    name="matyas",
    value_grad_kernel=matyas,
    hess_kernel=matyas_hess,
    dim=2,
    domain=((-10.0, 10.0), (-10.0, 10.0)),
    formula="0.26 (x^2 + y^2) - 0.48 x y",
    source="Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU)",
    minima=(((0.0, 0.0), 0.0),),
    starts=((-8.0, 6.0), (7.0, -9.0), (9.0, 8.0), (-9.0, -7.5), (2.0, -8.0)),
    notes="ill-conditioned quadratic (condition number 25), valley along x = y",
)
