r"""The minimalist example of the edge of stability: a depth-4 scalar network in two weights.

.. math::

    f(x, y) = \tfrac14\left(x^2 y^2 - 1\right)^2

(Zhu, Wang, Wang, Zhou, Ge, "Understanding Edge-of-Stability Training
Dynamics with a Minimalist Example", ICLR 2023): the squared loss of the
scalar network :math:`x \cdot x \cdot y \cdot y` fitting the target 1.

Its minima are not points but the two hyperbolas :math:`xy = \pm 1` (f = 0);
there the Hessian :math:`\tfrac12 \nabla u \nabla u^\top` (u = x^2 y^2) has
eigenvalues 0 (along the hyperbola) and :math:`2(x^2 + y^2)`, so the
sharpest direction crosses the valley and the sharpness of a minimum grows
with its imbalance: :math:`2\sqrt{(x^2 - y^2)^2 + 4}`, at least 4 (at the
balanced minima (+-1, +-1), listed as ``minima``). The axes x = 0 and
y = 0 are stationary too (f = 1/4, flat along the axis, curving down across
it). None of these stationary points is isolated, so there is no table of
them (``stationary_note``).

Why it is the minimalist example: gradient flow conserves
:math:`x^2 - y^2`, so it ends at the minimum of the same imbalance, whose
sharpness is fixed by the start; from a start near an axis (small y, say)
the sharpness at the start is near 0 and it grows all the way to that
value (progressive sharpening). Gradient descent with step :math:`\eta`
instead multiplies the imbalance by :math:`1 - \eta^2 r^2 x^2 y^2` per step
(r = x^2 y^2 - 1, exact algebra of one step), so while it oscillates across
the valley (r != 0) it slides along it to flatter minima, until the
oscillation dies at a minimum of sharpness just below :math:`2/\eta`: the
sharpness rises to 2/eta, the loss falls non-monotonically, and GD ends at
the edge of stability -- for :math:`\eta < 1/2` (a minimum of sharpness
2/eta exists) and a start whose gradient-flow minimum is sharper than 2/eta.
Zhu et al. prove this in a region around the minimum of sharpness 2/eta and
observe it (with a bifurcation picture) from further away; a too large step
for a given start overshoots and diverges instead (the ``edge_of_stability``
study's page gives the ranges).

Domain [-3, 3]^2 (f reaches 1600 at the corners); global minimum value 0.
"""
import numpy as np

from ._base import ObjectiveSpec


def minimalist_eos(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        r = a * a * b * b - 1.0
        f[j] = 0.25 * r * r
        g[0, j] = r * a * b * b
        g[1, j] = r * a * a * b


def minimalist_eos_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        r = a * a * b * b - 1.0
        h[0, 0, j] = 2.0 * a * a * b * b * b * b + r * b * b
        hxy = 2.0 * a * a * a * b * b * b + 2.0 * r * a * b
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = 2.0 * a * a * a * a * b * b + r * a * a


def minimum_sharpness(x, y):
    """Sharpness 2 sqrt((x^2 - y^2)^2 + 4) of the minimum with the imbalance x^2 - y^2 of (x, y): where
    gradient flow from (x, y) ends (it conserves x^2 - y^2)."""
    d = x * x - y * y
    return 2.0 * (d * d + 4.0) ** 0.5


SPEC = ObjectiveSpec(
    name="minimalist_eos",
    value_grad_kernel=minimalist_eos,
    hess_kernel=minimalist_eos_hess,
    dim=2,
    domain=((-3.0, 3.0), (-3.0, 3.0)),
    formula="(x^2 y^2 - 1)^2 / 4",
    source="Zhu, Wang, Wang, Zhou, Ge, ICLR 2023 (the minimalist example of the edge of stability)",
    minima=(((1.0, 1.0), 0.0), ((-1.0, -1.0), 0.0), ((1.0, -1.0), 0.0), ((-1.0, 1.0), 0.0)),
    f_min=0.0,
    starts=((2.0, 0.01), (2.5, 0.1), (0.1, -2.5), (-1.5, 0.2), (-2.0, -0.5)),
    aliases=("eos_minimalist",),
    notes="minima on the hyperbolas xy = +-1 with sharpness 2(x^2 + y^2); GD ends just below 2/lr",
    stationary_note="not isolated: the minima fill the hyperbolas xy = +-1 (f = 0) and the axes x = 0, y = 0 "
                    "are stationary (f = 1/4)",
)
