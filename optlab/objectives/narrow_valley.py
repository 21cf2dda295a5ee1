r"""A long, straight, narrow valley with a nearly flat floor.

.. math::

    f(x, y) = \tfrac{\kappa}{2} v^2 + \varepsilon\left(\sqrt{1 + u^2} - 1\right),
    \quad u = x\cos\theta + y\sin\theta, \; v = -x\sin\theta + y\cos\theta

with kappa = 100, eps = 1, theta = 30 degrees: the valley runs along the
direction (cos 30, sin 30). Across it the curvature is kappa = 100 (GD is
stable only for lr < 2/kappa = 0.02); along its floor f grows like
eps |u| (a pseudo-Huber floor), so the floor gradient never exceeds eps = 1
however far out one starts -- unlike a quadratic, whose along-valley gradient
grows with the distance. Plain GD therefore creeps along the floor at most
lr eps per step while bouncing across it; momentum and adaptive methods
cover the length. Global minimum f(0, 0) = 0; condition number at the
minimum kappa/eps = 100, and the along-valley curvature
eps / (1 + u^2)^{3/2} falls off far from it.
Source: the classic ravine (e.g. Polyak 1964 on heavy-ball momentum);
the pseudo-Huber floor is ours.
"""
import math

import numpy as np

from ._base import ObjectiveSpec

KAPPA = 100.0
EPS = 1.0
_C = math.cos(math.pi / 6.0)
_S = math.sin(math.pi / 6.0)


def narrow_valley(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = _C * a + _S * b
        v = -_S * a + _C * b
        q = math.sqrt(1.0 + u * u)
        f[j] = 0.5 * KAPPA * v * v + EPS * (q - 1.0)
        du = EPS * u / q
        dv = KAPPA * v
        g[0, j] = _C * du - _S * dv
        g[1, j] = _S * du + _C * dv


def narrow_valley_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        u = _C * a + _S * b
        q = math.sqrt(1.0 + u * u)
        huu = EPS / (q * q * q)
        h[0, 0, j] = _C * _C * huu + _S * _S * KAPPA
        hxy = _C * _S * (huu - KAPPA)
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = _S * _S * huu + _C * _C * KAPPA


SPEC = ObjectiveSpec(
    name="narrow_valley",
    value_grad_kernel=narrow_valley,
    hess_kernel=narrow_valley_hess,
    dim=2,
    domain=((-6.0, 6.0), (-4.0, 4.0)),
    formula="50 v^2 + sqrt(1 + u^2) - 1, (u, v) = (x, y) rotated by 30 degrees",
    source="the classic ravine (Polyak 1964); pseudo-Huber floor",
    minima=(((0.0, 0.0), 0.0),),
    starts=((-5.5, -3.5), (5.0, 2.0), (-4.0, -1.0), (5.5, 3.8), (-2.0, 0.5)),
    aliases=("valley", "ravine"),
    notes="GD must use lr < 0.02 across the valley and then creeps along its floor",
)
