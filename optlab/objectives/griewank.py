r"""Griewank's function, in any dimension D >= 1.

.. math::  f(x) = 1 + \frac{1}{4000}\sum_{i=1}^{D} x_i^2 - \prod_{i=1}^{D} \cos\frac{x_i}{\sqrt i}

Usual domain [-600, 600]^D, where a gentle bowl carries tens of thousands of
shallow local minima; ``domain`` is the zoom [-10, 10]^D where the ripples
show, and ``stationary_points`` lists the stationary points of that box.
Global minimum f(0) = 0.
Gradient: x_i/2000 + sin(x_i/sqrt i)/sqrt i * prod_{k != i} cos(x_k/sqrt k);
the products without the i-th factor come from prefix and suffix products
(no division, so a zero cosine is harmless).
Source: Griewank, J. Optim. Theory Appl. 34 (1981) 11-39.
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec


def griewank(x, g, f, p, n, ctx):
    D = x.shape[0]
    # pass 1 (i ascending): g[i] = prod_{k<i} c_k, f = running product
    for j in range(n):
        f[j] = 1.0
    for i in range(D):
        si = math.sqrt(i + 1.0)
        for j in range(n):
            g[i, j] = f[j]
            f[j] *= libm.cos(np.float64(x[i, j]) / si)
    # pass 2 (i descending): g[i] *= prod_{k>i} c_k
    for j in range(n):
        f[j] = 1.0
    for i in range(D - 1, -1, -1):
        si = math.sqrt(i + 1.0)
        for j in range(n):
            g[i, j] *= f[j]
            f[j] *= libm.cos(np.float64(x[i, j]) / si)
    # f = 1 + sum x^2/4000 - prod; g = x/2000 + sin(x_i/si)/si * prod_{k!=i}
    for j in range(n):
        f[j] = 1.0 - f[j]
    for i in range(D):
        si = math.sqrt(i + 1.0)
        for j in range(n):
            v = np.float64(x[i, j])
            f[j] += v * v / 4000.0
            g[i, j] = v / 2000.0 + libm.sin(v / si) / si * g[i, j]


def griewank_hess(x, h, p, n):
    D = x.shape[0]
    # h[a, b] = prod_{l != a, b} c_l first, then the factors of a and b
    for a in range(D):
        for b in range(D):
            for j in range(n):
                h[a, b, j] = 1.0
            for l in range(D):
                if l != a and l != b:
                    sl = math.sqrt(l + 1.0)
                    for j in range(n):
                        h[a, b, j] *= libm.cos(np.float64(x[l, j]) / sl)
    for a in range(D):
        sa = math.sqrt(a + 1.0)
        for b in range(D):
            sb = math.sqrt(b + 1.0)
            for j in range(n):
                va = np.float64(x[a, j]) / sa
                vb = np.float64(x[b, j]) / sb
                if a == b:
                    h[a, a, j] = 1.0 / 2000.0 + libm.cos(va) / (a + 1.0) * h[a, a, j]
                else:
                    h[a, b, j] = -libm.sin(va) * libm.sin(vb) / (sa * sb) * h[a, b, j]


SPEC = ObjectiveSpec(
    name="griewank",
    value_grad_kernel=griewank,
    hess_kernel=griewank_hess,
    dim=None, min_dim=1,
    domain=(-10.0, 10.0),
    formula="1 + sum_i x_i^2/4000 - prod_i cos(x_i/sqrt(i))",
    source="Griewank, J. Optim. Theory Appl. 34 (1981)",
    minima=lambda dim, **o: [(np.zeros(dim), 0.0)],
    f_min=0.0,
    starts=((-8.5, 8.0), (7.5, 9.0), (-4.0, -8.5), (9.0, -3.0), (2.5, 1.0)),
    notes="a bowl with tens of thousands of local minima; usual domain [-600, 600]^D, plotted in [-10, 10]^D",
)
