r"""Himmelblau's function: four global minima, all of value 0.

.. math::  f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

Minima: (3, 2), (-2.805118, 3.131313), (-3.779310, -3.283186),
(3.584428, -1.848127); one local maximum and four saddles lie between them.
Source: D. M. Himmelblau, Applied Nonlinear Programming (1972).
"""
import numpy as np

from ._base import ObjectiveSpec


def himmelblau(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = a * a + b - 11.0
        v = a + b * b - 7.0
        f[j] = u * u + v * v
        g[0, j] = 4.0 * a * u + 2.0 * v
        g[1, j] = 2.0 * u + 4.0 * b * v


def himmelblau_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        h[0, 0, j] = 12.0 * a * a + 4.0 * b - 42.0
        h[0, 1, j] = 4.0 * (a + b)
        h[1, 0, j] = 4.0 * (a + b)
        h[1, 1, j] = 4.0 * a + 12.0 * b * b - 26.0


SPEC = ObjectiveSpec(
    name="himmelblau",
    value_grad_kernel=himmelblau,
    hess_kernel=himmelblau_hess,
    dim=2,
    domain=((-5.0, 5.0), (-5.0, 5.0)),
    formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    source="Himmelblau, Applied Nonlinear Programming, 1972",
    minima=(((3.0, 2.0), 0.0),
            ((-2.8051180869527, 3.1313125182505), 0.0),
            ((-3.7793102533777, -3.2831859912861), 0.0),
            ((3.5844283403305, -1.8481265269644), 0.0)),
    starts=((0.0, 0.0), (-1.0, 4.5), (-4.5, -1.0), (1.0, -4.5), (4.5, 4.5)),
    notes="several equal minima: where you start decides where you end",
)
