r"""Beale's function: a flat plateau with sharp ridges near the corners.

.. math::  f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

Global minimum f(3, 0.5) = 0; a saddle sits at (0, 1).
Source: E. M. L. Beale, "On an iterative method for finding a local minimum
of a function of more than one variable" (1958).
"""
import numpy as np

from ._base import ObjectiveSpec


def beale(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        b2 = b * b
        b3 = b2 * b
        u1 = 1.5 - a + a * b
        u2 = 2.25 - a + a * b2
        u3 = 2.625 - a + a * b3
        f[j] = u1 * u1 + u2 * u2 + u3 * u3
        g[0, j] = 2.0 * (u1 * (b - 1.0) + u2 * (b2 - 1.0) + u3 * (b3 - 1.0))
        g[1, j] = 2.0 * a * (u1 + 2.0 * b * u2 + 3.0 * b2 * u3)


def beale_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        b2 = b * b
        b3 = b2 * b
        u1 = 1.5 - a + a * b
        u2 = 2.25 - a + a * b2
        u3 = 2.625 - a + a * b3
        d1 = b - 1.0
        d2 = b2 - 1.0
        d3 = b3 - 1.0
        h[0, 0, j] = 2.0 * (d1 * d1 + d2 * d2 + d3 * d3)
        hxy = 2.0 * (a * d1 + u1 + 2.0 * b * (a * d2 + u2) + 3.0 * b2 * (a * d3 + u3))
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = 2.0 * (a * a + 4.0 * a * a * b2 + 2.0 * a * u2
                            + 9.0 * a * a * b2 * b2 + 6.0 * a * b * u3)


SPEC = ObjectiveSpec(
    name="beale",
    value_grad_kernel=beale,
    hess_kernel=beale_hess,
    dim=2,
    domain=((-4.5, 4.5), (-4.5, 4.5)),
    formula="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
    source="Beale 1958; Surjanovic & Bingham, Virtual Library of Simulation Experiments",
    minima=(((3.0, 0.5), 0.0),),
    starts=((1.0, 1.5), (-1.0, -1.0), (2.0, -2.0), (-3.0, 3.0), (0.5, 3.0)),
    notes="plateaus and steep walls: gradient magnitudes span many orders",
)
