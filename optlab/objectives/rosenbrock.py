r"""Rosenbrock's banana valley, in any dimension D >= 2.

.. math::  f(x) = \sum_{i=1}^{D-1} 100\,(x_{i+1} - x_i^2)^2 + (1 - x_i)^2

Global minimum f(1, ..., 1) = 0. In 2-D the Hessian at the minimum has
eigenvalues 0.3994 and 1001.6, so plain GD is unstable above lr = 2/1001.6.
Source: H. H. Rosenbrock, The Computer Journal 3 (1960); N-D form as in
scipy.optimize.rosen.
"""
import numpy as np

from ._base import ObjectiveSpec


def rosenbrock(x, g, f, p, n, ctx):
    # one pass per coordinate, each g[i] written once (no zero-fill and
    # read-modify-write); the sums keep the order of the textbook loop:
    # g[i] = (0 + 200 (x[i] - x[i-1]^2)) + (-400 x[i] (x[i+1] - x[i]^2) - 2 (1 - x[i]))
    D = x.shape[0]
    if D == 2:
        # the 2-D picture, one pass; the same operations in the same order
        # as the general loop below (bit-identical), which takes 3 passes
        # and runtime row indices: measured 20% of Adam's whole step
        for j in range(n):
            a = np.float64(x[0, j])
            b = np.float64(x[1, j])
            t1 = b - a * a
            t2 = 1.0 - a
            f[j] = 0.0 + (100.0 * t1 * t1 + t2 * t2)
            g[0, j] = 0.0 + (-400.0 * a * t1 - 2.0 * t2)
            g[1, j] = 0.0 + 200.0 * (b - a * a)
        return
    for j in range(n):
        f[j] = 0.0
    for i in range(D):
        im = max(i - 1, 0)
        ip = min(i + 1, D - 1)
        if i < D - 1:
            for j in range(n):
                xi = np.float64(x[i, j])
                xm = np.float64(x[im, j])
                gi = 0.0 + 200.0 * (xi - xm * xm) if i > 0 else 0.0
                t1 = np.float64(x[ip, j]) - xi * xi
                t2 = 1.0 - xi
                f[j] += 100.0 * t1 * t1 + t2 * t2
                g[i, j] = gi + (-400.0 * xi * t1 - 2.0 * t2)
        else:
            for j in range(n):
                xi = np.float64(x[i, j])
                xm = np.float64(x[im, j])
                g[i, j] = 0.0 + 200.0 * (xi - xm * xm)


def rosenbrock_hess(x, h, p, n):
    D = x.shape[0]
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 0.0
    for i in range(D - 1):
        for j in range(n):
            xi = x[i, j]
            h[i, i, j] += 1200.0 * xi * xi - 400.0 * x[i + 1, j] + 2.0
            h[i, i + 1, j] += -400.0 * xi
            h[i + 1, i, j] += -400.0 * xi
            h[i + 1, i + 1, j] += 200.0


SPEC = ObjectiveSpec(
    name="rosenbrock",
    value_grad_kernel=rosenbrock,
    hess_kernel=rosenbrock_hess,
    dim=None, min_dim=2,
    domain=((-2.0, 2.0), (-1.0, 3.0)),
    formula="sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2",
    source="Rosenbrock, Comput. J. 3 (1960) 175-184",
    minima=lambda dim: [(np.ones(dim), 0.0)],
    starts=((-1.5, 2.0), (-1.0, -0.5), (1.5, 2.5), (0.0, 2.5), (-1.8, 0.5)),
    notes="a long curved valley: ill-conditioned near the minimum",
)
