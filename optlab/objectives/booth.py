r"""Booth's function: a convex quadratic.

.. math::  f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2

Domain [-10, 10]^2; global minimum f(1, 3) = 0. The Hessian is constant,
[[10, 8], [8, 10]] (eigenvalues 2 and 18): plain GD diverges above lr = 2/18.
Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU).
"""
import numpy as np

from ._base import ObjectiveSpec


def booth(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = a + 2.0 * b - 7.0
        v = 2.0 * a + b - 5.0
        f[j] = u * u + v * v
        g[0, j] = 2.0 * u + 4.0 * v
        g[1, j] = 4.0 * u + 2.0 * v


def booth_hess(x, h, p, n):
    for j in range(n):
        h[0, 0, j] = 10.0
        h[0, 1, j] = 8.0
        h[1, 0, j] = 8.0
        h[1, 1, j] = 10.0


SPEC = ObjectiveSpec(
    name="booth",
    value_grad_kernel=booth,
    hess_kernel=booth_hess,
    dim=2,
    domain=((-10.0, 10.0), (-10.0, 10.0)),
    formula="(x + 2y - 7)^2 + (2x + y - 5)^2",
    source="Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU)",
    minima=(((1.0, 3.0), 0.0),),
    starts=((-8.0, -8.0), (8.0, -6.0), (-6.0, 8.0), (9.0, 9.0), (0.0, -9.0)),
    notes="a convex quadratic, condition number 9",
)
