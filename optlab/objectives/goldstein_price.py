r"""The Goldstein-Price function: a steep product of two quartics.

.. math::

    f(x, y) = [1 + (x+y+1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]
              \cdot [30 + (2x-3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]

Domain [-2, 2]^2; global minimum f(0, -1) = 3, plus several local minima
(see ``stationary_points``). Values span 3 to ~1e6 over the box: plot it on a
log scale, and expect GD to need a tiny learning rate.
Source: Goldstein & Price, Math. Comp. 25 (1971) 569-574.

With A = 1 + s^2 P (s = x+y+1) and B = 30 + t^2 Q (t = 2x-3y), f = A B,
the derivatives follow from the product rule (P, Q quadratics):
A_x = 2 s P + s^2 P_x, B_x = 4 t Q + t^2 Q_x, B_y = -6 t Q + t^2 Q_y.
"""
import numpy as np

from ._base import ObjectiveSpec


def goldstein_price(x, g, f, p, n, ctx):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        s = a + b + 1.0
        P = 19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b
        Pd = -14.0 + 6.0 * a + 6.0 * b  # P_x = P_y
        A = 1.0 + s * s * P
        Ad = 2.0 * s * P + s * s * Pd  # A_x = A_y
        t = 2.0 * a - 3.0 * b
        Q = 18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b
        Qx = -32.0 + 24.0 * a - 36.0 * b
        Qy = 48.0 - 36.0 * a + 54.0 * b
        B = 30.0 + t * t * Q
        Bx = 4.0 * t * Q + t * t * Qx
        By = -6.0 * t * Q + t * t * Qy
        f[j] = A * B
        g[0, j] = Ad * B + A * Bx
        g[1, j] = Ad * B + A * By


def goldstein_price_hess(x, h, p, n):
    for j in range(n):
        a = np.float64(x[0, j])
        b = np.float64(x[1, j])
        s = a + b + 1.0
        P = 19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b
        Pd = -14.0 + 6.0 * a + 6.0 * b
        A = 1.0 + s * s * P
        Ad = 2.0 * s * P + s * s * Pd
        Add = 2.0 * P + 4.0 * s * Pd + 6.0 * s * s  # A_xx = A_xy = A_yy
        t = 2.0 * a - 3.0 * b
        Q = 18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b
        Qx = -32.0 + 24.0 * a - 36.0 * b
        Qy = 48.0 - 36.0 * a + 54.0 * b
        B = 30.0 + t * t * Q
        Bx = 4.0 * t * Q + t * t * Qx
        By = -6.0 * t * Q + t * t * Qy
        Bxx = 8.0 * Q + 8.0 * t * Qx + 24.0 * t * t
        Bxy = -12.0 * Q + 4.0 * t * Qy - 6.0 * t * Qx - 36.0 * t * t
        Byy = 18.0 * Q - 12.0 * t * Qy + 54.0 * t * t
        h[0, 0, j] = Add * B + 2.0 * Ad * Bx + A * Bxx
        hxy = Add * B + Ad * By + Ad * Bx + A * Bxy
        h[0, 1, j] = hxy
        h[1, 0, j] = hxy
        h[1, 1, j] = Add * B + 2.0 * Ad * By + A * Byy


SPEC = ObjectiveSpec(
    name="goldstein_price",
    value_grad_kernel=goldstein_price,
    hess_kernel=goldstein_price_hess,
    dim=2,
    domain=((-2.0, 2.0), (-2.0, 2.0)),
    formula="[1+(x+y+1)^2(19-14x+3x^2-14y+6xy+3y^2)] [30+(2x-3y)^2(18-32x+12x^2+48y-36xy+27y^2)]",
    source="Goldstein & Price, Math. Comp. 25 (1971)",
    minima=(((0.0, -1.0), 3.0),),
    starts=((-1.5, 1.5), (1.5, 1.5), (0.5, -1.8), (-1.0, -0.5), (1.2, 0.2)),
    aliases=("goldsteinprice",),
    notes="values span six orders of magnitude; several local minima",
)
