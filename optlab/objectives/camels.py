r"""The six-hump and three-hump camel functions.

``six_hump_camel``:

.. math::  f(x, y) = (4 - 2.1 x^2 + x^4/3) x^2 + x y + (-4 + 4 y^2) y^2

Domain x in [-3, 3], y in [-2, 2]; six local minima, two of them global:
f(+-(0.0898420131, -0.7126564030)) = -1.0316284535.

``three_hump_camel``:

.. math::  f(x, y) = 2 x^2 - 1.05 x^4 + x^6/6 + x y + y^2

Domain [-5, 5]^2; global minimum f(0, 0) = 0, two more local minima.

Source: Dixon & Szego, Towards Global Optimisation 2 (1978); Surjanovic &
Bingham, Virtual Library of Simulation Experiments (SFU).
"""
import numpy as np

from ._base import ObjectiveSpec


def six_hump_camel(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        a2 = a * a
        b2 = b * b
        f[j] = (4.0 - 2.1 * a2 + a2 * a2 / 3.0) * a2 + a * b + (-4.0 + 4.0 * b2) * b2
        g[0, j] = 8.0 * a - 8.4 * a2 * a + 2.0 * a2 * a2 * a + b
        g[1, j] = a - 8.0 * b + 16.0 * b2 * b


def six_hump_camel_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        a2 = a * a
        h[0, 0, j] = 8.0 - 25.2 * a2 + 10.0 * a2 * a2
        h[0, 1, j] = 1.0
        h[1, 0, j] = 1.0
        h[1, 1, j] = -8.0 + 48.0 * b * b


def three_hump_camel(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        a2 = a * a
        f[j] = 2.0 * a2 - 1.05 * a2 * a2 + a2 * a2 * a2 / 6.0 + a * b + b * b
        g[0, j] = 4.0 * a - 4.2 * a2 * a + a2 * a2 * a + b
        g[1, j] = a + 2.0 * b


def three_hump_camel_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        a2 = a * a
        h[0, 0, j] = 4.0 - 12.6 * a2 + 5.0 * a2 * a2
        h[0, 1, j] = 1.0
        h[1, 0, j] = 1.0
        h[1, 1, j] = 2.0


_SIX_MIN = (0.08984201310031807, -0.7126564030207396)  # Newton-refined
_SIX_F = -1.0316284534898774

SPECS = (
    ObjectiveSpec(
        name="six_hump_camel",
        value_grad_kernel=six_hump_camel,
        hess_kernel=six_hump_camel_hess,
        dim=2,
        domain=((-3.0, 3.0), (-2.0, 2.0)),
        formula="(4 - 2.1x^2 + x^4/3) x^2 + x y + (-4 + 4y^2) y^2",
        source="Dixon & Szego 1978; Surjanovic & Bingham (SFU)",
        minima=((_SIX_MIN, _SIX_F), ((-_SIX_MIN[0], -_SIX_MIN[1]), _SIX_F)),
        f_min=_SIX_F,
        starts=((-2.0, 1.0), (2.0, -1.0), (-1.0, -1.5), (1.5, 1.5), (0.0, 0.0)),
        aliases=("camel6", "six_hump"),
        notes="six local minima, two global",
    ),
    ObjectiveSpec(
        name="three_hump_camel",
        value_grad_kernel=three_hump_camel,
        hess_kernel=three_hump_camel_hess,
        dim=2,
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        formula="2x^2 - 1.05x^4 + x^6/6 + x y + y^2",
        source="Dixon & Szego 1978; Surjanovic & Bingham (SFU)",
        minima=(((0.0, 0.0), 0.0),),
        starts=((-2.0, 2.0), (2.0, -1.0), (-1.5, -3.0), (1.0, 4.0), (3.0, 3.0)),
        aliases=("camel3", "three_hump"),
        notes="three local minima; the global one at the origin",
    ),
)
