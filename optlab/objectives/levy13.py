r"""Lévy function N. 13.

.. math::

    f(x, y) = \sin^2(3\pi x) + (x-1)^2 [1 + \sin^2(3\pi y)]
              + (y-1)^2 [1 + \sin^2(2\pi y)]

Domain [-10, 10]^2; global minimum f(1, 1) = 0. Ripples of period 1/3 in x
put thousands of local minima in the box; ``stationary_points`` lists those
in the smaller box [0, 2]^2 (see ``stationary_bounds``).
Derivatives use d/dx sin^2(kx) = k sin(2kx).
Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU).
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

_PI = math.pi


def levy13(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        s3x = libm.sin(3.0 * _PI * a)
        s3y = libm.sin(3.0 * _PI * b)
        s2y = libm.sin(2.0 * _PI * b)
        u = a - 1.0
        v = b - 1.0
        wy = 1.0 + s3y * s3y
        zy = 1.0 + s2y * s2y
        f[j] = s3x * s3x + u * u * wy + v * v * zy
        g[0, j] = 3.0 * _PI * libm.sin(6.0 * _PI * a) + 2.0 * u * wy
        g[1, j] = (u * u * 3.0 * _PI * libm.sin(6.0 * _PI * b) + 2.0 * v * zy
                   + v * v * 2.0 * _PI * libm.sin(4.0 * _PI * b))


def levy13_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        s3y = libm.sin(3.0 * _PI * b)
        s2y = libm.sin(2.0 * _PI * b)
        u = a - 1.0
        v = b - 1.0
        h[0, 0, j] = 18.0 * _PI * _PI * libm.cos(6.0 * _PI * a) + 2.0 * (1.0 + s3y * s3y)
        hxy = 6.0 * _PI * u * libm.sin(6.0 * _PI * b)
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = (18.0 * _PI * _PI * u * u * libm.cos(6.0 * _PI * b) + 2.0 * (1.0 + s2y * s2y)
                      + 8.0 * _PI * v * libm.sin(4.0 * _PI * b)
                      + 8.0 * _PI * _PI * v * v * libm.cos(4.0 * _PI * b))


SPEC = ObjectiveSpec(
    name="levy13",
    value_grad_kernel=levy13,
    hess_kernel=levy13_hess,
    dim=2,
    domain=((-10.0, 10.0), (-10.0, 10.0)),
    formula="sin^2(3 pi x) + (x-1)^2 (1 + sin^2(3 pi y)) + (y-1)^2 (1 + sin^2(2 pi y))",
    source="Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU)",
    minima=(((1.0, 1.0), 0.0),),
    starts=((-8.0, 8.0), (6.0, -4.0), (-3.0, -7.0), (4.0, 5.0), (0.3, 2.5)),
    aliases=("levy_13", "levi13"),
    stationary_bounds=((0.0, 2.0), (0.0, 2.0)),
    notes="a bowl covered in ripples: thousands of local minima",
)
