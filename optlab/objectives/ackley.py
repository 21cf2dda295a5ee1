r"""Ackley's function, in any dimension D >= 1.

.. math::

    f(x) = -a \exp\!\left(-b \sqrt{\tfrac1D \textstyle\sum_i x_i^2}\right)
           - \exp\!\left(\tfrac1D \textstyle\sum_i \cos c x_i\right) + a + e,
    \quad a = 20,\; b = 0.2,\; c = 2\pi

Usual domain [-32.768, 32.768]^D; plotting domain [-5, 5]^D (``domain``).
Global minimum f(0) = 0, where f has a cone point (r = |x|/sqrt(D) is not
differentiable at 0). The kernels return the subgradient 0 of the cone
term at r = 0 (the gradient there is then exactly 0), and leave the cone
term out of the Hessian at r = 0 (its curvature is infinite there).
Elsewhere, with E1 = exp(-b r), E2 = exp(mean cos c x):
grad_i = a b E1 x_i / (D r) + E2 c sin(c x_i) / D.
A local minimum sits near every integer lattice point; ``stationary_points``
lists the points in [-2.25, 2.25]^2.
Source: Ackley, A Connectionist Machine for Genetic Hillclimbing (1987);
Bäck, Evolutionary Algorithms in Theory and Practice (1996) for the D-form.
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

_A = 20.0
_B = 0.2
_C = 2.0 * math.pi


def ackley(x, g, f, p, n, ctx):
    D = x.shape[0]
    inv_d = 1.0 / D
    # f[j] accumulates sum x^2 and g[0, j]... cannot: g is the output; use two passes
    for j in range(n):
        s2 = 0.0
        cs = 0.0
        for d in range(D):
            v = np.float64(x[d, j])
            s2 += v * v
            cs += libm.cos(_C * v)
        r = math.sqrt(s2 * inv_d)
        e1 = libm.exp(-_B * r)
        e2 = libm.exp(cs * inv_d)
        f[j] = _A * (1.0 - e1) + (math.e - e2)  # = 0 exactly at the origin
        # cone term: a b E1 / (D r) * x_i, with 0 at r = 0 (subgradient)
        k1 = _A * _B * e1 * inv_d / (r + (r == 0.0)) * (r > 0.0)
        k2 = e2 * _C * inv_d
        for d in range(D):
            v = np.float64(x[d, j])
            g[d, j] = k1 * v + k2 * libm.sin(_C * v)


def ackley_hess(x, h, p, n):
    D = x.shape[0]
    inv_d = 1.0 / D
    for j in range(n):
        s2 = 0.0
        cs = 0.0
        for d in range(D):
            v = np.float64(x[d, j])
            s2 += v * v
            cs += libm.cos(_C * v)
        r = math.sqrt(s2 * inv_d)
        e1 = libm.exp(-_B * r)
        e2 = libm.exp(cs * inv_d)
        pos = r > 0.0
        rs = r + (r == 0.0)
        # cone term -a exp(-b r): u' = a b E1, u'' = -a b^2 E1; r_i = x_i/(D r),
        # r_ik = delta_ik/(D r) - x_i x_k/(D^2 r^3)
        c_diag = _A * _B * e1 * inv_d / rs * pos
        c_out = (-_A * _B * _B * e1 * inv_d * inv_d / (rs * rs)
                 - _A * _B * e1 * inv_d * inv_d / (rs * rs * rs)) * pos
        for a in range(D):
            va = np.float64(x[a, j])
            sa = libm.sin(_C * va)
            for b in range(D):
                vb = np.float64(x[b, j])
                val = c_out * va * vb - e2 * _C * _C * inv_d * inv_d * sa * libm.sin(_C * vb)
                if a == b:
                    val += c_diag + e2 * _C * _C * inv_d * libm.cos(_C * va)
                h[a, b, j] = val


SPEC = ObjectiveSpec(
    name="ackley",
    value_grad_kernel=ackley,
    hess_kernel=ackley_hess,
    dim=None, min_dim=1,
    domain=(-5.0, 5.0),
    formula="-20 exp(-0.2 sqrt(mean x_i^2)) - exp(mean cos(2 pi x_i)) + 20 + e",
    source="Ackley 1987; Back 1996",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    f_min=0.0,
    starts=((-4.5, 4.2), (3.6, 4.4), (-2.4, -4.3), (4.3, -1.7), (1.6, 0.6)),
    stationary_bounds=((-2.25, 2.25), (-2.25, 2.25)),
    notes="nearly flat outer region with a lattice of local minima and a central funnel",
)
