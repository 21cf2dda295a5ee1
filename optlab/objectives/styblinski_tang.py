r"""The Styblinski-Tang function, in any dimension D >= 1.

.. math::  f(x) = \tfrac12 \sum_{i=1}^{D} \left(x_i^4 - 16 x_i^2 + 5 x_i\right)

Domain [-5, 5]^D. Separable: each coordinate has a global minimum at
x* = -2.903534027771177 (the root of 2x^3 - 16x + 2.5 near -2.9), a local
one at 2.7468 and a maximum at 0.1567, so f_min = -39.166165703771415 D
(-78.3323314075428 for D = 2) and the 2-D box holds 4 minima, 4 saddles
and 1 maximum. (One published data set drops the 5 x_i term; this is the
original.) Gradient 2x^3 - 16x + 2.5; Hessian diag(6x^2 - 16).
Source: Styblinski & Tang, Neural Networks 3 (1990) 467-483.
"""
import numpy as np

from ._base import ObjectiveSpec

X_STAR = -2.903534027771177  # root of 2x^3 - 16x + 2.5, to 50 digits then rounded
F_STAR_PER_DIM = -39.166165703771415


def styblinski_tang(x, g, f, p, n, ctx):
    for j in range(n):
        f[j] = 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            v = np.float64(x[d, j])
            v2 = v * v
            f[j] += 0.5 * (v2 * v2 - 16.0 * v2 + 5.0 * v)
            g[d, j] = 2.0 * v2 * v - 16.0 * v + 2.5


def styblinski_tang_hess(x, h, p, n):
    D = x.shape[0]
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 0.0
    for a in range(D):
        for j in range(n):
            v = np.float64(x[a, j])
            h[a, a, j] = 6.0 * v * v - 16.0


SPEC = ObjectiveSpec(
    name="styblinski_tang",
    value_grad_kernel=styblinski_tang,
    hess_kernel=styblinski_tang_hess,
    dim=None, min_dim=1,
    domain=(-5.0, 5.0),
    formula="0.5 sum_i (x_i^4 - 16 x_i^2 + 5 x_i)",
    source="Styblinski & Tang, Neural Networks 3 (1990)",
    minima=lambda dim, **o: [(np.full(dim, X_STAR), F_STAR_PER_DIM * dim)],
    f_min=lambda dim, **o: F_STAR_PER_DIM * dim,
    starts=((4.5, 4.5), (0.2, 0.1), (-4.5, 4.0), (4.0, -4.5), (1.0, -1.5)),
    aliases=("styblinski", "stybtang"),
    notes="2^D local minima at the corners of a cube; one global",
)
