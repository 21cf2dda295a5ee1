r"""A crater in a plateau: flat almost everywhere, a cliff at the crater's rim.

.. math::

    f(x) = \tfrac{\varepsilon}{2}\,\|x\|^2 + H\,\sigma\!\left(\frac{k\,(\|x\|^2 - R^2)}{2R}\right),
    \qquad \sigma(z) = \frac{1}{1 + e^{-z}}

with eps = 0.02, H = 5, k = 40, R = 0.5, in any dimension D >= 1 (plotted on
[-3, 3]^D). Outside the rim (|x| > R) f is a plateau at height ~H whose
gradient eps |x| <= 0.06 comes from the gentle bowl only; across the rim the
wall drops by H within ~4/k = 0.1 with slope up to H k / 4 = 50 and curvature
up to ~0.1 H k^2 = 770; inside lies the crater floor. The only stationary
point is the global minimum at the origin, f(0) = H sigma(-k R / 2) =
5 / (1 + e^10) = 2.2698e-4 (the gradient is x (eps + H k sigma'/R), a positive
multiple of x).

What it is for: the "cliff" of Goodfellow, Bengio & Courville, Deep Learning
(2016), sec. 8.2.4, and Pascanu, Mikolov & Bengio, ICML 2013 -- plain GD with
a moderate learning rate (lr = 0.1) creeps across the plateau for ~500 steps
(each step moves lr eps |x| ~ 0.004), then the first step on the wall is
huge and throws the iterate across the crater onto the far plateau (more than
half of the starts with |x0| in [1, 3] overshoot, landing ~2 away), where the
crawl starts again. lr = 0.01 only creeps; gradient clipping
(``clip_grad_norm``) or a normalised method (Adam, RMSprop) crosses the rim
without the jump. Stability on the wall needs lr < ~2/770.
"""
import math

import numpy as np

from ..engine import ops as libm  # libm functions, IEEE 754 (inf, NaN) as plain Python too
from ._base import ObjectiveSpec

EPS = 0.02
HEIGHT = 5.0
STEEP = 40.0
RADIUS = 0.5
F_MIN = HEIGHT / (1.0 + math.exp(STEEP * RADIUS / 2.0))


def plateau_cliff(x, g, f, p, n, ctx):
    D = x.shape[0]
    for j in range(n):
        f[j] = 0.0
    for d in range(D):
        for j in range(n):
            v = np.float64(x[d, j])
            f[j] += v * v
    # f holds |x|^2 now; turn it into f and keep the gradient factor in g
    for j in range(n):
        s = f[j]
        z = STEEP * (s - RADIUS * RADIUS) / (2.0 * RADIUS)
        e = libm.exp(-abs(z))
        sg = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
        sp = e / ((1.0 + e) * (1.0 + e))  # sigma'(z) = sigma (1 - sigma), overflow-free
        f[j] = 0.5 * EPS * s + HEIGHT * sg
        g[0, j] = EPS + HEIGHT * sp * STEEP / RADIUS  # the factor c(x) of grad = c x
    for d in range(D - 1, -1, -1):
        for j in range(n):
            g[d, j] = g[0, j] * np.float64(x[d, j])


def plateau_cliff_hess(x, h, p, n):
    D = x.shape[0]
    kr = STEEP / RADIUS
    for j in range(n):
        s = 0.0
        for d in range(D):
            v = np.float64(x[d, j])
            s += v * v
        z = STEEP * (s - RADIUS * RADIUS) / (2.0 * RADIUS)
        e = libm.exp(-abs(z))
        sg = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
        sp = e / ((1.0 + e) * (1.0 + e))
        spp = sp * (1.0 - 2.0 * sg)
        c = EPS + HEIGHT * sp * kr
        c2 = HEIGHT * spp * kr * kr
        for a in range(D):
            va = np.float64(x[a, j])
            for b in range(D):
                h[a, b, j] = c2 * va * np.float64(x[b, j]) + (c if a == b else 0.0)


SPEC = ObjectiveSpec(
    name="plateau_cliff",
    value_grad_kernel=plateau_cliff,
    hess_kernel=plateau_cliff_hess,
    dim=None, min_dim=1,
    domain=(-3.0, 3.0),
    formula="0.01 |x|^2 + 5 sigmoid(40 (|x|^2 - 0.25))",
    source="after Goodfellow, Bengio & Courville, Deep Learning (2016) 8.2.4; Pascanu et al., ICML 2013",
    minima=lambda dim, **o: [(np.zeros(dim), F_MIN)],
    f_min=F_MIN,
    starts=((2.5, 1.0), (-2.0, 2.0), (-1.5, -2.5), (2.8, -2.6), (1.0, 0.2)),
    aliases=("cliff", "plateau"),
    notes="GD at lr 0.1 crawls over the plateau, then the rim throws it across the crater",
)
