r"""Two saddles: the plain one and the monkey saddle.

``saddle``: :math:`f(x, y) = x^2 - y^2`, a non-degenerate saddle at the
origin (Hessian diag(2, -2)); unbounded below, so no minimum. GD started on
the x-axis never leaves it (the y-gradient is exactly 0 there); any
perturbation grows like (1 + 2 lr)^t.

``monkey_saddle``: :math:`f(x, y) = x^3 - 3 x y^2 = \mathrm{Re}\,(x + iy)^3`,
a degenerate saddle at the origin: gradient *and* Hessian vanish there, three
valleys (at angles 60, 180, 300 degrees) and three ridges meet. Near the
origin the gradient shrinks quadratically, so first-order methods stall.

Domain [-2, 2]^2 for both; no global minimum (f_min None; the engine then
counts a trajectory as converged by its gradient norm).
Source: textbook examples (e.g. Dauphin et al., NeurIPS 2014, on saddles in
high-dimensional non-convex optimisation).
"""
import numpy as np

from ._base import ObjectiveSpec


def saddle(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        f[j] = a * a - b * b
        g[0, j] = 2.0 * a
        g[1, j] = -2.0 * b


def saddle_hess(x, h, p, n):
    for j in range(n):
        h[0, 0, j] = 2.0
        h[0, 1, j] = 0.0
        h[1, 0, j] = 0.0
        h[1, 1, j] = -2.0


def monkey_saddle(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        f[j] = a * a * a - 3.0 * a * b * b
        g[0, j] = 3.0 * a * a - 3.0 * b * b
        g[1, j] = -6.0 * a * b


def monkey_saddle_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        h[0, 0, j] = 6.0 * a
        h[0, 1, j] = -6.0 * b
        h[1, 0, j] = -6.0 * b
        h[1, 1, j] = -6.0 * a


SPECS = (
    ObjectiveSpec(
        name="saddle",
        value_grad_kernel=saddle,
        hess_kernel=saddle_hess,
        dim=2,
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        formula="x^2 - y^2",
        source="textbook; Dauphin et al., NeurIPS 2014",
        minima=(),
        starts=((-1.8, 0.0), (1.8, 1e-3), (-1.5, 0.05), (1.9, -0.2), (0.5, 0.01)),
        notes="a saddle at the origin: a start on the x-axis converges to it, any other escapes; unbounded below",
    ),
    ObjectiveSpec(
        name="monkey_saddle",
        value_grad_kernel=monkey_saddle,
        hess_kernel=monkey_saddle_hess,
        dim=2,
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        formula="x^3 - 3 x y^2",
        source="textbook",
        minima=(),
        starts=((1.5, 0.2), (1.0, -1.0), (-0.5, 1.5), (0.8, 0.0), (1.2, 1.8)),
        aliases=("monkey",),
        notes="degenerate saddle at the origin (zero Hessian); unbounded below",
    ),
)
