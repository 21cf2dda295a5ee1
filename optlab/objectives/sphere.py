r"""The sphere function, in any dimension D >= 1.

.. math::  f(x) = \sum_{i=1}^{D} x_i^2

Domain [-5.12, 5.12]^D; global minimum f(0) = 0. Hessian 2 I: every method
should solve it; GD converges in one step at lr = 0.5 and diverges above 1.
Source: De Jong, PhD thesis (1975), function F1.
"""
import numpy as np

from ._base import ObjectiveSpec


def sphere(x, g, f, p, n, ctx):
    for j in range(n):
        f[j] = 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            v = np.float64(x[d, j])
            f[j] += v * v
            g[d, j] = 2.0 * v


def sphere_hess(x, h, p, n):
    D = x.shape[0]
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 2.0 if a == b else 0.0


SPEC = ObjectiveSpec(
    name="sphere",
    value_grad_kernel=sphere,
    hess_kernel=sphere_hess,
    dim=None, min_dim=1,
    domain=(-5.12, 5.12),
    formula="sum_i x_i^2",
    source="De Jong 1975 (F1)",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    f_min=0.0,
    starts=((-4.5, 4.0), (4.0, 3.0), (-3.0, -4.5), (4.8, -1.0), (0.5, -4.9)),
    notes="isotropic bowl: the sanity check",
)
