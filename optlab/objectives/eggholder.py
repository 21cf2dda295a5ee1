r"""The eggholder function.

.. math::

    f(x, y) = -(y + 47) \sin\sqrt{|x/2 + y + 47|} - x \sin\sqrt{|x - (y + 47)|}

Domain [-512, 512]^2. The best point of the box, f(512, 404.2318051) =
-959.6406627, lies *on its edge* and f keeps falling outside it: it is not a
stationary point, and an unconstrained optimizer started nearby walks out of
the box (clip to the domain to reproduce the published minimum). The box
holds hundreds of stationary points; ``stationary_points`` lists those in the
documented sub-box ``stationary_bounds``.

Non-smooth along the lines u = x/2 + y + 47 = 0 and v = x - y - 47 = 0,
where sqrt|.| has an infinite slope. With S(w) = sin sqrt|w|,
S' = sign(w) cos(s) / (2 s), S'' = -sin(s)/(4|w|) - cos(s)/(4 s^3)
(s = sqrt|w|); on a crease (w = 0) the kernels take S' = S'' = 0
(sign(0) = 0).
Source: Whitley et al., Artificial Intelligence 85 (1996); Surjanovic &
Bingham (SFU).
"""
import math

import numpy as np

from optlab.engine.ops import jitable

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec


@jitable
def sin_sqrt_abs(w):
    """(S, S', S'') of S(w) = sin(sqrt|w|), with S' = S'' = 0 at w = 0."""
    aw = abs(w)
    s = math.sqrt(aw)
    nz = s > 0.0
    ss = s + (s == 0.0)
    sg = (w > 0.0) * 1.0 - (w < 0.0) * 1.0  # sign, sign(0) = 0
    sn = libm.sin(s)
    cs = libm.cos(s)
    d1 = sg * cs / (2.0 * ss)
    d2 = (-sn / (4.0 * ss * ss) - cs / (4.0 * ss * ss * ss)) * nz
    return sn, d1, d2


def eggholder(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        c = b + 47.0
        Su, du, _ = sin_sqrt_abs(0.5 * a + c)
        Sv, dv, _ = sin_sqrt_abs(a - c)
        f[j] = -c * Su - a * Sv
        g[0, j] = -0.5 * c * du - Sv - a * dv
        g[1, j] = -Su - c * du + a * dv


def eggholder_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        c = b + 47.0
        Su, du, eu = sin_sqrt_abs(0.5 * a + c)
        Sv, dv, ev = sin_sqrt_abs(a - c)
        h[0, 0, j] = -0.25 * c * eu - 2.0 * dv - a * ev
        hxy = -0.5 * du - 0.5 * c * eu + dv + a * ev
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = -2.0 * du - c * eu - a * ev


_EDGE = (512.0, 404.2318051137578)  # f_y = 0 on the edge x = 512 (Newton)
_EDGE_F = -959.6406627208507

SPEC = ObjectiveSpec(
    name="eggholder",
    value_grad_kernel=eggholder,
    hess_kernel=eggholder_hess,
    dim=2,
    domain=((-512.0, 512.0), (-512.0, 512.0)),
    formula="-(y + 47) sin(sqrt|x/2 + y + 47|) - x sin(sqrt|x - (y + 47)|)",
    source="Whitley et al. 1996; Surjanovic & Bingham (SFU)",
    minima=((_EDGE, _EDGE_F),),
    f_min=_EDGE_F,
    starts=((-400.0, 400.0), (300.0, -300.0), (0.0, 0.0), (450.0, 350.0), (-200.0, -450.0)),
    stationary_bounds=((-100.0, 100.0), (-100.0, 100.0)),
    notes="box minimum on the edge (512, 404.23): f keeps falling outside the box; non-smooth creases",
)
