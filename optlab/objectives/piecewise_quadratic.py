r"""The one-dimensional piecewise quadratic on which heavy-ball cycles.

.. math::

    f(x) = \begin{cases}
        \tfrac{L}{2} x^2                                   & x < 1 \\
        \tfrac{\mu}{2} x^2 + (L-\mu)\,x - \tfrac{L-\mu}{2}   & 1 \le x < 2 \\
        \tfrac{L}{2} x^2 - (L-\mu)\,x + \tfrac{3(L-\mu)}{2}  & x \ge 2
    \end{cases}
    \qquad
    f'(x) = \begin{cases} L x & x < 1 \\ \mu x + L - \mu & 1 \le x < 2 \\ L x - (L - \mu) & x \ge 2 \end{cases}

With the defaults :math:`\mu = 1`, :math:`L = 25` this is the function of
Lessard, Recht & Packard, "Analysis and design of optimization algorithms via
integral quadratic constraints", SIAM J. Optim. 26(1), 2016, Section 4.6:
:math:`f(x) = 25x^2/2` for x < 1, :math:`x^2/2 + 24x - 12` on [1, 2),
:math:`25x^2/2 - 24x + 36` from 2 on. f' is continuous (the pieces meet at
x = 1 and x = 2) and its slope is L, mu, L piece by piece, so f is mu-strongly
convex and L-smooth (the constants are chosen so that f and f' are continuous).
Minimum f(0) = 0. Heavy-ball with the step and momentum that are optimal for
quadratics with curvatures in [mu, L] fails to converge on it (a period-3
cycle); see ``optlab/studies/heavy_ball_cycle.py``. Plotted on [-4, 4].
"""
import numpy as np

from ..errors import OptlabError
from ._base import ObjectiveSpec


def piecewise_quadratic(x, g, f, p, n, ctx):
    mu = p[0]
    lip = p[1]
    d = lip - mu
    for j in range(n):
        v = np.float64(x[0, j])
        if v < 1.0:
            f[j] = 0.5 * lip * v * v
            g[0, j] = lip * v
        elif v < 2.0:
            f[j] = 0.5 * mu * v * v + d * v - 0.5 * d
            g[0, j] = mu * v + d
        else:
            f[j] = 0.5 * lip * v * v - d * v + 1.5 * d
            g[0, j] = lip * v - d


def piecewise_quadratic_hess(x, h, p, n):
    for j in range(n):
        v = np.float64(x[0, j])
        if v >= 1.0 and v < 2.0:
            h[0, 0, j] = p[0]
        else:
            h[0, 0, j] = p[1]


def curvatures(dim, mu=1.0, L=25.0):
    """The parameters ``[mu, L]`` (strong convexity and smoothness constants), checked."""
    mu, lip = float(mu), float(L)
    if not mu > 0.0:
        raise OptlabError(f"Invalid mu for objective 'piecewise_quadratic': {mu} (must be > 0)")
    if not lip >= mu:
        raise OptlabError(f"Invalid L for objective 'piecewise_quadratic': {lip} (must be >= mu = {mu})")
    return np.array([mu, lip])


SPEC = ObjectiveSpec(
    name="piecewise_quadratic",
    value_grad_kernel=piecewise_quadratic,
    hess_kernel=piecewise_quadratic_hess,
    dim=1,
    domain=(-4.0, 4.0),
    formula="L/2 x^2 (x<1); mu/2 x^2 + (L-mu) x - (L-mu)/2 (1<=x<2); L/2 x^2 - (L-mu) x + 3(L-mu)/2 (x>=2)",
    source="Lessard, Recht & Packard, SIAM J. Optim. 26(1) 2016, Sec. 4.6 (mu=1, L=25)",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    f_min=0.0,
    params=curvatures,
    options=dict(mu=1.0, L=25.0),
    notes="1-D, mu-strongly convex and L-smooth; heavy-ball tuned for quadratics cycles on it",
)
