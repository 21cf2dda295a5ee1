r"""Adadelta, as torch.optim.Adadelta.

.. math::

    &\textbf{input}: \gamma \text{ (lr)}, \theta_0, f, \rho, \lambda \text{ (weight decay)},
        \epsilon, \text{maximize} \\
    &\textbf{init}: v_0 \leftarrow 0 \text{ (square avg)}, \; u_0 \leftarrow 0 \text{ (accumulated update)} \\
    &\textbf{for } t = 1, 2, \ldots: \\
    &\quad g_t \leftarrow \pm\nabla_\theta f(\theta_{t-1}); \quad g_t \leftarrow g_t + \lambda\theta_{t-1} \\
    &\quad v_t \leftarrow \rho v_{t-1} + (1-\rho) g_t^2 \\
    &\quad \Delta x_t \leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
    &\quad u_t \leftarrow \rho u_{t-1} + (1-\rho) \Delta x_t^2 \\
    &\quad \theta_t \leftarrow \theta_{t-1} - \gamma \Delta x_t

eps goes *inside* both square roots (unlike Adam and RMSprop). ``rho = 1`` is
allowed, as in torch. Zeiler's paper has no learning rate (gamma = 1, torch's
default).

Reference: Zeiler, "ADADELTA: An Adaptive Learning Rate Method",
arXiv:1212.5701 (2012).
"""
import math
import sys

from ..engine.ops import fma, like
from ._base import OptimizerSpec, check_bool, check_eps, check_lr, check_weight_decay, require

# The kernel's rows, by name (checked against the spec at registration: _base.check_layout).
# st: torch's per-coordinate state
S_SQUARE_AVG, S_ACC_DELTA = 0, 1
# hp: the per-trajectory hyperparameters
H_LR, H_RHO, H_EPS, H_WEIGHT_DECAY = 0, 1, 2, 3
# hs: maximize.


def init(x, st, sc, hp, hs, n):
    for k in range(2):
        for d in range(x.shape[0]):
            for j in range(n):
                st[k, d, j] = 0.0


def step(x, g, st, sc, hp, hs, t, n):
    maximize = hs[0] != 0.0
    for d in range(x.shape[0]):
        for j in range(n):
            lr = hp[H_LR, j]
            rho = hp[H_RHO, j]
            eps = hp[H_EPS, j]
            wd = hp[H_WEIGHT_DECAY, j]
            xi = x[d, j]
            gi = g[d, j]
            gi = -gi if maximize else gi
            # float32 coordinates: float32 arithmetic, each scalar rounded as torch's (ops.like)
            e = like(eps, xi)
            r = like(rho, xi)
            w = like(1.0 - rho, xi)
            gi = fma(like(wd, xi), xi, gi) if wd != 0.0 else gi
            v = fma(w * gi, gi, st[S_SQUARE_AVG, d, j] * r)
            st[S_SQUARE_AVG, d, j] = v
            u = st[S_ACC_DELTA, d, j] + e
            delta = like(math.sqrt(u), u) / like(math.sqrt(v + e), u) * gi  # float32 roots of float32s
            st[S_ACC_DELTA, d, j] = fma(w * delta, delta, st[S_ACC_DELTA, d, j] * r)
            x[d, j] = fma(like(-lr, xi), delta, xi)


def _validate(v):
    check_lr(v)
    require(v["rho"], lambda a: (a >= 0.0) & (a <= 1.0), "Invalid rho value: {}")
    check_eps(v)
    check_weight_decay(v)
    check_bool(v, "maximize")


SPEC = OptimizerSpec(
    name="adadelta",
    kernels=sys.modules[__name__],
    defaults=dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    vector=("lr", "rho", "eps", "weight_decay"),
    static=("maximize",),
    state=('square_avg', 'acc_delta'),
    validate=_validate,
    summary="Adadelta: step = RMS of past updates / RMS of gradients (torch.optim.Adadelta)",
    torch_name="Adadelta",
    reference="Zeiler, arXiv:1212.5701, 2012",
)
