r"""A convex quadratic with a chosen condition number and rotation.

.. math::  f(x) = \tfrac12 x^\top A x, \qquad A = Q\,\mathrm{diag}(\lambda)\,Q^\top

The eigenvalues run log-evenly from ``lmax / cond`` to ``lmax`` (``lmax`` =
L, the largest curvature, default 1), so plain GD diverges above lr = 2/L
and heavy-ball momentum above 2(1+beta)/L. In 2-D, Q rotates by ``angle``
degrees; in N-D, Q is a random orthogonal matrix drawn from ``seed`` when
``angle`` is non-zero (identity otherwise). Minimum: f(0) = 0.
"""
import numpy as np

from ..errors import OptlabError
from ._base import ObjectiveSpec


def quadratic(x, g, f, p, n, ctx):
    D = x.shape[0]
    for j in range(n):
        f[j] = 0.0
    for a in range(D):
        for j in range(n):
            g[a, j] = 0.0
        for b in range(D):
            aab = p[a * D + b]
            for j in range(n):
                g[a, j] += aab * x[b, j]
    for a in range(D):
        for j in range(n):
            f[j] += np.float64(0.5) * x[a, j] * g[a, j]  # a float64 0.5 as plain Python too (NEP 50)


def quadratic_hess(x, h, p, n):
    D = x.shape[0]
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = p[a * D + b]


def quadratic_matrix(dim, cond=10.0, lmax=1.0, angle=0.0, seed=0):
    """The matrix A of ``quadratic`` for these options."""
    cond = float(cond)
    if not cond >= 1.0:
        raise OptlabError(f"Invalid condition number: {cond} (must be >= 1)")
    if not float(lmax) > 0.0:
        raise OptlabError(f"Invalid lmax: {lmax} (must be > 0)")
    lam = float(lmax) * np.logspace(-np.log10(cond), 0.0, dim) if dim > 1 else np.array([float(lmax)])
    if dim == 2:
        c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        q = np.array([[c, -s], [s, c]])
    elif angle:
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    else:
        q = np.eye(dim)
    a = (q * lam) @ q.T
    return 0.5 * (a + a.T)


def _inert(options, dim):
    """The options without effect: dim 1 has A = [lmax]; seed draws Q only in N-D with angle != 0."""
    if dim == 1:
        return dict.fromkeys(("cond", "angle", "seed"), "dimension 1")
    if dim > 2 and options.get("angle"):
        return {}
    return {"seed": "the seed draws the rotation in 3 or more dimensions, with angle != 0"}


SPEC = ObjectiveSpec(
    name="quadratic",
    value_grad_kernel=quadratic,
    hess_kernel=quadratic_hess,
    dim=None, min_dim=1,
    domain=(-2.0, 2.0),
    formula="0.5 x^T A x, eigenvalues of A log-spaced in [lmax/cond, lmax]",
    source="the textbook ill-conditioned quadratic (e.g. Goh, Distill 2017)",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    params=lambda dim, **o: quadratic_matrix(dim, **o).ravel(),
    options=dict(cond=10.0, lmax=1.0, angle=0.0, seed=0),
    inert=_inert,
    starts=((-1.8, 1.5), (1.5, 1.8), (1.9, -0.4)),
    notes="ill-conditioned when cond is large: GD zig-zags across the valley",
)
