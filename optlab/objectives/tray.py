r"""Cross-in-tray and Hölder table: |wave x envelope| functions with creases.

``cross_in_tray``:

.. math::  f(x, y) = -10^{-4} \left(|\sin x \sin y\, e^{|100 - r/\pi|}| + 1\right)^{0.1},
           \quad r = \sqrt{x^2 + y^2}

Domain [-10, 10]^2; four global minima f(+-1.3494066172, +-1.3494066172)
= -2.0626118708.

``holder_table``:

.. math::  f(x, y) = -\left|\sin x \cos y\, e^{|1 - r/\pi|}\right|

Domain [-10, 10]^2; four global minima f(+-8.0550234757, +-9.6645900192)
= -19.2085025679, on the rim where the envelope is largest.

Both are A = |P(x, y)| e^q with P a product of sines/cosines and
q = |c0 - r/pi| (c0 = 100 and 1). They are not differentiable where P = 0
(creases along x = k pi, and y = k pi or (k + 1/2) pi: ridges of f), where
r = c0 pi (the circle r = pi for the Hölder table: a crease of f) and at the
origin. The kernels use sign(0) = 0: on a crease P = 0 the returned gradient
and Hessian are those of the smooth factor times 0 -- the gradient is exactly
0 there (a valid Clarke subgradient: f has a concave kink) -- and on the
circle the q-derivatives take sign 0, at the origin q's derivatives are 0.
Away from creases, with s = sign(P), E = e^q:

  A_x = s P_x E + A q_x,
  A_xx = -A + 2 s P_x E q_x + A (q_x^2 + q_xx),
  A_xy = s E (P_xy + P_x q_y + P_y q_x) + A (q_x q_y + q_xy),

using P_xx = P_yy = -P, q_x = -sign(c0 - r/pi) x / (pi r),
q_xx = -sign(.) y^2/(pi r^3), q_xy = sign(.) x y / (pi r^3).
Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments (SFU);
Mishra, "Global optimization by differential evolution and particle swarm
methods" (2006), for cross-in-tray.
"""
import math

import numpy as np

from optlab.engine.ops import jitable

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

_INV_PI = 1.0 / math.pi


@jitable
def abs_wave(a, b, f1, d1, f2, d2, c0):
    """(A, A_x, A_y, A_xx, A_xy, A_yy) of A = |f1(a) f2(b)| exp(|c0 - r/pi|).

    f1, f2 are sin/cos values at a, b (so f'' = -f) and d1, d2 their first
    derivatives; sign(0) = 0 and the q-derivatives are 0 at r = 0."""
    r2 = a * a + b * b
    r = math.sqrt(r2)
    w = c0 - r * _INV_PI
    q = abs(w)
    sq = (w > 0.0) * 1.0 - (w < 0.0) * 1.0  # sign, sign(0) = 0 (spelled out: no nested inlining)
    pos = r > 0.0
    rs = r + (r == 0.0)
    k = -sq * _INV_PI / rs * pos
    qx = k * a
    qy = k * b
    k3 = -sq * _INV_PI / (rs * rs * rs) * pos
    qxx = k3 * b * b
    qyy = k3 * a * a
    qxy = -k3 * a * b
    P = f1 * f2
    s = (P > 0.0) * 1.0 - (P < 0.0) * 1.0
    E = libm.exp(q)
    A = abs(P) * E
    Px = d1 * f2
    Py = f1 * d2
    Pxy = d1 * d2
    Ax = s * Px * E + A * qx
    Ay = s * Py * E + A * qy
    Axx = -A + 2.0 * s * Px * E * qx + A * (qx * qx + qxx)
    Ayy = -A + 2.0 * s * Py * E * qy + A * (qy * qy + qyy)
    Axy = s * E * (Pxy + Px * qy + Py * qx) + A * (qx * qy + qxy)
    return A, Ax, Ay, Axx, Axy, Ayy


def cross_in_tray(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        A, Ax, Ay, Axx, Axy, Ayy = abs_wave(a, b, libm.sin(a), libm.cos(a), libm.sin(b), libm.cos(b), 100.0)
        T = A + 1.0
        f[j] = -1e-4 * T ** 0.1
        k = -1e-5 * T ** -0.9
        g[0, j] = k * Ax
        g[1, j] = k * Ay


def cross_in_tray_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        A, Ax, Ay, Axx, Axy, Ayy = abs_wave(a, b, libm.sin(a), libm.cos(a), libm.sin(b), libm.cos(b), 100.0)
        T = A + 1.0
        k1 = -1e-5 * T ** -0.9
        k2 = 0.9e-5 * T ** -1.9
        h[0, 0, j] = k1 * Axx + k2 * Ax * Ax
        h[0, 1, j] = k1 * Axy + k2 * Ax * Ay
        h[1, 0, j] = k1 * Axy + k2 * Ax * Ay
        h[1, 1, j] = k1 * Ayy + k2 * Ay * Ay


def holder_table(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        A, Ax, Ay, Axx, Axy, Ayy = abs_wave(a, b, libm.sin(a), libm.cos(a), libm.cos(b), -libm.sin(b), 1.0)
        f[j] = -A
        g[0, j] = -Ax
        g[1, j] = -Ay


def holder_table_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        A, Ax, Ay, Axx, Axy, Ayy = abs_wave(a, b, libm.sin(a), libm.cos(a), libm.cos(b), -libm.sin(b), 1.0)
        h[0, 0, j] = -Axx
        h[0, 1, j] = -Axy
        h[1, 0, j] = -Axy
        h[1, 1, j] = -Ayy


# refined by Newton on grad f = 0 (optlab.analysis.stationary)
_CT_X = 1.3494066171539107
_CT_F = -2.062611870822738
_HT_X = 8.055023475736563
_HT_Y = 9.664590019241272
_HT_F = -19.208502567886732

SPECS = (
    ObjectiveSpec(
        name="cross_in_tray",
        value_grad_kernel=cross_in_tray,
        hess_kernel=cross_in_tray_hess,
        dim=2,
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        formula="-1e-4 (|sin x sin y exp(|100 - sqrt(x^2+y^2)/pi|)| + 1)^0.1",
        source="Mishra 2006; Surjanovic & Bingham (SFU)",
        minima=tuple(((sx * _CT_X, sy * _CT_X), _CT_F) for sx in (1, -1) for sy in (1, -1)),
        f_min=_CT_F,
        starts=((-8.0, 8.5), (0.5, 0.4), (7.0, -2.0), (-3.0, -6.0), (4.5, 4.0)),
        aliases=("crossintray",),
        notes="non-smooth: ridges (creases) along x = k pi and y = k pi; gradient there is 0 by the sign(0) = 0 convention",
    ),
    ObjectiveSpec(
        name="holder_table",
        value_grad_kernel=holder_table,
        hess_kernel=holder_table_hess,
        dim=2,
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        formula="-|sin x cos y exp(|1 - sqrt(x^2+y^2)/pi|)|",
        source="Surjanovic & Bingham (SFU)",
        minima=tuple(((sx * _HT_X, sy * _HT_Y), _HT_F) for sx in (1, -1) for sy in (1, -1)),
        f_min=_HT_F,
        starts=((-2.0, 2.5), (1.0, -1.0), (5.0, 5.0), (-6.0, -3.0), (3.0, -7.0)),
        aliases=("holdertable", "holder"),
        notes="non-smooth: creases along sin x cos y = 0 and on the circle r = pi",
    ),
)
