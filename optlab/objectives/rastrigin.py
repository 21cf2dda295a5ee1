r"""Rastrigin's function, in any dimension D >= 1.

.. math::  f(x) = 10 D + \sum_{i=1}^{D} \left(x_i^2 - 10 \cos 2\pi x_i\right)

Domain [-5.12, 5.12]^D; global minimum f(0) = 0. Separable: each coordinate
has local minima near the integers and maxima near the half-integers, so the
2-D box holds 21 x 21 = 441 stationary points; ``stationary_points`` lists
the 81 in [-2.25, 2.25]^2 (25 minima, 40 saddles, 16 maxima).
Gradient 2 x_i + 20 pi sin 2 pi x_i; Hessian diag(2 + 40 pi^2 cos 2 pi x_i).
Source: Rastrigin, Systems of Extremal Control (1974); Mühlenbein et al.,
Parallel Computing 17 (1991) for the D-dimensional form.
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

_TWO_PI = 2.0 * math.pi


def rastrigin(x, g, f, p, n, ctx):
    D = x.shape[0]
    for j in range(n):
        f[j] = 10.0 * D
    for d in range(D):
        for j in range(n):
            v = np.float64(x[d, j])
            f[j] += v * v - 10.0 * libm.cos(_TWO_PI * v)
            g[d, j] = 2.0 * v + 10.0 * _TWO_PI * libm.sin(_TWO_PI * v)


def rastrigin_hess(x, h, p, n):
    D = x.shape[0]
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 0.0
    for a in range(D):
        for j in range(n):
            h[a, a, j] = 2.0 + 10.0 * _TWO_PI * _TWO_PI * libm.cos(_TWO_PI * np.float64(x[a, j]))


SPEC = ObjectiveSpec(
    name="rastrigin",
    value_grad_kernel=rastrigin,
    hess_kernel=rastrigin_hess,
    dim=None, min_dim=1,
    domain=(-5.12, 5.12),
    formula="10 D + sum_i (x_i^2 - 10 cos(2 pi x_i))",
    source="Rastrigin 1974; Muhlenbein, Schomisch & Born 1991",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    f_min=0.0,
    starts=((-4.5, 4.3), (3.7, 4.6), (-2.3, -4.1), (4.4, -1.6), (0.6, -0.7)),
    stationary_bounds=((-2.25, 2.25), (-2.25, 2.25)),
    notes="a lattice of local minima near the integers: GD stops at the nearest one",
)
